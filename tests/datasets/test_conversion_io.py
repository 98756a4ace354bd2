# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``run_tasks``: Ctrl-C while worker processes run (the converters'
shared pool, ``mmseg_aaf/datasets/conversion_io.py``)."""
import subprocess
import sys
import textwrap

from tests.conftest import REPO_ROOT

# Task 0 sends Ctrl-C to the parent, task 1 never ends: the parent must
# stop the pool and raise KeyboardInterrupt itself, then put the SIGINT
# handler back. Run in its own interpreter, whose main thread gets the
# signal; it starts from Python's own handler, since a shell that ran the
# suite in the background hands its children SIGINT ignored.
SCRIPT = textwrap.dedent('''
    import os, signal, sys, time
    from mmseg_aaf.datasets.conversion_io import run_tasks

    def task(index):
        if index == 0:
            os.kill(os.getppid(), signal.SIGINT)
            return index
        time.sleep(600)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    began = time.monotonic()
    try:
        run_tasks(task, [0, 1, 1, 1], nproc=2)
    except KeyboardInterrupt:
        print('interrupted after', round(time.monotonic() - began, 1), 's')
    restored = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    print('handler restored' if restored else 'handler NOT restored')
''')


def test_ctrl_c_stops_the_pool_and_reaches_the_caller():
    for _ in range(3):  # the hang this guards against was a rare race
        proc = subprocess.run([sys.executable, '-c', SCRIPT], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        # (after the progress bar, on its line)
        assert 'interrupted after' in proc.stdout
        assert proc.stdout.splitlines()[-1] == 'handler restored'
        assert 'Traceback' not in proc.stderr
