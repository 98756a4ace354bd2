# Copyright (c) mmseg_aaf contributors. All rights reserved.
import json
import math
import statistics
import sys

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample
from scipy.ndimage import binary_dilation, binary_erosion
from skimage.morphology import skeletonize

import mmseg_aaf  # noqa: F401
from mmseg_aaf.evaluation.metrics.centerline_dice_metric import (
    GT_SKEL, GT_SKEL_IN_PRED, PRED_SKEL, PRED_SKEL_IN_GT,
    CenterlineDiceMetric, centerline_counts, centerline_scores)
from mmseg_aaf.evaluation.per_class_results import load_result_file
from tests.evaluation.metrics.test_boundary_metric import evaluate, sample

VESSEL = ('background', 'vessel')
ARTERY_VEIN = ('background', 'artery', 'vein')

# ------------------------------------------------------- vessel drawings


def draw_segment(mask, p0, p1, width):
    """Draw the segment p0 -> p1 (row, col) into ``mask``: an 8-connected
    one-pixel line for width 1, else every pixel within width / 2 of it."""
    (y0, x0), (y1, x1) = p0, p1
    if width == 1:
        n = int(max(abs(y1 - y0), abs(x1 - x0))) + 1
        rows = np.rint(np.linspace(y0, y1, n)).astype(int)
        cols = np.rint(np.linspace(x0, x1, n)).astype(int)
        keep = ((rows >= 0) & (rows < mask.shape[0]) & (cols >= 0) &
                (cols < mask.shape[1]))
        mask[rows[keep], cols[keep]] = True
        return mask
    yy, xx = np.mgrid[:mask.shape[0], :mask.shape[1]]
    dy, dx = y1 - y0, x1 - x0
    t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / max(dy * dy + dx * dx,
                                                          1e-9), 0, 1)
    dist = np.hypot(yy - (y0 + t * dy), xx - (x0 + t * dx))
    mask |= dist <= width / 2
    return mask


