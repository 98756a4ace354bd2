# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""tools/benchmark_affinity.py: its options; the benchmark itself is
mmseg_aaf.benchmark (tests/benchmark/)."""
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

TOOL = REPO_ROOT / 'tools' / 'benchmark_affinity.py'


def run_tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *args],
                          capture_output=True, text=True, timeout=120)


def test_help_lists_every_option():
    proc = run_tool('--help')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith('usage: benchmark_affinity.py')
    for option in ('--device', '--repeats', '--pspnet-pairs', '--quick',
                   '--skip-pspnet', '--threads', '--suite', '--small',
                   '--json'):
        assert option in proc.stdout
    assert '--memory-case' not in proc.stdout
    assert 'Time and memory of the affinity losses' in proc.stdout


def test_cuda_without_a_gpu_is_a_usage_error():
    import torch
    if torch.cuda.is_available():
        pytest.skip('a CUDA device is present')
    proc = run_tool('--device', 'cuda')
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith('--device cuda needs a CUDA device')
    assert not proc.stdout
