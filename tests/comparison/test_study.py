# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""How the study resolves a config under ``--quick``: 2 iterations of
batch 2, and at most 2 test images, whatever the test split."""
import pytest

from mmseg_aaf.comparison.methods import parse_methods
from mmseg_aaf.comparison.study import (QUICK_TEST_IMAGES, Study,
                                        limit_images, resolved_config)
from tests.comparison.tiny_study import BASELINE


def test_quick_resolves_to_two_iterations_and_two_test_images(tmp_path):
    quick = Study(baseline=BASELINE, methods=parse_methods(['ce']),
                  seeds=[0], work_dir=str(tmp_path), quick=True)
    cfg = resolved_config(BASELINE, quick)
    assert cfg.train_cfg.max_iters == 2
    assert cfg.train_dataloader.batch_size == 2
    assert QUICK_TEST_IMAGES == 2
    assert cfg.test_dataloader.dataset.indices == 2
    full = Study(baseline=BASELINE, methods=parse_methods(['ce']),
                 seeds=[0], work_dir=str(tmp_path))
    assert 'indices' not in resolved_config(BASELINE,
                                            full).test_dataloader.dataset


@pytest.mark.parametrize('dataset, expected', [
    (dict(type='A'), dict(type='A', indices=2)),
    (dict(type='ConcatDataset', datasets=[dict(type='A'), dict(type='B')]),
     dict(type='ConcatDataset', datasets=[dict(type='A', indices=2)])),
    (dict(type='RepeatDataset', times=4, dataset=dict(type='A')),
     dict(type='RepeatDataset', dataset=dict(type='A', indices=2))),
])
def test_limit_images_reaches_the_images_of_wrappers(dataset, expected):
    limit_images(dataset, 2)
    assert dataset == expected
