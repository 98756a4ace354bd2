# Copyright (c) mmseg_aaf contributors. All rights reserved.
import json
import math
import sys

import numpy as np
import pytest
import torch
from mmseg.registry import METRICS
from scipy.ndimage import gaussian_filter
from scipy.optimize import linear_sum_assignment

import mmseg_aaf  # noqa: F401
from mmseg_aaf.evaluation.metrics.boundary_metric import (
    MATCHED_GT, MATCHED_PRED, TOTAL_GT, TOTAL_PRED, BoundaryMetric,
    _count_one_to_one, boundary_counts, boundary_scores, class_boundaries,
    semantic_boundaries, tolerance_in_pixels)

CLASSES = ('background', 'square')
# The rule of earlier releases, which the hand-computed counts below use.
DISTANCE = dict(matching='distance', boundary='inner')


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


def dense_boundaries(label: np.ndarray, num_classes: int,
                     **kwargs) -> np.ndarray:
    """``(C, H, W)`` bool: :func:`class_boundaries` as one map per class."""
    maps = np.zeros((num_classes, ) + label.shape, dtype=bool)
    for cls, points in class_boundaries(label, **kwargs).items():
        maps[cls][tuple(points.T)] = True
    return maps


def blocky_labels(rng, shape, num_classes, cell, ignore_fraction=0.03):
    """Square cells of random classes with scattered ignored pixels."""
    cells = rng.integers(0, num_classes,
                         (shape[0] // cell + 1, shape[1] // cell + 1))
    label = np.kron(cells, np.ones((cell, cell), np.int64))
    label = label[:shape[0], :shape[1]]
    label[rng.random(shape) < ignore_fraction] = 255
    return label


def smooth_labels(rng, shape, num_classes, ignore_fraction=0.0):
    """Curved regions: argmax of smoothed noise, one field per class."""
    fields = gaussian_filter(
        rng.normal(size=(num_classes, ) + shape), (0, 3, 3))
    label = fields.argmax(0)
    label[rng.random(shape) < ignore_fraction] = 255
    return label


def generated_pairs(seed, shapes, class_counts=(2, 3, 5)):
    """(prediction, ground truth, C) triples of blocky and curved maps; the
    prediction is the ground truth moved by a few pixels or an unrelated
    map, so boundaries are near, far, missing and spurious."""
    rng = np.random.default_rng(seed)
    for shape in shapes:
        for num_classes in class_counts:
            gt = blocky_labels(rng, shape, num_classes, 4)
            pred = np.roll(gt, (1, 2), axis=(0, 1))
            yield np.where(pred == 255, 0, pred), gt, num_classes
            gt = smooth_labels(rng, shape, num_classes, 0.02)
            pred = smooth_labels(rng, shape, num_classes)
            pred[:shape[0] // 2] = np.roll(gt, 1, axis=1)[:shape[0] // 2]
            yield np.where(pred == 255, 0, pred), gt, num_classes


def augmenting_path_matching(pred_points, gt_points, radius):
    """Maximum matching size by exhaustive augmenting paths (Kuhn).

    Each predicted pixel in turn searches depth-first, through every
    ground-truth pixel within ``radius`` and the predicted pixel that holds
    it, for a free ground-truth pixel; by Berge's theorem the matching is
    maximum once no predicted pixel finds one. Quadratic and slow: small
    maps only.
    """
    near = [[
        j for j, (gy, gx) in enumerate(gt_points.tolist())
        if (py - gy)**2 + (px - gx)**2 <= radius * radius
    ] for py, px in pred_points.tolist()]
    holder = [-1] * len(gt_points)

    def augment(i, seen):
        for j in near[i]:
            if j not in seen:
                seen.add(j)
                if holder[j] < 0 or augment(holder[j], seen):
                    holder[j] = i
                    return True
        return False

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * len(pred_points) + 100))
    try:
        return sum(augment(i, set()) for i in range(len(pred_points)))
    finally:
        sys.setrecursionlimit(limit)


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
    counts = boundary_counts(square_map(shift), square_map(), 2, tolerance,
                             **DISTANCE)
    assert counts[TOTAL_PRED, 1] == counts[TOTAL_GT, 1] == 20
    assert counts[MATCHED_PRED, 1] == matched
    # The situation is mirror-symmetric, so recall equals precision.
    assert counts[MATCHED_GT, 1] == matched


def test_shifted_square_per_class_output(tmp_path):
    out = tmp_path / 'boundary.json'
    metric = BoundaryMetric(tolerance=1, output_file=str(out), **DISTANCE)
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
    for kwargs in (DISTANCE, {}):
        far = evaluate(BoundaryMetric(tolerance=1, **kwargs), [(pred, gt)])
        near = evaluate(BoundaryMetric(tolerance=2, **kwargs), [(pred, gt)])
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
        boundary_counts(p, g, 2, 1, **DISTANCE)
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
    metrics = evaluate(BoundaryMetric(tolerance=1, **DISTANCE),
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
    (dict(matching='hungarian'), ValueError),
    (dict(matching=None), ValueError),
    (dict(boundary='outer'), ValueError),
    (dict(connectivity=8), ValueError),
])
def test_bad_arguments_are_refused(kwargs, error):
    with pytest.raises(error):
        BoundaryMetric(**kwargs)


