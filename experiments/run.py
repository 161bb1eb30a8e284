#!/usr/bin/env python
"""Run the project's experiments: `python experiments/run.py --help` (the CLI is experiments/cli.py)."""

import os
import sys

# Run as a script, Python puts experiments/ first on sys.path, where our module names (data,
# models, ...) could shadow other packages'; the repository root is what belongs there.
HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == HERE:
    sys.path[0] = os.path.dirname(HERE)

from experiments.cli import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        # The reader went away (`run.py --dry-run | head`): stop quietly, as `ls | head` does.
        # Python flushes stdout again at exit: point it at /dev/null so that fails quietly too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