def vessel_tree(shape, rng, widths=(7, 5, 3, 1), root=None):
    """A branching tree from the bottom edge upwards: each branch splits
    in two thinner ones at random angles, down to ``widths[-1]``."""
    mask = np.zeros(shape, dtype=bool)
    height, width = shape
    root = root or (height - 1, width // 2)

    def grow(start, angle, length, level):
        end = (start[0] - length * math.cos(angle),
               start[1] + length * math.sin(angle))
        draw_segment(mask, start, end, widths[level])
        if level + 1 < len(widths):
            for sign in (-1, 1):
                grow(end, angle + sign * rng.uniform(0.3, 0.8),
                     length * rng.uniform(0.6, 0.8), level + 1)

    grow(root, rng.uniform(-0.2, 0.2), height * 0.35, 0)
    return mask


def vessel_scenes(shape=(48, 64), seed=0):
    """(name, (H, W) vessel mask) of straight, branching, broken, touching,
    one-pixel-wide and thick vessels."""
    rng = np.random.default_rng(seed)
    height, width = shape
    scenes = []

    def blank():
        return np.zeros(shape, dtype=bool)

    scenes.append(('straight 1px', draw_segment(blank(), (5, 3), (5, 60),
                                                1)))
    scenes.append(('diagonal 1px', draw_segment(blank(), (2, 2), (45, 50),
                                                1)))
    scenes.append(('straight 3px', draw_segment(blank(), (3, 30), (44, 30),
                                                3)))
    scenes.append(('thick 9px', draw_segment(blank(), (10, 5), (38, 58), 9)))
    scenes.append(('tree', vessel_tree(shape, rng)))
    scenes.append(('one-pixel tree', vessel_tree(shape, rng, (1, 1, 1))))
    broken = vessel_tree(shape, rng)
    broken[20:23, :] = False
    broken[:, 40:42] = False
    scenes.append(('broken tree', broken))
    touching = draw_segment(blank(), (4, 10), (44, 10), 3)
    draw_segment(touching, (4, 13), (44, 13), 3)  # no gap between the two
    draw_segment(touching, (20, 0), (30, 63), 1)  # crossing both
    scenes.append(('touching and crossing', touching))
    scenes.append(('thick tree', vessel_tree(shape, rng, (9, 7, 5))))
    return scenes


def predictions_of(mask, rng):
    """(name, predicted mask): exact, shifted, thinned (thin vessels
    vanish), thickened, cut, with a spurious vessel, empty, noisy."""
    gaps = mask.copy()
    for _ in range(4):
        y, x = rng.integers(0, mask.shape[0] - 4), rng.integers(
            0, mask.shape[1] - 4)
        gaps[y:y + 4, x:x + 4] = False
    spurious = mask | vessel_tree(mask.shape, rng, (3, 1),
                                  root=(mask.shape[0] - 1, 8))
    noisy = mask ^ (rng.random(mask.shape) < 0.05)
    return [('exact', mask), ('shifted', np.roll(mask, (1, 2), (0, 1))),
            ('thinned', binary_erosion(mask)),
            ('thickened', binary_dilation(mask)), ('gaps', gaps),
            ('spurious', spurious), ('empty', np.zeros_like(mask)),
            ('noisy', noisy)]


def generated_pairs(seed=0, ignore=False):
    """(name, prediction, ground truth) label maps of one vessel class
    (0 / 1); with ``ignore`` a block and scattered pixels of the ground
    truth are 255 (the prediction says anything there)."""
    rng = np.random.default_rng(seed)
    for scene, mask in vessel_scenes(seed=seed):
        gt = mask.astype(np.int64)
        if ignore:
            gt[14:26, 20:36] = 255
            gt[rng.random(gt.shape) < 0.02] = 255
        for name, pred in predictions_of(mask, rng):
            yield f'{scene}, {name}', pred.astype(np.int64), gt


def artery_vein_pairs(seed=1):
    """Two vessel classes: arteries (1) and veins (2) that cross and
    touch; predictions swap, drop and shift them."""
    rng = np.random.default_rng(seed)
    for _ in range(3):
        artery = vessel_tree((48, 64), rng, (5, 3, 1), root=(47, 20))
        vein = vessel_tree((48, 64), rng, (5, 3, 1), root=(47, 44))
        gt = np.where(vein, 2, np.where(artery, 1, 0))
        gt[:3, :] = 255
        exact = np.where(gt == 255, 1, gt)  # anything where ignored
        yield exact, gt
        yield np.roll(exact, 1, axis=1), gt
        yield np.where(exact == 2, 0, exact), gt  # veins missed
        yield np.where(exact == 1, 2, exact), gt  # arteries as veins


# ------------------------------------ the independent transcription


def coords(mask):
    return {(int(y), int(x)) for y, x in zip(*np.nonzero(mask))}


def oracle_counts(pred, gt, classes, ignore_index=255):
    """{class: (|S(P)&G|, |S(P)|, |S(G)&P|, |S(G)|)} of one image, by sets
    of pixel coordinates: G the class's ground-truth pixels, P its
    predicted pixels on non-ignored ground truth, S scikit-image's
    skeleton of each set drawn alone."""
    out = {}
    for cls in classes:
        g = coords(gt == cls)
        p = {xy for xy in coords(pred == cls) if gt[xy] != ignore_index}
        canvas_p, canvas_g = np.zeros(gt.shape, bool), np.zeros(gt.shape,
                                                                bool)
        for y, x in p:
            canvas_p[y, x] = True
        for y, x in g:
            canvas_g[y, x] = True
        sp, sg = coords(skeletonize(canvas_p)), coords(skeletonize(canvas_g))
        out[cls] = (len(sp & g), len(sp), len(sg & p), len(sg))
    return out


def oracle_metric(pairs, classes, ignore_index=255):
    """{class: (clDice, Tprec, Tsens)} and the means of the scored classes
    in percent: counts summed over the images, then the ratios."""
    totals = {cls: [0, 0, 0, 0] for cls in classes}
    for pred, gt in pairs:
        for cls, counts in oracle_counts(pred, gt, classes,
                                         ignore_index).items():
            totals[cls] = [a + b for a, b in zip(totals[cls], counts)]
    per_class = {}
    for cls, (sp_in_g, sp, sg_in_p, sg) in totals.items():
        tprec = sp_in_g / sp if sp else math.nan
        tsens = sg_in_p / sg if sg else math.nan
        if not sp and not sg:
            cl = math.nan
        elif not sp or not sg or tprec + tsens == 0:
            cl = 0.0
        else:
            cl = 2 * tprec * tsens / (tprec + tsens)
        per_class[cls] = (cl, tprec, tsens)
    means = {}
    for i, key in enumerate(('clDice', 'Tprec', 'Tsens')):
        defined = [v[i] for v in per_class.values() if not math.isnan(v[i])]
        means[key] = statistics.fmean(defined) * 100 if defined else 0.0
    return per_class, means


def assert_means(metrics, means):
    assert set(metrics) == {'clDice', 'Tprec', 'Tsens'}
    for key, value in means.items():
        assert metrics[key] == pytest.approx(value, abs=0.006), key


# ------------------------------------------------------------ by hand


def line_map(columns, row=3, shape=(7, 10)):
    label = np.zeros(shape, dtype=np.int64)
    label[row, columns] = 1
    return label


def test_one_pixel_line_is_its_own_skeleton():
    gt = line_map(slice(1, 8))
    counts = centerline_counts(gt, gt, 2, [1])
    # 7 pixels: each is on the skeleton of both and inside the other.
    np.testing.assert_array_equal(counts[:, 1], [7, 7, 7, 7])
    assert not counts[:, 0].any()  # the background is not scored
    assert evaluate(CenterlineDiceMetric(), [(gt, gt)], VESSEL) == dict(
        clDice=100.0, Tprec=100.0, Tsens=100.0)


def test_half_a_line_by_hand():
    # Ground truth: 7 pixels; prediction: its first 4. S(P) = P, all in G:
    # Tprec = 4/4; S(G) = G, 4 of its 7 in P: Tsens = 4/7;
    # clDice = 2 (4/7) / (1 + 4/7) = 8/11.
    gt, pred = line_map(slice(1, 8)), line_map(slice(1, 5))
    counts = centerline_counts(pred, gt, 2, [1])
    assert (counts[PRED_SKEL_IN_GT, 1], counts[PRED_SKEL, 1],
            counts[GT_SKEL_IN_PRED, 1], counts[GT_SKEL, 1]) == (4, 4, 4, 7)
    assert evaluate(CenterlineDiceMetric(), [(pred, gt)], VESSEL) == dict(
        clDice=72.73, Tprec=100.0, Tsens=57.14)
    # Swapped: the prediction is the longer line.
    assert evaluate(CenterlineDiceMetric(), [(gt, pred)], VESSEL) == dict(
        clDice=72.73, Tprec=57.14, Tsens=100.0)


def test_parallel_line_next_to_the_vessel_by_hand():
    # The prediction runs one row below a 1-pixel vessel: a Dice of 0 and
    # a clDice of 0, though every predicted pixel touches the vessel.
    gt, pred = line_map(slice(1, 8)), line_map(slice(1, 8), row=4)
    counts = centerline_counts(pred, gt, 2, [1])
    np.testing.assert_array_equal(counts[:, 1], [0, 7, 0, 7])
    assert evaluate(CenterlineDiceMetric(), [(pred, gt)], VESSEL) == dict(
        clDice=0.0, Tprec=0.0, Tsens=0.0)


def test_thick_bar_is_scored_by_its_centerline_by_hand():
    # A 3 x 9 bar. Its skeleton, as Zhang's thinning leaves it (pinned
    # here): the middle row from the first column to the seventh, then one
    # step up: 8 pixels. The prediction, a 1-pixel line along the middle
    # row, 9 long, is its own skeleton, all inside the bar: Tprec = 9/9;
    # it holds 7 of the bar's 8 skeleton pixels: Tsens = 7/8;
    # clDice = 2 (7/8) / (1 + 7/8) = 14/15. Dice would be 2 * 9 / 36 = 50%.
    gt = np.zeros((7, 13), dtype=np.int64)
    gt[2:5, 2:11] = 1
    skeleton = np.zeros_like(gt, dtype=bool)
    skeleton[3, 2:9] = True
    skeleton[2, 9] = True
    np.testing.assert_array_equal(skeletonize(gt == 1), skeleton)
    pred = np.zeros_like(gt)
    pred[3, 2:11] = 1
    counts = centerline_counts(pred, gt, 2, [1])
    np.testing.assert_array_equal(counts[:, 1], [9, 9, 7, 8])
    assert evaluate(CenterlineDiceMetric(), [(pred, gt)], VESSEL) == dict(
        clDice=93.33, Tprec=100.0, Tsens=87.5)


def test_counts_are_summed_over_the_dataset_by_hand():
    # Image 1: a perfect 10-pixel vessel. Image 2: a 5-pixel vessel
    # missed. Summed: Tprec = 10/10, Tsens = 10/15, clDice = 0.8; the mean
    # of the per-image scores would be (100 + 0) / 2 = 50.
    first = line_map(slice(0, 10), shape=(5, 12))
    second = line_map(slice(2, 7), shape=(5, 12))
    pairs = [(first, first), (np.zeros_like(second), second)]
    metrics = evaluate(CenterlineDiceMetric(), pairs, VESSEL)
    assert metrics == dict(clDice=80.0, Tprec=100.0, Tsens=66.67)


# ---------------------------------------- against the transcription


@pytest.mark.parametrize('ignore', [False, True])
def test_counts_equal_the_transcription_on_vessel_scenes(ignore):
    names, ignore_mattered = 0, False
    for name, pred, gt in generated_pairs(seed=3, ignore=ignore):
        counts = centerline_counts(pred, gt, 2, [1])
        expected = oracle_counts(pred, gt, [1])[1]
        assert tuple(counts[:, 1]) == expected, name
        names += 1
        if ignore:
            # Unmasked, the prediction's skeleton would differ.
            unmasked = np.count_nonzero(skeletonize(pred == 1))
            ignore_mattered |= unmasked != expected[1]
    assert names == 9 * 8
    assert ignore_mattered or not ignore


@pytest.mark.parametrize('ignore', [False, True])
def test_dataset_scores_equal_the_transcription(ignore, tmp_path):
    pairs = [(p, g) for _, p, g in generated_pairs(seed=4, ignore=ignore)]
    per_class, means = oracle_metric(pairs, [1])
    assert 0 < means['clDice'] < 100
    out = tmp_path / 'cldice.json'
    metrics = evaluate(CenterlineDiceMetric(output_file=str(out)), pairs,
                       VESSEL)
    assert_means(metrics, means)
    saved = load_result_file(str(out))
    assert saved.classes == list(VESSEL)
    for i, key in enumerate(('clDice', 'Tprec', 'Tsens')):
        assert np.isnan(saved.per_class[key][0])  # background: not scored
        assert saved.per_class[key][1] == pytest.approx(
            per_class[1][i] * 100, abs=1e-4)
        assert saved.means[key] == metrics[key]
    # Not the mean of per-image scores.
    per_image = [oracle_metric([pair], [1])[1]['clDice'] for pair in pairs]
    assert abs(statistics.fmean(per_image) - means['clDice']) > 1


@pytest.mark.parametrize('scene', [s for s, _ in vessel_scenes()])
def test_each_vessel_scene_alone(scene):
    """Every scene with every kind of prediction, one image at a time."""
    for name, pred, gt in generated_pairs(seed=5):
        if not name.startswith(scene + ','):
            continue
        _, means = oracle_metric([(pred, gt)], [1])
        metrics = evaluate(CenterlineDiceMetric(), [(pred, gt)], VESSEL)
        assert_means(metrics, means)
        if name.endswith('exact'):
            assert metrics == dict(clDice=100.0, Tprec=100.0, Tsens=100.0)


def test_two_vessel_classes_against_the_transcription():
    pairs = list(artery_vein_pairs())
    per_class, means = oracle_metric(pairs, [1, 2])
    assert per_class[1][0] != per_class[2][0]
    metrics = evaluate(CenterlineDiceMetric(), pairs, ARTERY_VEIN)
    assert_means(metrics, means)
    for pred, gt in pairs:
        counts = centerline_counts(pred, gt, 3, [1, 2])
        for cls, expected in oracle_counts(pred, gt, [1, 2]).items():
            assert tuple(counts[:, cls]) == expected


def test_scores_from_counts():
    # Columns: perfect; half found; only predicted; only in the ground
    # truth; nothing anywhere; skeletons on both sides that miss.
    counts = np.array([[4, 2, 0, 0, 0, 0],
                       [4, 2, 3, 0, 0, 5],
                       [4, 1, 0, 0, 0, 0],
                       [4, 2, 0, 6, 0, 2]])
    scores = centerline_scores(counts)
    np.testing.assert_allclose(scores['clDice'][:4], [1, 2 / 3, 0, 0])
    assert scores['clDice'][5] == 0 and np.isnan(scores['clDice'][4])
    np.testing.assert_allclose(scores['Tprec'][[0, 1, 2, 5]], [1, 1, 0, 0])
    assert np.isnan(scores['Tprec'][[3, 4]]).all()
    np.testing.assert_allclose(scores['Tsens'][[0, 1, 3, 5]],
                               [1, 0.5, 0, 0])
    assert np.isnan(scores['Tsens'][[2, 4]]).all()


# ---------------------------------------------- ignore, classes, empty


def test_predictions_inside_ignored_regions_change_nothing():
    # The vessel runs into an ignored region: cut there in both masks.
    gt = line_map(slice(1, 8))
    gt[3, 5:8] = 255
    gt[5, 2:6] = 255
    pred = line_map(slice(1, 8))
    assert evaluate(CenterlineDiceMetric(), [(pred, gt)], VESSEL) == dict(
        clDice=100.0, Tprec=100.0, Tsens=100.0)
    np.testing.assert_array_equal(
        centerline_counts(pred, gt, 2, [1])[:, 1], [4, 4, 4, 4])
    other = pred.copy()
    other[5, 2:6] = 1  # a spurious vessel, all on ignored pixels
    np.testing.assert_array_equal(centerline_counts(other, gt, 2, [1]),
                                  centerline_counts(pred, gt, 2, [1]))
    # Unmasked, the prediction's skeleton would hold 7 + 4 pixels.
    assert np.count_nonzero(skeletonize(other == 1)) == 11


def test_ignore_index_is_an_argument():
    _, pred, gt = next(generated_pairs(seed=6, ignore=True))
    relabelled = np.where(gt == 255, 2, gt)
    np.testing.assert_array_equal(
        centerline_counts(pred, relabelled, 2, [1], ignore_index=2),
        centerline_counts(pred, gt, 2, [1]))
    metric = CenterlineDiceMetric(ignore_index=2)
    assert evaluate(metric, [(pred, relabelled)], VESSEL) == evaluate(
        CenterlineDiceMetric(), [(pred, gt)], VESSEL)


def test_class_selection():
    pairs = list(artery_vein_pairs())
    per_class, _ = oracle_metric(pairs, [0, 1, 2])
    both = evaluate(CenterlineDiceMetric(), pairs, ARTERY_VEIN)
    assert both == evaluate(CenterlineDiceMetric(classes=[1, 2]), pairs,
                            ARTERY_VEIN)
    for selection in ([2], ['vein'], (2, )):
        metrics = evaluate(CenterlineDiceMetric(classes=selection), pairs,
                           ARTERY_VEIN)
        assert metrics['clDice'] == pytest.approx(per_class[2][0] * 100,
                                                  abs=0.006)
    background = evaluate(CenterlineDiceMetric(classes=['background']),
                          pairs, ARTERY_VEIN)
    assert background['clDice'] == pytest.approx(per_class[0][0] * 100,
                                                 abs=0.006)
    assert len({both['clDice'], background['clDice'],
                round(per_class[2][0] * 100, 2)}) == 3


@pytest.mark.parametrize('classes, match', [
    ([3], r'outside \[0, 3\)'), ([-1], 'outside'), (['capillary'],
                                                    'capillary'),
    ([1, 'artery'], 'twice'),
])
def test_bad_class_selection_is_refused(classes, match):
    metric = CenterlineDiceMetric(classes=classes)
    metric.dataset_meta = dict(classes=ARTERY_VEIN)
    with pytest.raises(ValueError, match=match):
        metric.process({}, [sample(*next(artery_vein_pairs()))])


@pytest.mark.parametrize('classes', [[], 1, 'vessel', [1.0], [True]])
def test_bad_classes_argument_is_refused_at_build(classes):
    with pytest.raises(ValueError, match='classes'):
        CenterlineDiceMetric(classes=classes)


def test_default_needs_a_foreground_class():
    metric = CenterlineDiceMetric()
    metric.dataset_meta = dict(classes=('background', ))
    gt = np.zeros((5, 5), np.int64)
    with pytest.raises(ValueError, match='every class but 0'):
        metric.process({}, [sample(gt, gt)])


def test_empty_prediction_scores_zero(tmp_path):
    gt = line_map(slice(1, 8))
    out = tmp_path / 'cldice.json'
    metrics = evaluate(CenterlineDiceMetric(output_file=str(out)),
                       [(np.zeros_like(gt), gt)], VESSEL)
    # Tprec is undefined (no predicted skeleton) and left out of its mean.
    assert metrics == dict(clDice=0.0, Tprec=0.0, Tsens=0.0)
    raw = json.loads(out.read_text())['metrics']
    assert raw['clDice']['per_class'] == [None, 0.0]
    assert raw['Tprec']['per_class'] == [None, None]
    assert raw['Tsens']['per_class'] == [None, 0.0]


def test_class_absent_everywhere_is_nan_and_left_out():
    pairs = [(line_map(slice(1, 5)), line_map(slice(1, 8)))]
    three = evaluate(CenterlineDiceMetric(), pairs,
                     ('background', 'vessel', 'absent'))
    assert three == evaluate(CenterlineDiceMetric(), pairs, VESSEL)
    assert three['clDice'] == 72.73
    # Only predicted: 0, and in the mean.
    pred = line_map(slice(1, 5))
    pred[5, 1:8] = 2
    three = evaluate(CenterlineDiceMetric(), [(pred, line_map(slice(1, 8)))],
                     ('background', 'vessel', 'absent'))
    assert three['clDice'] == round(800 / 11 / 2, 2) == 36.36


def test_all_ignored_reports_zero_not_nan():
    gt = np.full((9, 9), 255, dtype=np.int64)
    pred = line_map(slice(1, 8), shape=(9, 9))
    assert not centerline_counts(pred, gt, 2, [1]).any()
    metrics = evaluate(CenterlineDiceMetric(), [(pred, gt)], VESSEL)
    assert metrics == dict(clDice=0.0, Tprec=0.0, Tsens=0.0)


def test_bad_maps_are_refused():
    gt = line_map(slice(1, 8))
    with pytest.raises(ValueError, match='same'):
        centerline_counts(gt[:5], gt, 2, [1])
    with pytest.raises(ValueError, match=r'class id\(s\) \[7\]'):
        centerline_counts(gt, np.where(gt == 1, 7, gt), 2, [1])
    with pytest.raises(ValueError, match='the prediction'):
        centerline_counts(np.where(gt == 1, 255, gt), gt, 2, [1])
    metric = CenterlineDiceMetric()
    metric.dataset_meta = dict(classes=VESSEL)
    with pytest.raises(ValueError, match='same'):
        metric.process({}, [sample(gt[:, :5], gt)])


def test_unknown_argument_is_a_type_error():
    with pytest.raises(TypeError, match='dilation_ratio'):
        CenterlineDiceMetric(dilation_ratio=0.02)


def test_missing_scikit_image_is_named(monkeypatch):
    # A None entry in sys.modules makes the import fail as if absent.
    monkeypatch.setitem(sys.modules, 'skimage.morphology', None)
    with pytest.raises(ImportError, match='pip install scikit-image'):
        CenterlineDiceMetric()
    with pytest.raises(ImportError, match='scikit-image'):
        METRICS.build(dict(type='CenterlineDiceMetric'))


# ------------------------------------------------------- in an evaluator


def seg_data_sample(pred, gt):
    data_sample = SegDataSample()
    data_sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None])
    data_sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None])
    return data_sample