def test_bad_option_messages_name_the_choices():
    with pytest.raises(ValueError, match=r"\('bsds', 'distance'\)"):
        BoundaryMetric(matching='BSDS')
    with pytest.raises(ValueError, match=r"\('thin', 'inner'\)"):
        boundary_counts(square_map(), square_map(), 2, boundary='raw')
    # connectivity=8 is an option of the one-sided boundary only.
    with pytest.raises(ValueError, match="boundary='inner' only"):
        class_boundaries(square_map(), connectivity=8)
    BoundaryMetric(boundary='inner', connectivity=8)


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


@pytest.mark.parametrize('boundary', ['inner', 'thin'])
@pytest.mark.parametrize('tolerance, pixels', [(0, 0), (1, 1), (3, 3),
                                               (0.05, 2.5)])
def test_matching_agrees_with_distance_transform(tolerance, pixels, boundary):
    # Reference: a pixel is matched when the Euclidean distance transform
    # of the other map's same-class boundary is within the tolerance.
    from scipy.ndimage import distance_transform_edt
    rng = np.random.default_rng(0)
    # 30 x 40 pixels: the diagonal is 50, so 0.05 of it is 2.5 pixels.
    gt = np.kron(rng.integers(0, 4, (6, 8)), np.ones((5, 5), np.int64))
    gt[rng.random(gt.shape) < 0.03] = 255
    pred = np.roll(gt, (1, 2), axis=(0, 1))
    pred[pred == 255] = 3
    counts = boundary_counts(
        pred, gt, 4, tolerance, matching='distance', boundary=boundary)
    masked = np.where(gt == 255, 255, pred)
    pred_b = dense_boundaries(masked, 4, boundary=boundary)
    gt_b = dense_boundaries(gt, 4, boundary=boundary)
    if boundary == 'inner':
        # The one-sided boundary is ``semantic_boundaries`` split by class.
        np.testing.assert_array_equal(
            pred_b, semantic_boundaries(masked) & (masked == np.arange(4)[
                :, None, None]))
    for cls in range(4):
        p, g = pred_b[cls], gt_b[cls]
        far = np.full(gt.shape, np.inf)
        to_gt = distance_transform_edt(~g) if g.any() else far
        to_pred = distance_transform_edt(~p) if p.any() else far
        assert counts[MATCHED_PRED, cls] == np.count_nonzero(
            p & (to_gt <= pixels))
        assert counts[MATCHED_GT, cls] == np.count_nonzero(
            g & (to_pred <= pixels))
        assert counts[TOTAL_PRED, cls] == p.sum()
        assert counts[TOTAL_GT, cls] == g.sum()


