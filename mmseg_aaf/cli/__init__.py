# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Command-line entry points of the installed package (console scripts in
setup.py; each also runs as ``python -m mmseg_aaf.cli.<name>``)."""
import sys


def error(message: str) -> int:
    """Print ``error: message`` to stderr (the one line a command ends
    with on bad input) and return the exit status 1."""
    print(f'error: {message}', file=sys.stderr)
    return 1
