# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""tools/test.py and tools/dist_test.sh on a checkpoint of tools/train.py."""
import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO_ROOT, TINY_CONFIG, run_tool, tiny_cfg_options

pytestmark = pytest.mark.integration


@pytest.fixture(scope='module')
def checkpoint(tiny_data_root, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('trained')
    run_tool([
        sys.executable,
        str(REPO_ROOT / 'tools' / 'train.py'),
        str(TINY_CONFIG), '--work-dir',
        str(work_dir), '--cfg-options', *tiny_cfg_options(tiny_data_root)
    ], cwd=work_dir)
    return work_dir / 'iter_4.pth'


def _metrics(work_dir):
    results = sorted(work_dir.glob('*/*.json'))
    assert results, f'no metrics json under {work_dir}'
    return json.loads(results[-1].read_text())


@pytest.mark.parametrize('processes', [1, 2])
def test_checkpoint_is_evaluated(checkpoint, tiny_data_root, tmp_path,
                                 processes):
    work_dir = tmp_path / 'test'
    if processes == 1:
        command = [sys.executable, str(REPO_ROOT / 'tools' / 'test.py')]
        command += [str(TINY_CONFIG), str(checkpoint)]
    else:
        command = ['bash', str(REPO_ROOT / 'tools' / 'dist_test.sh')]
        command += [str(TINY_CONFIG), str(checkpoint), '2']
    run_tool(command + ['--work-dir', str(work_dir), '--cfg-options'] +
             tiny_cfg_options(tiny_data_root), cwd=tmp_path,
             env_extra=dict(PORT='29531'))
    metrics = _metrics(work_dir)
    assert {'aAcc', 'mIoU', 'mAcc'} <= metrics.keys()
    assert 0 <= metrics['mIoU'] <= 100


@pytest.mark.parametrize('bad', ['random_bytes', 'missing'])
def test_bad_checkpoint_is_one_error_line(tiny_data_root, tmp_path, bad):
    path = tmp_path / 'iter_4.pth'
    if bad == 'random_bytes':
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools' / 'test.py'),
         str(TINY_CONFIG), str(path), '--work-dir', str(tmp_path / 'work'),
         '--cfg-options', *tiny_cfg_options(tiny_data_root)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 1
    output = proc.stdout + proc.stderr
    assert 'Traceback' not in output and 'will likely succeed' not in output
    [error] = [line for line in proc.stderr.splitlines()
               if 'error' in line.lower()]
    if bad == 'missing':
        assert error == f'error: checkpoint {path} not found'
    else:
        assert error.startswith(f'error: {path} is not a checkpoint that '
                                'loads weights-only (')
        assert error.endswith('it will not be unpickled with '
                              'weights_only=False, which would run any code '
                              'the file holds')
