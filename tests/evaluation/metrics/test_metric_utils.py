# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The label check every metric of the package runs on its maps."""
import numpy as np
import pytest

from mmseg_aaf.evaluation.metrics.boundary_metric import boundary_counts
from mmseg_aaf.evaluation.metrics.instance_iou_metric import \
    paper_instance_stats
from mmseg_aaf.evaluation.metrics.metric_utils import check_label_range

NUM_CLASSES = 3


def _maps():
    gt = np.zeros((8, 8), np.int64)
    gt[2:6, 2:6] = 1
    gt[0, :] = 255
    return gt, np.where(gt == 255, 2, gt)


def test_the_id_num_classes_is_out_of_range():
    # The first id past the classes, the one an off-by-one lets through.
    label = np.array([[0, 1, NUM_CLASSES - 1, 255]])
    check_label_range(label, NUM_CLASSES, 255, 'the ground truth')
    label[0, 0] = NUM_CLASSES
    with pytest.raises(ValueError, match=r'class id\(s\) \[3\] outside'):
        check_label_range(label, NUM_CLASSES, 255, 'the ground truth')


@pytest.mark.parametrize('which', ['gt', 'pred'])
@pytest.mark.parametrize('metric', ['boundary', 'instance'])
def test_metrics_refuse_the_id_num_classes(metric, which):
    gt, pred = _maps()
    if which == 'gt':
        gt[7, 7] = NUM_CLASSES
    else:
        pred[7, 7] = NUM_CLASSES
    name = 'the ground truth' if which == 'gt' else 'the prediction'
    with pytest.raises(ValueError, match=f'{name} holds class id'):
        if metric == 'boundary':
            boundary_counts(pred, gt, NUM_CLASSES)
        else:
            paper_instance_stats(pred, gt, (gt == 1).astype(np.int64),
                                 NUM_CLASSES)
