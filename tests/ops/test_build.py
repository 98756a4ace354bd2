# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The fused CPU kernel's build: without a working compiler the package
still installs (the losses then fall back, see test_affinity_field_ops)."""
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.integration
def test_without_a_compiler_the_build_succeeds_and_says_so(tmp_path):
    for name in ('setup.py', 'README.md', 'mmseg_aaf/version.py',
                 'requirements/tests.txt',
                 'mmseg_aaf/ops/csrc/cpu/affinity_field_cpu.cpp'):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    for package in ('mmseg_aaf', 'mmseg_aaf/ops'):
        (tmp_path / package / '__init__.py').touch()
    env = dict(os.environ, CC='/bin/false', CXX='/bin/false')
    proc = subprocess.run([sys.executable, 'setup.py', 'build_ext',
                           '--inplace'], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    notices = [line for line in proc.stderr.splitlines()
               if line.startswith('mmseg_aaf: ')]
    assert len(notices) == 1 and 'the fused CPU kernel was not built' in \
        notices[0] and 'torch implementation' in notices[0]
    assert not list((tmp_path / 'mmseg_aaf' / 'ops').glob('*.so'))