def test_default_is_the_bsds_benchmark():
    metric = BoundaryMetric()
    assert (metric.tolerance, metric.matching, metric.boundary) == (0.0075,
                                                                    'bsds',
                                                                    'thin')
    # BSDS's maxDist is a fraction of the diagonal: ~17.2 px on Cityscapes.
    assert tolerance_in_pixels(0.0075, 1024, 2048) == pytest.approx(
        0.0075 * math.sqrt(1024**2 + 2048**2))
    pred, gt, num_classes = next(generated_pairs(3, [(40, 50)]))
    np.testing.assert_array_equal(
        boundary_counts(pred, gt, num_classes),
        boundary_counts(pred, gt, num_classes, 0.0075, matching='bsds',
                        boundary='thin'))


def test_thin_boundary_of_a_square_is_both_sides_thinned():
    # The band of either class is the square's inner ring and the ring of
    # background pixels 4-adjacent to it; thinning keeps one line of it:
    # inside on the north and east, outside on the west and south.
    boundaries = dense_boundaries(square_map(), 2)
    expected = np.zeros((20, 20), dtype=bool)
    expected[7, 7:12] = expected[8:13, 12] = True  # inside, north and east
    expected[8:12, 6] = expected[13, 8:12] = True  # outside, west and south
    expected[12, 7] = True  # the south-west corner, inside
    assert expected.sum() == 19
    np.testing.assert_array_equal(boundaries[0], expected)
    np.testing.assert_array_equal(boundaries[1], expected)


def test_thin_boundaries_skip_ignored_contacts_and_the_border():
    gt = np.zeros((6, 6), dtype=np.int64)
    gt[:, 3:] = 255
    assert class_boundaries(gt) == {}
    gt[:, 3:] = 1
    gt[:, 4:] = 255
    # Column 3 of class 1 touches class 0 on its left and ignored pixels on
    # its right: the band of both classes is columns 2 and 3, which
    # thinning turns into a line (not reaching the image's top row).
    boundaries = class_boundaries(gt)
    assert sorted(boundaries) == [0, 1]
    for points in boundaries.values():
        np.testing.assert_array_equal(points, [[1, 2], [2, 2], [3, 2],
                                               [4, 2], [5, 2]])


def pyedgeeval_edges(label, num_classes, thin=True):
    """``(C, H, W)`` bool: pyEdgeEval's SBD / Cityscapes edges of a label
    map, mask2edge of its one-hot map with radius 1 and 255 ignored."""
    from pyEdgeEval.edge_tools import loop_mask2edge
    onehot = np.stack([label == c for c in range(num_classes)] +
                      [label == 255]).astype(np.uint8)
    edges = loop_mask2edge(
        onehot, ignore_indices=[num_classes], radius=1, thin=thin)
    return edges[:num_classes].astype(bool)


@pytest.mark.parametrize('shape', [(9, 13), (32, 32), (48, 80)])
def test_thin_boundaries_equal_pyedgeeval_mask2edge(shape):
    # pyEdgeEval's "thin" ground-truth edges: the radius-1 band of each
    # class, ignored labels excluded, then thinned.
    for pred, gt, num_classes in generated_pairs(1, [shape]):
        for label in (gt, np.where(gt == 255, 255, pred)):
            np.testing.assert_array_equal(
                dense_boundaries(label, num_classes),
                pyedgeeval_edges(label, num_classes))


