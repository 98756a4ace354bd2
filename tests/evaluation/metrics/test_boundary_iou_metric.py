# Copyright (c) mmseg_aaf contributors. All rights reserved.
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from faster_coco_eval.core import mask as cocomask
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmseg.registry import METRICS

import mmseg_aaf  # noqa: F401
from mmseg_aaf.evaluation.metrics.boundary_iou_metric import (
    INTERSECTION, UNION, BoundaryIoUMetric, band_width, boundary_iou_counts,
    boundary_iou_scores, mask_boundary_band)
from mmseg_aaf.evaluation.per_class_results import load_result_file
from tests.evaluation.metrics.test_boundary_metric import (CLASSES,
                                                          blocky_labels,
                                                          evaluate, sample,
                                                          smooth_labels,
                                                          square_map)

BACKENDS = ('mask_api', 'opencv')


def generated_pairs(seed, shapes, class_counts=(2, 3, 5)):
    """(prediction, ground truth, C) triples of blocky and curved maps with
    ignored pixels (scattered, and a solid block) in the ground truth; the
    prediction is the ground truth moved by a few pixels or an unrelated
    map, never ignored itself."""
    rng = np.random.default_rng(seed)
    for shape in shapes:
        for num_classes in class_counts:
            gt = blocky_labels(rng, shape, num_classes, 4)
            gt[2:9, -12:-4] = 255
            pred = np.roll(gt, (1, 2), axis=(0, 1))
            pred = np.where(pred == 255, rng.integers(0, num_classes, shape),
                            pred)
            yield pred, gt, num_classes
            gt = smooth_labels(rng, shape, num_classes, 0.02)
            gt[-10:-3, 3:11] = 255
            pred = smooth_labels(rng, shape, num_classes)
            pred[:shape[0] // 2] = np.roll(gt, 1, axis=1)[:shape[0] // 2]
            pred = np.where(pred == 255, 0, pred)
            yield pred, gt, num_classes


# ---------------------------------------------------------------- oracles


def oracle_band(mask: np.ndarray, dilation_ratio: float,
                backend: str) -> np.ndarray:
    """The official Boundary IoU band (faster_coco_eval's rleToBoundary);
    the width is computed by the oracle from the mask's size."""
    rle = cocomask.encode(np.asfortranarray(mask.astype(np.uint8)))
    band = cocomask.decode(
        cocomask.rleToBoundary(rle, dilation_ratio, backend=backend))
    assert band.shape == mask.shape
    return band.astype(bool)


def naive_width(height: int, width: int, dilation_ratio: float) -> int:
    return max(1, int(round(dilation_ratio * math.sqrt(height**2 +
                                                       width**2))))


def naive_band(mask: np.ndarray, d: int) -> np.ndarray:
    """A pixel of ``mask`` is in the band iff some pixel within Chebyshev
    distance ``d`` is outside ``mask`` or outside the image (sliding
    window over a frame of "outside" pixels)."""
    mask = np.asarray(mask, dtype=bool)
    height, width = mask.shape
    outside = np.ones((height + 2 * d, width + 2 * d), dtype=bool)
    outside[d:d + height, d:d + width] = ~mask
    near_outside = np.zeros_like(mask)
    for dy in range(2 * d + 1):
        for dx in range(2 * d + 1):
            near_outside |= outside[dy:dy + height, dx:dx + width]
    return mask & near_outside


def naive_counts(pred, gt, num_classes, dilation_ratio, ignore_index=255,
                 mask_pred=True):
    """``(2, C)`` band intersections and unions from :func:`naive_band`."""
    d = naive_width(*gt.shape, dilation_ratio)
    valid = gt != ignore_index
    counts = np.zeros((2, num_classes), dtype=np.int64)
    for cls in range(num_classes):
        gt_band = naive_band(gt == cls, d)
        pred_mask = (pred == cls) & valid if mask_pred else pred == cls
        pred_band = naive_band(pred_mask, d)
        counts[0, cls] = np.count_nonzero(gt_band & pred_band)
        counts[1, cls] = np.count_nonzero(gt_band | pred_band)
    return counts


# ------------------------------------------------------- band vs. oracle


def binary_scenes(shape, seed=0):
    """(name, (H, W) bool mask) of thin lines, touching objects, objects on
    the image border, single pixels, full / empty masks and random maps."""
    height, width = shape
    rng = np.random.default_rng(seed)

    def blank():
        return np.zeros(shape, dtype=bool)

    scenes = []
    m = blank()
    m[height // 2, 3:width - 3] = True
    scenes.append(('hline', m))
    m = blank()
    m[3:height - 3, width // 2] = True
    scenes.append(('vline', m))
    m = blank()
    n = min(shape)
    m[np.arange(n), np.arange(n)] = True
    scenes.append(('diagonal', m))
    m = blank()
    m[np.arange(n), width - 1 - np.arange(n)] = True
    scenes.append(('antidiagonal', m))
    m = blank()
    m[0, :] = True
    scenes.append(('top row', m))
    m = blank()
    m[:, -1] = True
    scenes.append(('last column', m))
    m = blank()
    m[height // 2, width // 3] = True
    scenes.append(('pixel', m))
    m = blank()
    m[0, 0] = True
    scenes.append(('corner pixel', m))
    m = blank()
    m[-1, -1] = True
    scenes.append(('last pixel', m))
    scenes.append(('full', np.ones(shape, dtype=bool)))
    scenes.append(('empty', blank()))
    m = np.ones(shape, dtype=bool)
    m[height // 2, width // 2] = False
    scenes.append(('full with a hole', m))
    m = blank()
    m[4:height - 4, 4:width - 4] = True
    m[8:height - 8, 8:width - 8] = False
    scenes.append(('ring', m))
    m = blank()
    m[:height // 3, :] = True
    scenes.append(('band on the border', m))
    # Two objects of different classes that touch, on a background.
    label = np.zeros(shape, dtype=np.int64)
    label[3:height - 3, 2:width // 2] = 1
    label[5:height - 5, width // 2:width - 2] = 2
    for cls in range(3):
        scenes.append((f'touching objects, class {cls}', label == cls))
    for cls in range(3):
        label = blocky_labels(rng, shape, 3, 3, 0.0)
        scenes.append((f'blocky, class {cls}', label == cls))
        label = smooth_labels(rng, shape, 3)
        scenes.append((f'smooth, class {cls}', label == cls))
    scenes.append(('noise', rng.random(shape) < 0.5))
    return scenes


SCENE_SHAPES = [(37, 53), (53, 37), (64, 64), (24, 90)]


@pytest.mark.parametrize('dilation_ratio', [0.005, 0.02, 0.05, 0.1])
@pytest.mark.parametrize('backend', BACKENDS)
def test_band_equals_official_band(backend, dilation_ratio):
    for shape in SCENE_SHAPES:
        d = band_width(*shape, dilation_ratio)
        # Away from a tie (see test_band_width_rounds_half_to_even) and, for
        # the C++ backend, from its small-image limits (see
        # test_degenerate_sizes_against_the_opencv_band).
        exact = dilation_ratio * math.hypot(*shape)
        assert abs(exact % 1 - 0.5) > 1e-6 and 2 * d < shape[0]
        for name, mask in binary_scenes(shape):
            np.testing.assert_array_equal(
                mask_boundary_band(mask, d),
                oracle_band(mask, dilation_ratio, backend),
                err_msg=f'{name} {shape} d={d}')


def test_band_of_simple_shapes_by_hand():
    # A 1-pixel line is all band; a 7x7 square with d=1 keeps its 5x5
    # interior out, d=3 only its centre; the border of the 9x9 image is a
    # contour, 5 pixels from its centre.
    line = np.zeros((9, 9), dtype=bool)
    line[4, 1:8] = True
    np.testing.assert_array_equal(mask_boundary_band(line, 1), line)
    square = np.zeros((9, 9), dtype=bool)
    square[1:8, 1:8] = True
    assert mask_boundary_band(square, 1).sum() == 49 - 25
    assert mask_boundary_band(square, 3).sum() == 48
    full = np.ones((9, 9), dtype=bool)
    assert mask_boundary_band(full, 1).sum() == 81 - 49
    assert mask_boundary_band(full, 4).sum() == 80
    assert mask_boundary_band(full, 5).sum() == 81
    assert not mask_boundary_band(np.zeros((9, 9), bool), 2).any()
    with pytest.raises(ValueError, match='>= 1'):
        mask_boundary_band(full, 0)


@pytest.mark.parametrize(
    'shape, dilation_ratio, expected',
    [
        # ratio * diagonal is exactly x.5 with x even: Python's round (half
        # to even) gives x, std::round (half away from zero) would give
        # x + 1; both oracles give x.
        ((30, 40), 0.05, 2),  # 2.5
        ((60, 80), 0.025, 2),  # 2.5
        ((30, 40), 0.09, 4),  # 4.5
        ((30, 40), 0.25, 12),  # 12.5
    ])
@pytest.mark.parametrize('backend', BACKENDS)
def test_band_width_rounds_half_to_even(backend, shape, dilation_ratio,
                                        expected):
    assert dilation_ratio * math.hypot(*shape) == expected + 0.5
    assert band_width(*shape, dilation_ratio) == expected
    rng = np.random.default_rng(1)
    for mask in (np.ones(shape, bool), smooth_labels(rng, shape, 2) == 1):
        np.testing.assert_array_equal(
            mask_boundary_band(mask, expected),
            oracle_band(mask, dilation_ratio, backend))
    # The full mask tells the two roundings apart.
    full = np.ones(shape, bool)
    assert (mask_boundary_band(full, expected).sum() <
            mask_boundary_band(full, expected + 1).sum())


def test_odd_half_width_follows_the_official_python_round():
    # 0.03 * 50 = 1.5 and 0.15 * 50 = 7.5: Python's round gives 2 and 8,
    # as the official boundary-iou-api and faster_coco_eval's opencv
    # backend. Its C++ backend computes round(x - 1e-10), which rounds
    # exact halves down (1 and 7); we follow the official rule.
    shape = (30, 40)
    mask = smooth_labels(np.random.default_rng(2), shape, 2) == 1
    for ratio, ours, cxx in ((0.03, 2, 1), (0.15, 8, 7)):
        assert band_width(*shape, ratio) == ours
        np.testing.assert_array_equal(
            mask_boundary_band(mask, ours),
            oracle_band(mask, ratio, 'opencv'))
        np.testing.assert_array_equal(
            mask_boundary_band(mask, cxx),
            oracle_band(mask, ratio, 'mask_api'))


@pytest.mark.parametrize('shape, dilation_ratio', [((1, 17), 0.02),
                                                    ((2, 17), 0.02),
                                                    ((17, 1), 0.02),
                                                    ((1, 1), 0.3),
                                                    ((37, 53), 0.3)])
def test_degenerate_sizes_against_the_opencv_band(shape, dilation_ratio):
    # faster_coco_eval's C++ erosion of column-major runs goes wrong on
    # images of 1 or 2 rows and when 2d >= H (e.g. it keeps interior pixels
    # of a full 1 x 17 mask out of the band); its opencv backend, the
    # official algorithm, is the reference here.
    rng = np.random.default_rng(3)
    d = band_width(*shape, dilation_ratio)
    for mask in (np.ones(shape, bool), rng.random(shape) < 0.6):
        np.testing.assert_array_equal(
            mask_boundary_band(mask, d),
            oracle_band(mask, dilation_ratio, 'opencv'))
        np.testing.assert_array_equal(mask_boundary_band(mask, d),
                                      naive_band(mask, d))
    assert mask_boundary_band(np.ones(shape, bool), d).all()


# ---------------------------------------------------- per-class counts


@pytest.mark.parametrize('dilation_ratio', [0.02, 0.05])
@pytest.mark.parametrize('backend', BACKENDS)
def test_counts_equal_official_bands_with_ignore(backend, dilation_ratio):
    ignore_mattered = False
    for pred, gt, num_classes in generated_pairs(5, [(37, 53), (48, 64)]):
        counts = boundary_iou_counts(pred, gt, num_classes, dilation_ratio,
                                     255)
        assert counts.shape == (2, num_classes)
        valid = gt != 255
        for cls in range(num_classes):
            gt_band = oracle_band(gt == cls, dilation_ratio, backend)
            pred_band = oracle_band((pred == cls) & valid, dilation_ratio,
                                    backend)
            assert counts[INTERSECTION, cls] == np.count_nonzero(
                gt_band & pred_band)
            assert counts[UNION, cls] == np.count_nonzero(gt_band
                                                          | pred_band)
            # Bands of the unmasked prediction would differ somewhere.
            unmasked = oracle_band(pred == cls, dilation_ratio, backend)
            ignore_mattered |= np.count_nonzero(
                gt_band | unmasked) != counts[UNION, cls]
    assert ignore_mattered


def test_ignore_index_is_an_argument():
    pred, gt, num_classes = next(generated_pairs(6, [(37, 53)]))
    relabelled = np.where(gt == 255, num_classes, gt)
    np.testing.assert_array_equal(
        boundary_iou_counts(pred, relabelled, num_classes, 0.05,
                            ignore_index=num_classes),
        boundary_iou_counts(pred, gt, num_classes, 0.05, 255))
    np.testing.assert_array_equal(
        boundary_iou_counts(pred, gt, num_classes, 0.05, 255),
        naive_counts(pred, gt, num_classes, 0.05))


# -------------------------------------------------- dataset aggregation


def test_dataset_aggregation_against_naive_transcription(tmp_path):
    classes = ('a', 'b', 'c', 'never')
    rng = np.random.default_rng(7)
    pairs = []
    for shape in [(37, 53), (30, 40), (64, 48), (21, 21)]:
        gt = blocky_labels(rng, shape, 3, 5)
        pred = np.where(rng.random(shape) < 0.1,
                        rng.integers(0, 3, shape), np.roll(gt, 1, axis=0))
        pairs.append((np.where(pred == 255, 0, pred), gt))
    # An image without class 'c' at all and one fully ignored.
    gt = square_map(size=24)
    pairs.append((square_map(2, size=24), gt))
    pairs.append((square_map(size=24), np.full((24, 24), 255)))
    for ratio in (0.02, 0.05):
        total = sum(naive_counts(p, g, 4, ratio) for p, g in pairs)
        with np.errstate(invalid='ignore', divide='ignore'):
            expected = np.where(total[1] > 0, total[0] / total[1], np.nan)
        assert np.isnan(expected[3]) and not np.isnan(expected[:3]).any()
        expected_mean = round(float(np.nanmean(expected)) * 100, 2)

        out = tmp_path / f'biou_{ratio}.json'
        metric = METRICS.build(
            dict(type='BoundaryIoUMetric', dilation_ratio=ratio,
                 output_file=str(out)))
        metric.dataset_meta = dict(classes=classes)
        for pred, gt in pairs:  # one sample per batch
            metric.process({}, [sample(pred, gt)])
        metrics = metric.evaluate(len(pairs))
        assert metrics == dict(mBIoU=pytest.approx(expected_mean, abs=1e-9))
        assert 0 < metrics['mBIoU'] < 100
        saved = load_result_file(str(out))
        assert saved.classes == list(classes)
        np.testing.assert_allclose(
            saved.per_class['BIoU'], expected * 100, atol=1e-4)
        assert saved.means['BIoU'] == metrics['mBIoU']
        # Not the mean of per-image scores.
        per_image = []
        for p, g in pairs:
            c = naive_counts(p, g, 4, ratio)
            with np.errstate(invalid='ignore', divide='ignore'):
                per_image.append(np.where(c[1] > 0, c[0] / c[1], np.nan))
        with np.errstate(invalid='ignore'), pytest.warns(RuntimeWarning):
            per_image_mean = np.nanmean(np.nanmean(per_image, 0))
        assert abs(per_image_mean * 100 - expected_mean) > 0.01


def test_scores_from_counts():
    counts = np.array([[3, 0, 0], [4, 5, 0]])
    scores = boundary_iou_scores(counts)
    np.testing.assert_array_equal(scores['BIoU'][:2], [0.75, 0.0])
    assert np.isnan(scores['BIoU'][2])


# ------------------------------------------------------------ behaviour


def test_prediction_equal_to_ground_truth_scores_100():
    for pred, gt, num_classes in generated_pairs(8, [(37, 53)]):
        perfect = np.where(gt == 255, pred, gt)  # anything where ignored
        counts = boundary_iou_counts(perfect, gt, num_classes)
        np.testing.assert_array_equal(counts[INTERSECTION], counts[UNION])
        classes = tuple(str(c) for c in range(num_classes))
        metric = BoundaryIoUMetric(dilation_ratio=0.05)
        assert evaluate(metric, [(perfect, gt)], classes) == dict(mBIoU=100.0)
        # and a shifted prediction does not.
        metric = BoundaryIoUMetric(dilation_ratio=0.05)
        assert evaluate(metric, [(pred, gt)], classes)['mBIoU'] < 100


def test_absent_class_is_nan_and_excluded(tmp_path):
    out = tmp_path / 'biou.json'
    pairs = [(square_map(1), square_map())]
    three = evaluate(BoundaryIoUMetric(output_file=str(out)), pairs,
                     ('background', 'square', 'absent'))
    two = evaluate(BoundaryIoUMetric(), pairs)
    assert three == two
    counts = naive_counts(square_map(1), square_map(), 2, 0.02)
    expected = round(float(np.mean(counts[0] / counts[1])) * 100, 2)
    assert three == dict(mBIoU=expected)
    assert 0 < expected < 100
    raw = json.loads(out.read_text())
    assert raw['metrics']['BIoU']['per_class'][2] is None
    assert raw['metrics']['BIoU']['per_class'][1] == pytest.approx(
        100 * counts[0, 1] / counts[1, 1], abs=1e-4)
    saved = load_result_file(str(out))
    assert np.isnan(saved.per_class['BIoU'][2])
    assert saved.means['BIoU'] == expected


def test_predictions_inside_ignored_regions_change_nothing():
    rng = np.random.default_rng(9)
    gt = smooth_labels(rng, (40, 50), 3)
    gt[10:30, 30:45] = 255
    pred = np.roll(gt, 2, axis=1)
    pred = np.where(pred == 255, 1, pred)
    other = pred.copy()
    ignored = gt == 255
    other[ignored] = rng.integers(0, 3, ignored.sum())
    assert (other != pred)[ignored].mean() > 0.5
    counts = boundary_iou_counts(pred, gt, 3, 0.05)
    np.testing.assert_array_equal(boundary_iou_counts(other, gt, 3, 0.05),
                                  counts)
    np.testing.assert_array_equal(counts, naive_counts(pred, gt, 3, 0.05))
    # Without the masking the two predictions would score differently.
    assert not np.array_equal(
        naive_counts(pred, gt, 3, 0.05, mask_pred=False),
        naive_counts(other, gt, 3, 0.05, mask_pred=False))
    classes = ('a', 'b', 'c')
    assert evaluate(BoundaryIoUMetric(dilation_ratio=0.05), [(pred, gt)],
                    classes) == evaluate(
                        BoundaryIoUMetric(dilation_ratio=0.05),
                        [(other, gt)], classes)


def test_class_only_in_prediction_scores_zero(tmp_path):
    classes = ('background', 'square', 'blob')
    pred = square_map()
    pred[1:4, 1:4] = 2
    counts = boundary_iou_counts(pred, square_map(), 3)
    # The 3x3 blob's band: all but its centre.
    assert counts[INTERSECTION, 2] == 0 and counts[UNION, 2] == 8
    out = tmp_path / 'biou.json'
    metrics = evaluate(BoundaryIoUMetric(output_file=str(out)),
                       [(pred, square_map())], classes)
    per_class = load_result_file(str(out)).per_class['BIoU']
    assert per_class[2] == 0.0
    expected = naive_counts(pred, square_map(), 3, 0.02)
    expected = expected[0] / expected[1]
    assert metrics == dict(mBIoU=round(float(expected.mean()) * 100, 2))
    assert metrics['mBIoU'] < 100 * expected[:2].mean() - 1


def test_all_ignored_reports_zero_not_nan():
    gt = np.full((20, 20), 255, dtype=np.int64)
    assert not boundary_iou_counts(square_map(), gt, 2).any()
    metrics = evaluate(BoundaryIoUMetric(), [(square_map(), gt)])
    assert metrics == dict(mBIoU=0.0)
    assert not math.isnan(metrics['mBIoU'])


@pytest.mark.parametrize('dilation_ratio',
                         [0, 1, -0.1, 1.5, True, 'x', None, float('nan')])
def test_bad_dilation_ratio_is_refused(dilation_ratio):
    with pytest.raises(ValueError, match='dilation_ratio'):
        BoundaryIoUMetric(dilation_ratio=dilation_ratio)
    with pytest.raises(ValueError, match='dilation_ratio'):
        boundary_iou_counts(square_map(), square_map(), 2, dilation_ratio)


def test_unknown_argument_is_a_type_error():
    with pytest.raises(TypeError, match='tolerance'):
        BoundaryIoUMetric(tolerance=2)
    with pytest.raises(TypeError):
        METRICS.build(dict(type='BoundaryIoUMetric', dilation=0.02))


def test_bad_maps_are_refused():
    gt = square_map()
    with pytest.raises(ValueError, match='same'):
        boundary_iou_counts(gt[:10], gt, 2)
    with pytest.raises(ValueError, match='same'):
        boundary_iou_counts(gt[None], gt[None], 2)
    with pytest.raises(ValueError, match=r'class id\(s\) \[7\]'):
        boundary_iou_counts(gt, np.where(gt == 1, 7, gt), 2)
    with pytest.raises(ValueError, match='the prediction'):
        boundary_iou_counts(np.where(gt == 1, -1, gt), gt, 2)
    # An ignored label is allowed in the ground truth, not in predictions.
    with pytest.raises(ValueError, match='the prediction'):
        boundary_iou_counts(np.where(gt == 1, 255, gt), gt, 2)
    metric = BoundaryIoUMetric()
    metric.dataset_meta = dict(classes=CLASSES)
    with pytest.raises(ValueError, match='same'):
        metric.process({}, [sample(gt[:, :15], gt)])
    with pytest.raises(ValueError, match='outside'):
        metric.process({}, [sample(gt * 2, gt)])


def test_registered_and_in_an_evaluator_list():
    assert METRICS.get('BoundaryIoUMetric') is BoundaryIoUMetric
    metric = METRICS.build(dict(type='BoundaryIoUMetric'))
    assert metric.dilation_ratio == 0.02 and metric.ignore_index == 255
    pairs = [(square_map(), square_map()), (square_map(2), square_map())]
    # As in a runner of an mmseg config (default_scope = 'mmseg').
    with DefaultScope.overwrite_default_scope('mmseg'):
        evaluator = Evaluator([
            dict(type='IoUMetric'),
            dict(type='BoundaryMetric'),
            dict(type='BoundaryIoUMetric')
        ])
    evaluator.dataset_meta = dict(classes=CLASSES)
    evaluator.process([sample(p, g) for p, g in pairs], {})
    metrics = evaluator.evaluate(len(pairs))
    assert {'aAcc', 'mIoU', 'bFscore', 'mBIoU'} <= set(metrics)
    alone = evaluate(BoundaryIoUMetric(), pairs)
    assert metrics['mBIoU'] == alone['mBIoU']
    assert 0 < metrics['mBIoU'] < 100
    assert 0 < metrics['mIoU'] < 100


def test_benchmark_tables_reads_boundary_iou_files(repo_root, tmp_path):
    classes = ('background', 'square', 'absent')
    files = []
    for name, shift in (('base', 1), ('better', 0)):
        out = tmp_path / f'{name}.json'
        evaluate(BoundaryIoUMetric(output_file=str(out)),
                 [(square_map(shift), square_map())], classes)
        files.append(str(out))
    out_dir = tmp_path / 'tables'
    proc = subprocess.run(
        [sys.executable,
         str(repo_root / 'tools' / 'analysis' / 'benchmark_tables.py')] +
        files + ['--names', 'Base', 'Better', '--baseline', 'Base',
                 '--format', 'md', '--decimals', '2', '--out-dir',
                 str(out_dir)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '\nBIoU\n' in proc.stdout
    table = (out_dir / 'BIoU.md').read_text()
    assert table in proc.stdout
    lines = table.splitlines()
    assert lines[0] == '| Method | background | square | absent | mean |'
    base, better = (load_result_file(f) for f in files)
    b = base.per_class['BIoU']
    assert 0 < b[1] < 100
    assert lines[2] == (f'| Base | {b[0]:.2f} | {b[1]:.2f} | - | '
                        f'{base.means["BIoU"]:.2f} |')
    assert lines[3] == '| Better | 100.00 | 100.00 | - | 100.00 |'
    assert lines[4] == (f'| Better - Base | {100 - b[0]:+.2f} | '
                        f'{100 - b[1]:+.2f} | - | '
                        f'{100 - base.means["BIoU"]:+.2f} |')
