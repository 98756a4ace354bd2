# Copyright (c) mmseg_aaf contributors. All rights reserved.
import json

import numpy as np
import pytest
import torch
from mmseg.registry import METRICS

import mmseg_aaf  # noqa: F401
from mmseg_aaf.evaluation.metrics.instance_iou_metric import (
    CITYSCAPES_AVG_CLASS_SIZE, InstanceIoUMetric, cityscapes_iiou_stats,
    instance_classes, paper_instance_stats)

CLASSES = ('background', 'person', 'car')
BG, PERSON, CAR, IGNORE = 0, 1, 2, 255


def first_image():
    """Two persons of different sizes and a car, with a hand-made
    prediction.

    GT (10 x 10):
      A person, rows 0-1, cols 0-4: 10 px, instance 1
      B person, rows 4-9, cols 0-4: 30 px, instance 2
      C car,    rows 4-9, cols 6-9: 24 px, instance 3
      ignore,   row 3,    cols 5-9: 5 px
    Prediction, background unless said:
      A: row 0 person (5 TP), row 1 background (5 FN)
      B: all person (30 TP)
      C: cols 6-8 car (18 TP), col 9 person (6 FN for car, 6 FP for person)
      row 2, cols 5-9 (GT background): car (5 FP for car)
      row 3, cols 5-9 (ignored): person (does not count)
    """
    gt = np.zeros((10, 10), dtype=np.int64)
    inst = np.zeros_like(gt)
    gt[0:2, 0:5], inst[0:2, 0:5] = PERSON, 1
    gt[4:10, 0:5], inst[4:10, 0:5] = PERSON, 2
    gt[4:10, 6:10], inst[4:10, 6:10] = CAR, 3
    gt[3, 5:10] = IGNORE
    pred = np.zeros_like(gt)
    pred[0, 0:5] = PERSON
    pred[4:10, 0:5] = PERSON
    pred[4:10, 6:9] = CAR
    pred[4:10, 9] = PERSON
    pred[2, 5:10] = CAR
    pred[3, 5:10] = PERSON
    return pred, gt, inst


def second_image():
    """One 4-pixel person, predicted perfectly."""
    gt = np.zeros((4, 4), dtype=np.int64)
    inst = np.zeros_like(gt)
    gt[0:2, 0:2], inst[0:2, 0:2] = PERSON, 7
    return gt.copy(), gt, inst


def sample(pred, gt, inst):
    return dict(
        pred_sem_seg=dict(data=torch.from_numpy(pred)[None]),
        gt_sem_seg=dict(data=torch.from_numpy(gt)[None]),
        gt_instance_seg=dict(data=torch.from_numpy(inst)[None]))


def evaluate(metric, images, classes=CLASSES):
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, [sample(*image) for image in images])
    return metric.evaluate(len(images))


def test_instance_class_is_the_majority_label():
    gt = np.array([[1, 1, 2, 255, 255]])
    inst = np.array([[4, 4, 4, 4, 4]])
    assert instance_classes(inst, gt, 255) == [(4, 1)]
    # Only ignored pixels: the instance has no class.
    assert instance_classes(np.array([[0, 0, 0, 5, 5]]), gt, 255) == []


def test_paper_definition_one_image():
    # person: GT 40 px, predicted 5 + 30 + 6 = 41 px, 35 shared:
    #   IoU = 35 / (40 + 41 - 35) = 35 / 46, 2 instances
    # car: GT 24, predicted 18 + 5 = 23, 18 shared: IoU = 18 / 29, 1 inst.
    stats = paper_instance_stats(*first_image(), num_classes=3)
    np.testing.assert_allclose(stats[1], [0, 2, 1])
    np.testing.assert_allclose(stats[0], [0, 2 * 35 / 46, 18 / 29])
    metrics = evaluate(InstanceIoUMetric(definition='paper'), [first_image()])
    # Background has no instance and stays out of the mean.
    expected = round((35 / 46 + 18 / 29) / 2 * 100, 2)
    assert metrics == dict(mIoU_instance=expected) == dict(
        mIoU_instance=69.08)


