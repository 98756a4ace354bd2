# Copyright (c) mmseg_aaf contributors. All rights reserved.
import json
import math

import numpy as np
import pytest
import torch
from mmseg.registry import METRICS

import mmseg_aaf  # noqa: F401
from mmseg_aaf.evaluation.metrics.boundary_metric import (
    MATCHED_GT, MATCHED_PRED, TOTAL_GT, TOTAL_PRED, BoundaryMetric,
    boundary_counts, boundary_scores, semantic_boundaries)

CLASSES = ('background', 'square')


def square_map(shift: int = 0, size: int = 20) -> np.ndarray:
    """Class 1 on rows 7..12 and columns 7+shift..12+shift."""
    label = np.zeros((size, size), dtype=np.int64)
    label[7:13, 7 + shift:13 + shift] = 1
    return label


def sample(pred: np.ndarray, gt: np.ndarray) -> dict:
    return dict(
        pred_sem_seg=dict(data=torch.from_numpy(pred)[None]),
        gt_sem_seg=dict(data=torch.from_numpy(gt)[None]))


def evaluate(metric: BoundaryMetric, pairs, classes=CLASSES) -> dict:
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, [sample(pred, gt) for pred, gt in pairs])
    return metric.evaluate(len(pairs))


def test_boundary_is_the_inner_ring_on_each_side():
    gt = square_map()
    boundary = semantic_boundaries(gt)
    square_ring = boundary & (gt == 1)
    # The 6x6 square's outline: 4 * 6 - 4 pixels.
    assert square_ring.sum() == 20
    assert not square_ring[8:12, 8:12].any()
    # Background pixels 4-adjacent to the square: 6 per side, no corners.
    assert (boundary & (gt == 0)).sum() == 24
    assert (semantic_boundaries(gt, connectivity=8) & (gt == 0)).sum() == 28


def test_ignore_region_and_image_border_make_no_boundary():
    gt = np.zeros((6, 6), dtype=np.int64)
    gt[:, 3:] = 255
    assert not semantic_boundaries(gt).any()
    gt[0, 0] = 1
    # (0, 0) touches (0, 1) and (1, 0); the border is not a boundary.
    assert set(zip(*np.nonzero(semantic_boundaries(gt)))) == {(0, 0), (0, 1),
                                                              (1, 0)}


@pytest.mark.parametrize(
    'shift, tolerance, matched',
    [
        # Shift 1: every pixel of one outline is at distance 0 (shared top
        # and bottom rows, 5 per row) or 1 (the rest) from the other.
        (1, 0, 10),
        (1, 1, 20),
        # Shift 3, pixels of the predicted outline (cols 10..15) by
        # distance to the true outline (cols 7..12):
        #   top/bottom rows, cols 10..15: 0, 0, 0, 1, 2, 3 (x2 rows)
        #   left column 10, rows 8..11:   1, 2, 2, 1 (to rows 7/12)
        #   right column 15, rows 8..11:  3, 3, 3, 3 (to column 12)
        (3, 1, 8 + 2),
        (3, 2, 10 + 4),
        (3, 3, 20),
    ])
def test_shifted_square_counts(shift, tolerance, matched):
    counts = boundary_counts(square_map(shift), square_map(), 2, tolerance)
    assert counts[TOTAL_PRED, 1] == counts[TOTAL_GT, 1] == 20
    assert counts[MATCHED_PRED, 1] == matched
    # The situation is mirror-symmetric, so recall equals precision.
    assert counts[MATCHED_GT, 1] == matched


def test_shifted_square_per_class_output(tmp_path):
    out = tmp_path / 'boundary.json'
    metric = BoundaryMetric(tolerance=1, output_file=str(out))
    evaluate(metric, [(square_map(3), square_map())])
    saved = json.loads(out.read_text())
    assert saved['classes'] == list(CLASSES)
    for name in ('bPrecision', 'bRecall', 'bFscore'):
        # 10 of 20 outline pixels matched (see the table above).
        assert saved['metrics'][name]['per_class'][1] == pytest.approx(50.0)


def test_straight_edge_shift_gives_returned_means():
    # Left half class 0, right half class 1; the predicted edge is 2
    # columns right of the true one, so every boundary pixel of both
    # classes lies exactly 2 pixels from its counterpart.
    gt = np.zeros((8, 10), dtype=np.int64)
    gt[:, 5:] = 1
    pred = np.zeros_like(gt)
    pred[:, 7:] = 1
    far = evaluate(BoundaryMetric(tolerance=1), [(pred, gt)])
    near = evaluate(BoundaryMetric(tolerance=2), [(pred, gt)])
    assert far == dict(bPrecision=0.0, bRecall=0.0, bFscore=0.0)
    assert near == dict(bPrecision=100.0, bRecall=100.0, bFscore=100.0)


def test_fractional_tolerance_scales_with_the_diagonal():
    gt = np.zeros((30, 40), dtype=np.int64)  # diagonal 50 pixels
    gt[:, 20:] = 1
    pred = np.zeros_like(gt)
    pred[:, 22:] = 1
    assert evaluate(BoundaryMetric(tolerance=0.039),
                    [(pred, gt)])['bFscore'] == 0.0  # 1.95 px
    assert evaluate(BoundaryMetric(tolerance=0.04),
                    [(pred, gt)])['bFscore'] == 100.0  # 2.0 px


