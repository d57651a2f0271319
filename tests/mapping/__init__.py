"""Tests of collector.mapping."""