def bsds_objective_matches(pred_points, gt_points, radius):
    """Matched pairs of an optimum of correspondPixels' assignment problem
    solved exactly, with every outlier edge present.

    correspondPixels pairs pixels within ``radius`` at cost
    ``rint(100 * distance)`` and gives every pixel left unmatched an
    outlier at ``ceil(100 * outlierCost)``, ``outlierCost = 100 * radius``;
    here any pixel may take any outlier slot (it draws 6 at random).
    """
    distance = np.sqrt(
        ((pred_points[:, None, :] - gt_points[None, :, :])**2).sum(-1))
    num_pred, num_gt = len(pred_points), len(gt_points)
    outlier = math.ceil(100 * 100 * radius)
    # A pair beyond the radius costs more than any whole assignment of
    # outliers, so it is never used.
    beyond = outlier * (num_pred + num_gt + 1)
    cost = np.full((num_pred + num_gt, num_gt + num_pred), outlier)
    cost[:num_pred, :num_gt] = np.where(
        distance * distance <= radius * radius, np.rint(distance * 100),
        beyond)
    rows, cols = linear_sum_assignment(cost)
    return int(np.count_nonzero((rows < num_pred) & (cols < num_gt)))


@pytest.mark.parametrize('tolerance', [0.0075, 0.02, 0.05])
@pytest.mark.parametrize('shape', [(17, 23), (40, 40), (48, 72)])
def test_counts_against_pyedgeeval_correspond_pixels(shape, tolerance):
    """Our counts against pyEdgeEval's per-class evaluation at the same
    maxDist, as its SBD / Cityscapes "thin" protocol runs it: thin ground-
    truth edges, and a prediction that the evaluation thins itself, here
    the predicted map's radius-1 band, so both sides are the maps we match.
    (Not our thinned map: its binary_thin stops at the first subiteration
    that deletes nothing, so thinning twice may delete a few more pixels.)

    Totals are equal. Matched counts are not always: correspondPixels
    completes its assignment through 6 random outlier edges per pixel,
    drawn from a clock-seeded generator, so a run may leave a matchable
    pair unmatched (reruns on one map give e.g. 163 or 164). Its matching
    is still one to one within the tolerance, so it never exceeds the
    maximum; and its objective solved exactly, with every outlier edge
    present, matches exactly the maximum.
    """
    from pyEdgeEval._lib import correspond_pixels
    from pyEdgeEval.common.multi_label.evaluate_boundaries import \
        evaluate_boundaries_threshold
    ours_total = theirs_total = 0
    for pred, gt, num_classes in generated_pairs(2, [shape]):
        counts = boundary_counts(pred, gt, num_classes, tolerance)
        masked = np.where(gt == 255, 255, pred)
        pred_maps = dense_boundaries(masked, num_classes)
        gt_maps = dense_boundaries(gt, num_classes)
        pred_bands = pyedgeeval_edges(masked, num_classes, thin=False)
        radius = tolerance * math.sqrt(shape[0]**2 + shape[1]**2)
        for cls in range(num_classes):
            # The protocol's evaluation of one class at one threshold.
            count_r, sum_r, count_p, sum_p = evaluate_boundaries_threshold(
                np.array([0.5]),
                pred_bands[cls].astype(np.float64),
                gt_maps[cls].astype(np.uint8),
                max_dist=tolerance,
                apply_thinning=True,
                kill_internal=False,
                skip_if_nonexistent=False)
            assert counts[TOTAL_PRED, cls] == sum_p[0]
            assert counts[TOTAL_GT, cls] == sum_r[0]
            matched = counts[MATCHED_PRED, cls]
            assert counts[MATCHED_GT, cls] == matched
            assert count_p[0] == count_r[0] <= matched
            ours_total += matched
            theirs_total += count_p[0]
            if not (pred_maps[cls].any() and gt_maps[cls].any()):
                assert matched == 0
                continue
            # Its matching is one to one within the tolerance.
            match_pred, match_gt, _, _ = correspond_pixels(
                pred_maps[cls], gt_maps[cls], max_dist=tolerance)
            partner = match_pred[pred_maps[cls]].astype(np.int64) - 1
            partner = partner[partner >= 0]
            assert len(set(partner.tolist())) == partner.size
            # Column-major indices, as MATLAB: x * height + y.
            y, x = partner % shape[0], partner // shape[0]
            assert gt_maps[cls][y, x].all()
            pred_yx = np.argwhere(pred_maps[cls] & (match_pred > 0))
            assert ((pred_yx - np.stack([y, x], 1))**2).sum(1).max() <= (
                radius * radius)
            pred_points = np.argwhere(pred_maps[cls])
            gt_points = np.argwhere(gt_maps[cls])
            assert matched == bsds_objective_matches(pred_points, gt_points,
                                                     radius)
    # Its shortfall is a few pixels in a thousand.
    assert theirs_total <= ours_total <= theirs_total * 1.01 + 2


