# Copyright (c) mmseg_aaf contributors. All rights reserved.
import copy
import json

import numpy as np
import pytest
import torch
from mmseg.registry import METRICS

import mmseg_aaf  # noqa: F401
from mmseg_aaf.evaluation.metrics.instance_iou_metric import (
    CITYSCAPES_AVG_CLASS_SIZE, CITYSCAPES_INSTANCE_CLASSES, InstanceIoUMetric,
    cityscapes_iiou_stats, instance_classes, paper_instance_stats)

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


def test_instance_class_tie_goes_to_the_smallest_id():
    inst = np.full((1, 6), 7)
    assert instance_classes(inst, np.array([[2, 2, 1, 1, 255, 255]]),
                            255) == [(7, 1)]
    assert instance_classes(inst, np.array([[0, 2, 2, 1, 1, 0]]),
                            255) == [(7, 0)]


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


def test_cityscapes_ignored_pixels_of_an_instance_do_not_count():
    # A 6-pixel person whose last 2 pixels are ignored: size 4, 3 TP and
    # 1 FN weighted 20 / 4; person predicted on the ignored pixels and on
    # background elsewhere.
    gt = np.array([[1, 1, 1, 1, 255, 255, 0]])
    inst = np.array([[1, 1, 1, 1, 1, 1, 0]])
    pred = np.array([[1, 1, 1, 0, 1, 0, 1]])
    stats = cityscapes_iiou_stats(pred, gt, inst, num_classes=3,
                                  class_ids=[PERSON], avg_sizes=[20.0])
    np.testing.assert_allclose(stats, [[15], [5], [1]])


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


# --- cityscapesScripts as the oracle of definition='cityscapes' -----------
#
# Scenes are drawn the way cityscapesScripts' json2labelImg and
# json2instanceImg draw the annotation polygons: in order, each over the
# previous ones, writing the label id into ``*_gtFine_labelIds.png`` and
# ``label id * 1000 + k`` (k from 0 per class and image) into
# ``*_gtFine_instanceIds.png`` for objects of classes with instances, the
# bare label id for stuff and for group (crowd) regions.

STUFF_IDS = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23)
# Labels without a train id (ignoreInEval): unlabeled, ego vehicle,
# rectification border, out of roi, static, dynamic, ground, parking, rail
# track, guard rail, bridge, tunnel, polegroup.
VOID_IDS = (0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18)
PERSON_ID, RIDER_ID, CAR_ID, TRUCK_ID, BUS_ID = 24, 25, 26, 27, 28
CARAVAN_ID, TRAILER_ID, TRAIN_ID, MOTORCYCLE_ID, BICYCLE_ID = (29, 30, 31,
                                                               32, 33)


@pytest.fixture(scope='module')
def cityscapes():
    """cityscapesScripts' pixel-level evaluation and label table."""
    try:
        from cityscapesscripts.evaluation import \
            evalPixelLevelSemanticLabeling as evaluation
        from cityscapesscripts.helpers import labels
    except ImportError as error:  # pragma: no cover
        raise ImportError('the iIoU oracle needs cityscapesscripts: pip '
                          'install -r requirements/tests.txt') from error
    return evaluation, labels


