# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""tools/test.py and tools/dist_test.sh on a checkpoint of tools/train.py."""
import json
import sys

import pytest

from tests.conftest import REPO_ROOT, TINY_CONFIG, run_tool, tiny_cfg_options


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
