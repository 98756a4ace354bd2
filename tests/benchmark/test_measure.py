# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The memory subprocess that every case of the full suite runs."""
from types import SimpleNamespace

import pytest

from mmseg_aaf.benchmark.measure import memory_in_subprocess

pytestmark = pytest.mark.integration


def test_memory_case_runs_the_package_module_from_anywhere(
        tmp_path, monkeypatch):
    # Neither the working directory nor an installed plugin is needed:
    # the subprocess finds the package through its PYTHONPATH.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('PYTHONPATH', raising=False)
    args = SimpleNamespace(device='cpu', threads=1, quick=False)
    extra = memory_in_subprocess('ce', 'paper', args)
    # CE on 2x19x64x128 float32 logits needs at least their gradient.
    assert 2 * 19 * 64 * 128 * 4 <= extra < 64 << 20