def test_counts_sum_over_images():
    # Image 1: 10 of 20 matched per side, image 2: perfect (20 of 20), so
    # the square's precision is 30 / 40.
    counts = sum(
        boundary_counts(p, g, 2, 1)
        for p, g in [(square_map(3), square_map()),
                     (square_map(), square_map())])
    scores = boundary_scores(counts)
    assert scores['bPrecision'][1] == pytest.approx(0.75)
    assert scores['bFscore'][1] == pytest.approx(0.75)


def test_empty_prediction():
    # The prediction has no boundary: precision is undefined for every
    # class (so its mean is reported as 0.0), recall and F are 0.
    pred = np.zeros((20, 20), dtype=np.int64)
    metrics = evaluate(BoundaryMetric(tolerance=3), [(pred, square_map())])
    assert metrics == dict(bPrecision=0.0, bRecall=0.0, bFscore=0.0)
    scores = boundary_scores(boundary_counts(pred, square_map(), 2, 3))
    assert np.isnan(scores['bPrecision']).all()
    np.testing.assert_array_equal(scores['bRecall'], [0.0, 0.0])
    np.testing.assert_array_equal(scores['bFscore'], [0.0, 0.0])


def test_all_ignored_reports_zero_not_nan():
    gt = np.full((20, 20), 255, dtype=np.int64)
    metrics = evaluate(BoundaryMetric(), [(square_map(), gt)])
    assert metrics == dict(bPrecision=0.0, bRecall=0.0, bFscore=0.0)
    assert not any(math.isnan(v) for v in metrics.values())


def test_predicted_boundaries_in_ignored_regions_do_not_count():
    gt = square_map()
    gt[:, 15:] = 255
    pred = gt.copy()
    pred[gt == 255] = 1
    pred[2:5, 16:19] = 0  # a predicted blob inside the ignored region
    metrics = evaluate(BoundaryMetric(tolerance=0), [(pred, gt)])
    assert metrics == dict(bPrecision=100.0, bRecall=100.0, bFscore=100.0)


def test_class_absent_from_image_is_excluded_from_means():
    classes = ('background', 'square', 'absent')
    metrics = evaluate(BoundaryMetric(tolerance=1),
                       [(square_map(1), square_map())], classes)
    assert metrics == dict(bPrecision=100.0, bRecall=100.0, bFscore=100.0)


def test_registered_and_builds_from_config():
    metric = METRICS.build(dict(type='BoundaryMetric', tolerance=2))
    assert isinstance(metric, BoundaryMetric)


@pytest.mark.parametrize('kwargs, error', [
    (dict(tolerance=-1), ValueError),
    (dict(tolerance=1.5), ValueError),
    (dict(tolerance=0.0), ValueError),
    (dict(tolerance='2'), TypeError),
    (dict(tolerance=True), TypeError),
    (dict(connectivity=6), ValueError),
    (dict(tolerance_px=2), TypeError),
])
def test_bad_arguments_are_refused(kwargs, error):
    with pytest.raises(error):
        BoundaryMetric(**kwargs)


def test_bad_maps_are_refused():
    gt = square_map()
    with pytest.raises(ValueError, match='fraction of the image diagonal'):
        boundary_counts(gt, gt, 2, tolerance=3.5)
    with pytest.raises(ValueError, match='same'):
        boundary_counts(gt[:10], gt, 2)
    with pytest.raises(ValueError, match=r'class id\(s\) \[7\]'):
        boundary_counts(gt, np.where(gt == 1, 7, gt), 2)
    # An ignored label is allowed in the ground truth, not in predictions.
    with pytest.raises(ValueError, match='the prediction'):
        boundary_counts(np.where(gt == 1, 255, gt), gt, 2)


@pytest.mark.parametrize('tolerance, pixels', [(0, 0), (1, 1), (3, 3),
                                               (0.05, 2.5)])
def test_matching_agrees_with_distance_transform(tolerance, pixels):
    # Reference: a pixel is matched when the Euclidean distance transform
    # of the other map's same-class boundary is within the tolerance.
    from scipy.ndimage import distance_transform_edt
    rng = np.random.default_rng(0)
    # 30 x 40 pixels: the diagonal is 50, so 0.05 of it is 2.5 pixels.
    gt = np.kron(rng.integers(0, 4, (6, 8)), np.ones((5, 5), np.int64))
    gt[rng.random(gt.shape) < 0.03] = 255
    pred = np.roll(gt, (1, 2), axis=(0, 1))
    pred[pred == 255] = 3
    counts = boundary_counts(pred, gt, 4, tolerance)
    masked = np.where(gt == 255, 255, pred)
    pred_b, gt_b = semantic_boundaries(masked), semantic_boundaries(gt)
    for cls in range(4):
        p, g = pred_b & (masked == cls), gt_b & (gt == cls)
        far = np.full(gt.shape, np.inf)
        to_gt = distance_transform_edt(~g) if g.any() else far
        to_pred = distance_transform_edt(~p) if p.any() else far
        assert counts[MATCHED_PRED, cls] == np.count_nonzero(
            p & (to_gt <= pixels))
        assert counts[MATCHED_GT, cls] == np.count_nonzero(
            g & (to_pred <= pixels))
        assert counts[TOTAL_PRED, cls] == p.sum()
        assert counts[TOTAL_GT, cls] == g.sum()