@pytest.mark.parametrize('tolerance', [0, 1, 2, 3, 0.05, 0.1])
def test_bsds_counts_equal_augmenting_path_maximum(tolerance):
    for pred, gt, num_classes in generated_pairs(4, [(12, 16), (20, 24)]):
        for boundary in ('thin', 'inner'):
            counts = boundary_counts(
                pred, gt, num_classes, tolerance, boundary=boundary)
            radius = tolerance_in_pixels(tolerance, *gt.shape)
            pred_points = class_boundaries(
                np.where(gt == 255, 255, pred), boundary=boundary)
            gt_points = class_boundaries(gt, boundary=boundary)
            empty = np.zeros((0, 2), dtype=np.int64)
            for cls in range(num_classes):
                expected = augmenting_path_matching(
                    pred_points.get(cls, empty), gt_points.get(cls, empty),
                    radius)
                assert counts[MATCHED_PRED, cls] == expected
                assert counts[MATCHED_GT, cls] == expected


def test_one_to_one_matching_is_maximum_not_greedy():
    # Predicted pixels at columns 0 and 2, true ones at 1 and 3, tolerance
    # 1: pairing 2 with its nearest-first neighbour 1 would strand 0; the
    # maximum pairs 0-1 and 2-3.
    pred = np.array([[0, 0], [0, 2]])
    gt = np.array([[0, 1], [0, 3]])
    assert _count_one_to_one(pred, gt, 1.0) == 2
    assert _count_one_to_one(pred[::-1], gt, 1.0) == 2
    # Five predicted pixels around one true pixel: one match.
    cluster = np.array([[5, 5], [4, 5], [6, 5], [5, 4], [5, 6]])
    assert _count_one_to_one(cluster, np.array([[5, 5]]), 1.0) == 1
    assert _count_one_to_one(np.array([[5, 5]]), cluster, 1.0) == 1


def test_one_to_one_tolerance_is_inclusive_and_euclidean():
    pred, gt = np.array([[0, 0]]), np.array([[3, 4]])  # 5 pixels apart
    assert _count_one_to_one(pred, gt, 5.0) == 1
    assert _count_one_to_one(pred, gt, 4.999) == 0
    # (1, 1) is sqrt(2) away: within 1.5, not within 1.
    assert _count_one_to_one(pred, pred + 1, 1.5) == 1
    assert _count_one_to_one(pred, pred + 1, 1.0) == 0
    assert _count_one_to_one(pred, gt[:0], 5.0) == 0