def test_registered_and_in_an_evaluator_beside_iou_metric():
    assert METRICS.get('CenterlineDiceMetric') is CenterlineDiceMetric
    pairs = [(p, g) for _, p, g in generated_pairs(seed=7, ignore=True)]
    _, means = oracle_metric(pairs, [1])
    # As in a runner of an mmseg config (default_scope = 'mmseg').
    with DefaultScope.overwrite_default_scope('mmseg'):
        evaluator = Evaluator([
            dict(type='IoUMetric', iou_metrics=['mIoU', 'mDice']),
            dict(type='CenterlineDiceMetric')
        ])
    evaluator.dataset_meta = dict(classes=VESSEL)
    for start in range(0, len(pairs), 4):  # batches of 4, the last shorter
        evaluator.process(
            [seg_data_sample(p, g) for p, g in pairs[start:start + 4]], {})
    metrics = evaluator.evaluate(len(pairs))
    assert set(metrics) == {
        'aAcc', 'mAcc', 'mIoU', 'mDice', 'clDice', 'Tprec', 'Tsens'
    }
    assert_means({k: metrics[k] for k in ('clDice', 'Tprec', 'Tsens')},
                 means)
    assert 0 < metrics['clDice'] < 100 and 0 < metrics['mDice'] < 100
    # The same numbers as the metric alone on plain dicts.
    alone = evaluate(CenterlineDiceMetric(), pairs, VESSEL)
    assert {k: metrics[k] for k in alone} == alone