def draw_scene(rng, height, width, objects):
    """Label ids and instance ids of one image.

    Args:
        objects: ``(label id, group, (y0, y1, x0, x1))`` drawn in order;
            ``group`` marks a crowd region (no instance id). Repeating
            ``(label id, 'same')`` continues the previous instance of that
            class, e.g. an object split in two by an occluder.
    """
    label = rng.choice(STUFF_IDS, size=(height // 8, width // 8))
    label = np.kron(label, np.ones((8, 8), dtype=np.int64))
    voids = rng.choice(VOID_IDS, size=(height // 8, width // 8))
    void_blocks = rng.random((height // 8, width // 8)) < 0.3
    label = np.where(np.kron(void_blocks, np.ones((8, 8), bool)),
                     np.kron(voids, np.ones((8, 8), dtype=np.int64)), label)
    label[-4:, :] = 1  # ego vehicle along the bottom
    label[:, :2] = 2  # rectification border
    instance = label.copy()
    next_k = {}
    for label_id, group, (y0, y1, x0, x1) in objects:
        label[y0:y1, x0:x1] = label_id
        if group is True:
            instance[y0:y1, x0:x1] = label_id
            continue
        if group != 'same':
            next_k[label_id] = next_k.get(label_id, -1) + 1
        instance[y0:y1, x0:x1] = label_id * 1000 + next_k[label_id]
    return label, instance


def cityscapes_scenes():
    """Three 48 x 64 scenes covering what cityscapesScripts treats apart.

    * person, rider, car, motorcycle, bicycle: instances of several sizes,
      some occluded (drawn over), one split in two, the first of each class
      and image numbered ``* 1000 + 0``;
    * person and bicycle groups, and bus only as a group: crowd regions,
      neither true positives nor false negatives (bus is undefined);
    * caravan and trailer: instances of classes that are ignoreInEval;
    * truck: no instance and never predicted (undefined); train: no
      instance but predicted on road (iIoU 0);
    * void labels (ignored) everywhere, predicted as anything.
    """
    rng = np.random.default_rng(11)
    scenes = [
        [(CAR_ID, False, (10, 30, 4, 30)),
         (PERSON_ID, False, (6, 40, 20, 28)),  # in front of the car
         (PERSON_ID, False, (20, 24, 40, 42)),  # 8 px
         (PERSON_ID, True, (30, 40, 44, 60)),  # person group
         (RIDER_ID, False, (8, 26, 50, 56)),
         (BICYCLE_ID, False, (26, 36, 48, 60)),
         (CARAVAN_ID, False, (0, 8, 40, 64)),
         (BUS_ID, True, (36, 44, 2, 12))],
        [(TRAILER_ID, False, (4, 20, 2, 30)),
         (CAR_ID, False, (8, 28, 30, 62)),
         (CAR_ID, False, (16, 40, 4, 22)),
         (MOTORCYCLE_ID, False, (20, 34, 10, 16)),  # on the second car
         (RIDER_ID, False, (12, 24, 10, 16)),
         (PERSON_ID, False, (30, 44, 36, 40)),
         (PERSON_ID, 'same', (30, 44, 46, 49)),  # one person, two parts
         (BICYCLE_ID, True, (36, 44, 50, 62))],
        [(PERSON_ID, False, (2, 12, 2, 5)),
         (CAR_ID, False, (20, 44, 20, 60)),
         (CAR_ID, True, (4, 14, 40, 60)),  # car group
         (CAR_ID, False, (10, 16, 10, 22)),
         (MOTORCYCLE_ID, False, (30, 40, 4, 14))],
    ]
    return [draw_scene(rng, 48, 64, objects) for objects in scenes]


def random_scene_objects(rng, count):
    """``count`` random objects of classes with instances (caravan and
    trailer included), a quarter of them group regions."""
    objects = []
    for _ in range(count):
        y0, x0 = rng.integers(0, 40), rng.integers(0, 56)
        box = (y0, y0 + rng.integers(2, 24), x0, x0 + rng.integers(2, 24))
        objects.append((int(rng.integers(PERSON_ID, BICYCLE_ID + 1)),
                        bool(rng.random() < 0.25), box))
    return objects


def noisy_prediction(rng, train_ids):
    """The ground truth (train ids) with blocks and pixels of wrong
    classes, and any class on the ignored pixels."""
    height, width = train_ids.shape
    pred = np.where(train_ids == 255, rng.integers(0, 19, train_ids.shape),
                    train_ids)
    for _ in range(6):
        y, x = rng.integers(0, height - 8), rng.integers(0, width - 8)
        pred[y:y + rng.integers(3, 9), x:x + rng.integers(3, 9)] = (
            rng.integers(0, 19))
    noise = rng.random(pred.shape) < 0.08
    pred[noise] = rng.integers(0, 19, noise.sum())
    return pred


def evaluate_both(directory, cityscapes, scenes, predict):
    """Evaluate ``scenes`` with cityscapesScripts and with our metric.

    cityscapesScripts reads ``*_gtFine_labelIds.png``, the
    ``*_gtFine_instanceIds.png`` beside them and label-id predictions;
    our metric reads the ``*_gtFine_labelTrainIds.png`` and instance PNGs
    through LoadAnnotations, LoadInstanceAnnotations and
    PackSegInputsWithInstances, and takes train-id predictions, as in a
    test run.

    Args:
        scenes: ``(label ids, instance ids)`` of each image.
        predict: ``predict(label ids, instance ids, train ids)`` gives the
            train-id prediction of an image.

    Returns:
        tuple: The iIoU class names, our per-class values, theirs
        (``classInstScores``), their mean (``averageScoreInstClasses``)
        and the dict our evaluator returned.
    """
    from mmengine.evaluator import Evaluator
    from mmengine.structures import PixelData
    from mmseg.datasets import CityscapesDataset
    from mmseg.registry import TRANSFORMS
    from PIL import Image

    evaluation, labels = cityscapes
    to_train = np.full(256, 255, dtype=np.uint8)
    for label in labels.labels:
        if 0 <= label.id and 0 <= label.trainId < 255:
            to_train[label.id] = label.trainId
    to_label_id = np.array([labels.trainId2label[t].id for t in range(19)])
    pipeline = [
        TRANSFORMS.build(dict(type='LoadAnnotations')),
        TRANSFORMS.build(dict(type='LoadInstanceAnnotations',
                              format='cityscapes')),
        TRANSFORMS.build(dict(type='PackSegInputsWithInstances')),
    ]
    metric = InstanceIoUMetric(definition='cityscapes')
    evaluator = Evaluator([metric])
    evaluator.dataset_meta = CityscapesDataset.METAINFO
    gt_files, pred_files = [], []
    (directory / 'gtFine').mkdir()
    (directory / 'pred').mkdir()
    for index, (label_ids, instance_ids) in enumerate(scenes):
        name = f'city_{index:06d}_000019'
        stem = directory / 'gtFine' / f'{name}_gtFine'
        train_ids = to_train[label_ids]
        pred = predict(label_ids, instance_ids, train_ids)
        Image.fromarray(label_ids.astype(np.uint8)).save(
            f'{stem}_labelIds.png')
        Image.fromarray(train_ids).save(f'{stem}_labelTrainIds.png')
        # 16-bit grey PNGs, like the instanceIds files of gtFine.
        Image.fromarray(instance_ids.astype(np.uint16)).save(
            f'{stem}_instanceIds.png')
        pred_file = directory / 'pred' / f'{name}_pred.png'
        Image.fromarray(to_label_id[pred].astype(np.uint8)).save(pred_file)
        gt_files.append(f'{stem}_labelIds.png')
        pred_files.append(str(pred_file))

        results = dict(seg_map_path=f'{stem}_labelTrainIds.png',
                       reduce_zero_label=False, seg_fields=[])
        for transform in pipeline:
            results = transform(results)
        data_sample = results['data_samples']
        data_sample.pred_sem_seg = PixelData(
            data=torch.from_numpy(pred)[None])
        evaluator.process([data_sample])

    # A copy of the module's settings: quiet, no JSON file, no colours.
    args = copy.copy(evaluation.args)
    args.quiet, args.JSONOutput, args.colorized = True, False, False
    args.evalInstLevelScore, args.evalPixelAccuracy = True, False
    oracle = evaluation.evaluateImgLists(pred_files, gt_files, args)

    names, ours = metric.per_class(metric.results)
    theirs = np.array([oracle['classInstScores'][n] for n in names])
    return (names, ours, theirs, oracle['averageScoreInstClasses'],
            evaluator.evaluate(len(gt_files)))


def test_cityscapes_definition_matches_cityscapesscripts(
        tmp_path, cityscapes):
    """Per-class and mean iIoU equal cityscapesScripts' evaluateImgLists
    to 1e-6 on scenes made to hold each case it treats apart."""
    rng = np.random.default_rng(3)

    def predict(label_ids, instance_ids, train_ids):
        pred = noisy_prediction(rng, train_ids)
        pred[pred == 14] = 0  # truck: never predicted
        bus_group = instance_ids == BUS_ID
        pred[(pred == 15) & ~bus_group] = 0  # bus: only on its group
        pred[bus_group] = 15
        pred[(label_ids == 7) & (rng.random(pred.shape) < 0.2)] = 16  # train
        return pred

    names, ours, theirs, mean, reported = evaluate_both(
        tmp_path, cityscapes, cityscapes_scenes(), predict)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    # The special cases are really there: truck undefined (no instance, no
    # prediction), bus undefined (only a group, predicted only there),
    # train 0 (only false positives).
    assert np.isnan(theirs[names.index('truck')])
    assert np.isnan(theirs[names.index('bus')])
    assert theirs[names.index('train')] == 0
    assert np.isfinite(theirs).sum() == 6
    assert np.nanmean(ours) == pytest.approx(mean, abs=1e-6)
    assert reported == dict(iIoU=round(mean * 100, 2))


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_cityscapes_definition_matches_cityscapesscripts_on_random_scenes(
        tmp_path, cityscapes, seed):
    rng = np.random.default_rng(seed)
    scenes = [
        draw_scene(rng, 48, 64, random_scene_objects(rng, count))
        for count in (4, 7, 10)
    ]
    names, ours, theirs, mean, reported = evaluate_both(
        tmp_path, cityscapes, scenes,
        lambda label_ids, instance_ids, train_ids: noisy_prediction(
            rng, train_ids))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert np.nanmean(ours) == pytest.approx(mean, abs=1e-6)
    assert reported == dict(iIoU=round(mean * 100, 2))


def test_cityscapes_constants_are_cityscapesscripts(cityscapes):
    evaluation, labels = cityscapes
    assert CITYSCAPES_AVG_CLASS_SIZE == evaluation.args.avgClassSize
    assert CITYSCAPES_INSTANCE_CLASSES == tuple(
        label.name for label in labels.labels
        if label.hasInstances and not label.ignoreInEval)
