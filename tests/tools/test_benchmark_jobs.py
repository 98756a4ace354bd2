# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``tools/benchmark_jobs.py`` end to end on a tiny schedule: three
studies, a table of wall times and ratios, and the records of one and of
two runs at once compared (identical)."""
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

SCRIPT = str(REPO_ROOT / 'tools' / 'benchmark_jobs.py')


@pytest.mark.integration
def test_benchmark_jobs_prints_the_ratios_and_compares_the_records(
        tmp_path):
    proc = subprocess.run(
        [sys.executable, SCRIPT, '--iters', '2', '--seeds', '1',
         '--work-dir', str(tmp_path / 'bench')],
        cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for setting in ('--jobs 1 --threads 1', '--jobs 1 --threads 2',
                    '--jobs 2 --threads 1'):
        assert f'| `{setting}` |' in out
    assert '| `--jobs 1 --threads 1` |' in out and '| 1.00x |' in out
    assert '(timings left out): identical' in out
    assert len(list((tmp_path / 'bench').glob('*/records/*/seed0.json'))) \
        == 6


def test_bad_arguments_are_one_error_line(tmp_path):
    proc = subprocess.run([sys.executable, SCRIPT, '--iters', '0'],
                          cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr == 'error: --iters and --seeds must be >= 1\n'
