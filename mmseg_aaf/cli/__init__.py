# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Command-line entry points of the installed package (console scripts in
setup.py; each also runs as ``python -m mmseg_aaf.cli.<name>``)."""
import sys
import warnings


def error(message: str) -> int:
    """Print ``error: message`` to stderr (the one line a command ends
    with on bad input) and return the exit status 1."""
    print(f'error: {message}', file=sys.stderr)
    return 1


def quiet_setuptools() -> None:
    """Silence setuptools' ``pkg_resources is deprecated`` warning, which
    mmengine triggers when it resolves ``mmseg::`` paths: it is about the
    stack, not the user's input, and would break the one-line errors."""
    warnings.filterwarnings(
        'ignore', message='pkg_resources is deprecated',
        category=UserWarning)
