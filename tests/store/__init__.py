"""The store contract suite: every Store method, run against each selected backend."""