def test_paper_definition_weights_images_by_instance_count(tmp_path):
    # person: (2 * 35/46 + 1 * 1.0) / 3; car only in image 1: 18/29.
    out = tmp_path / 'inst.json'
    metric = InstanceIoUMetric(definition='paper', output_file=str(out))
    metrics = evaluate(metric, [first_image(), second_image()])
    person = (2 * 35 / 46 + 1.0) / 3
    car = 18 / 29
    assert metrics == dict(mIoU_instance=round((person + car) / 2 * 100, 2))
    assert metrics['mIoU_instance'] == 73.06
    saved = json.loads(out.read_text())
    assert saved['classes'] == list(CLASSES)
    per_class = saved['metrics']['IoU_instance']['per_class']
    assert per_class[0] is None
    assert per_class[1:] == pytest.approx([person * 100, car * 100], abs=1e-3)


def test_cityscapes_definition_one_image():
    # Average sizes: person 20, car 24.
    # person A: 10 px, 5 TP, weight 20/10 = 2 -> wTP 10, wFN 10
    # person B: 30 px, 30 TP, weight 20/30   -> wTP 20, wFN 0
    # person FP: col 9 of the car (6 px); the ignored row does not count
    # car C: 24 px, 18 TP, weight 24/24 = 1  -> wTP 18, wFN 6
    # car FP: row 2 on background (5 px)
    sizes = dict(person=20.0, car=24.0)
    stats = cityscapes_iiou_stats(*first_image(), num_classes=3,
                                  class_ids=[PERSON, CAR],
                                  avg_sizes=[20.0, 24.0])
    np.testing.assert_allclose(stats, [[30, 18], [10, 6], [6, 5]])
    metric = InstanceIoUMetric(definition='cityscapes',
                               iiou_classes=('person', 'car'),
                               avg_class_size=sizes)
    metrics = evaluate(metric, [first_image()])
    expected = round((30 / 46 + 18 / 29) / 2 * 100, 2)
    assert metrics == dict(iIoU=expected) == dict(iIoU=63.64)


def test_cityscapes_definition_two_images():
    # The second person (4 px, all TP) weighs 20/4 = 5: wTP += 20, so
    # person = 50 / (50 + 10 + 6).
    metric = InstanceIoUMetric(definition='cityscapes',
                               iiou_classes=('person', 'car'),
                               avg_class_size=dict(person=20.0, car=24.0))
    metrics = evaluate(metric, [first_image(), second_image()])
    assert metrics == dict(iIoU=round((50 / 66 + 18 / 29) / 2 * 100, 2))


def test_cityscapes_default_sizes_and_classes():
    assert CITYSCAPES_AVG_CLASS_SIZE['person'] == pytest.approx(3462.4756,
                                                                abs=1e-3)
    assert CITYSCAPES_AVG_CLASS_SIZE['car'] == pytest.approx(12794.0203,
                                                             abs=1e-3)
    metric = InstanceIoUMetric(definition='cityscapes')
    metric.dataset_meta = dict(classes=CLASSES)
    with pytest.raises(ValueError, match='rider'):
        metric.process({}, [sample(*first_image())])


def test_no_instances_reports_zero():
    gt = np.zeros((4, 4), dtype=np.int64)
    metrics = evaluate(InstanceIoUMetric(), [(gt, gt, np.zeros_like(gt))])
    assert metrics == dict(mIoU_instance=0.0)


def test_missing_instance_map_names_the_transforms():
    pred, gt, _ = first_image()
    metric = InstanceIoUMetric()
    metric.dataset_meta = dict(classes=CLASSES)
    data_sample = sample(pred, gt, gt)
    del data_sample['gt_instance_seg']
    with pytest.raises(KeyError, match='LoadInstanceAnnotations'):
        metric.process({}, [data_sample])


def test_mismatched_shapes_are_refused():
    pred, gt, inst = first_image()
    with pytest.raises(ValueError, match='share one'):
        paper_instance_stats(pred, gt, inst[:5], 3)
    with pytest.raises(ValueError, match=r'the prediction .*\[255\]'):
        paper_instance_stats(np.where(gt == 255, 255, pred), gt, inst, 3)


@pytest.mark.parametrize('kwargs', [
    dict(definition='voc'),
    dict(iiou_classes='person'),
    dict(avg_class_size=dict(person=0)),
])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        InstanceIoUMetric(**kwargs)


def test_registered():
    metric = METRICS.build(dict(type='InstanceIoUMetric',
                                definition='cityscapes'))
    assert metric.metric_name == 'iIoU'
