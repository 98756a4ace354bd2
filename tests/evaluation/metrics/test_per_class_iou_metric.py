# Copyright (c) mmseg_aaf contributors. All rights reserved.
import numpy as np
import pytest
import torch
from mmseg.registry import METRICS

import mmseg_aaf  # noqa: F401
from mmseg_aaf.evaluation import load_result_file


def test_writes_per_class_iou_and_returns_iou_metric_keys(tmp_path):
    out = tmp_path / 'iou.json'
    metric = METRICS.build(
        dict(type='PerClassIoUMetric', output_file=str(out)))
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    # a: 2 shared of union 3; b: 1 of 2; c: predicted only on the ignored
    # pixel, so absent (NaN).
    gt = torch.tensor([[[0, 0, 1, 1, 255]]])
    pred = torch.tensor([[[0, 0, 0, 1, 2]]])
    metric.process({}, [dict(pred_sem_seg=dict(data=pred),
                             gt_sem_seg=dict(data=gt))])
    metrics = metric.evaluate(1)
    # IoU a = 2/3, b = 1/2; mean 58.33. Acc a = 1, b = 1/2.
    assert set(metrics) == {'aAcc', 'mIoU', 'mAcc'}
    assert metrics['mIoU'] == pytest.approx(58.33)
    result = load_result_file(str(out))
    assert result.classes == ['a', 'b', 'c']
    np.testing.assert_allclose(result.per_class['IoU'][:2], [66.6667, 50.0],
                               atol=1e-3)
    assert np.isnan(result.per_class['IoU'][2])
    assert result.means['IoU'] == pytest.approx(metrics['mIoU'])
    assert result.means['Acc'] == pytest.approx(metrics['mAcc'])
