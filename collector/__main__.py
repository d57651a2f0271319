"""`python -m collector` runs the command-line interface."""

from collector.cli import main

raise SystemExit(main())