def test_spurious_boundaries_near_a_true_edge_count_once():
    # The true edge is the contact of columns 5 and 6; the prediction adds
    # a one-pixel stripe of class 1 at column 2, whose boundaries lie
    # within 5 pixels of the true edge. Distance matching takes every
    # predicted pixel as matched; one-to-one matching only as many as the
    # true edge has, so precision drops and recall stays 1.
    gt = np.zeros((8, 12), dtype=np.int64)
    gt[:, 6:] = 1
    pred = gt.copy()
    pred[:, 2] = 1
    for boundary in ('thin', 'inner'):
        near = boundary_counts(pred, gt, 2, 5, matching='distance',
                               boundary=boundary)
        bsds = boundary_counts(pred, gt, 2, 5, boundary=boundary)
        np.testing.assert_array_equal(near[MATCHED_PRED], near[TOTAL_PRED])
        np.testing.assert_array_equal(bsds[MATCHED_PRED], bsds[TOTAL_GT])
        np.testing.assert_array_equal(bsds[MATCHED_GT], bsds[TOTAL_GT])
        assert (bsds[TOTAL_PRED] > bsds[TOTAL_GT]).all()
        scores = boundary_scores(bsds)
        np.testing.assert_allclose(scores['bRecall'], [1.0, 1.0])
        np.testing.assert_allclose(scores['bPrecision'],
                                   bsds[TOTAL_GT] / bsds[TOTAL_PRED])
        # The metric passes its options on.
        for matching, counts in (('distance', near), ('bsds', bsds)):
            metric = BoundaryMetric(
                tolerance=5, matching=matching, boundary=boundary)
            metric.dataset_meta = dict(classes=CLASSES)
            metric.process({}, [sample(pred, gt)])
            np.testing.assert_array_equal(metric.results[0], counts)


def test_bsds_metric_end_to_end_per_class_output(tmp_path):
    # Shifted square, default metric: the thin outlines (19 pixels each)
    # of both classes move by 3 columns; one-to-one within 1 pixel.
    out = tmp_path / 'boundary.json'
    metric = BoundaryMetric(tolerance=1, output_file=str(out))
    metrics = evaluate(metric, [(square_map(3), square_map())])
    counts = boundary_counts(square_map(3), square_map(), 2, 1)
    np.testing.assert_array_equal(counts[TOTAL_PRED], [19, 19])
    np.testing.assert_array_equal(counts[TOTAL_GT], [19, 19])
    assert counts[MATCHED_PRED, 0] == counts[MATCHED_PRED, 1]
    expected = 100 * counts[MATCHED_PRED, 1] / 19
    saved = json.loads(out.read_text())
    for name in ('bPrecision', 'bRecall', 'bFscore'):
        assert saved['metrics'][name]['per_class'] == pytest.approx(
            [expected, expected])
        assert metrics[name] == pytest.approx(expected, abs=0.005)


def test_class_only_in_prediction_counts_as_false_boundaries():
    # A predicted blob of a class the ground truth lacks: all its boundary
    # pixels are false, so its precision (and F) is 0 and enters the means.
    classes = ('background', 'square', 'blob')
    pred = square_map()
    pred[1:4, 1:4] = 2
    counts = boundary_counts(pred, square_map(), 3)
    assert counts[TOTAL_PRED, 2] > 0
    assert counts[MATCHED_PRED, 2] == counts[TOTAL_GT, 2] == 0
    scores = boundary_scores(counts)
    assert scores['bPrecision'][2] == scores['bFscore'][2] == 0
    assert np.isnan(scores['bRecall'][2])
    metrics = evaluate(BoundaryMetric(), [(pred, square_map())], classes)
    per_class = boundary_scores(counts)
    for name, value in metrics.items():
        assert value == pytest.approx(
            100 * np.nanmean(per_class[name]), abs=0.005)
    assert metrics['bPrecision'] < 100 * np.nanmean(
        per_class['bPrecision'][:2]) - 1


@pytest.mark.parametrize('matching', ['bsds', 'distance'])
def test_inner_boundary_connectivity_reaches_the_counts(matching):
    # 8-connectivity adds the square's 4 diagonal background corners.
    gt = square_map()
    for connectivity, background in ((4, 24), (8, 28)):
        kwargs = dict(matching=matching, boundary='inner',
                      connectivity=connectivity)
        counts = boundary_counts(gt, gt, 2, 0, **kwargs)
        np.testing.assert_array_equal(counts[TOTAL_GT], [background, 20])
        np.testing.assert_array_equal(counts[MATCHED_PRED],
                                      [background, 20])
        metric = BoundaryMetric(tolerance=0, **kwargs)
        metric.dataset_meta = dict(classes=CLASSES)
        metric.process({}, [sample(gt, gt)])
        np.testing.assert_array_equal(metric.results[0], counts)
