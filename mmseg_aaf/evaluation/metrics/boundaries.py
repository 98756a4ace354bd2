# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Boundaries of label maps and masks, and the matching of boundary pixels.

The two boundary metrics share this module; each finds here the exact
definition of what it computes:

* the boundary pixels of every class of a label map and their matching
  within a tolerance (:func:`class_boundaries`, :func:`boundary_counts`,
  :func:`boundary_scores`), for
  :class:`~mmseg_aaf.evaluation.metrics.boundary_metric.BoundaryMetric`;
* the boundary band of a binary mask (:func:`mask_boundary_band`,
  :func:`band_width`), for :class:`~mmseg_aaf.evaluation.metrics.
  boundary_iou_metric.BoundaryIoUMetric`.

Semantic boundary precision, recall and F-score
-----------------------------------------------

What ``BoundaryMetric`` scores. By default this is the semantic boundary
benchmark of SBD and Cityscapes as pyEdgeEval implements it (its "thin"
protocol), which matches boundary pixels the way the BSDS contour
benchmark (Arbeláez et al.) does, applied to the boundaries of label maps.
Exactly what is computed, per image and per class ``c`` (``ignore`` is
``ignore_index``):

1. **Ignored pixels.** The prediction is first masked with the ground
   truth's ignored pixels, so no predicted boundary lies in an ignored
   region and a prediction equal to the ground truth scores 1.
2. **Boundary pixels** (``boundary='thin'``, the default). The boundary
   band of class ``c`` holds the pixels of ``c`` with a 4-neighbour of
   another class that is not ``ignore``, and the pixels of another class
   (not ``ignore``) with a 4-neighbour of class ``c``: both sides of every
   contact of ``c``, two pixels wide, so a pixel may belong to the bands of
   several classes. This is pyEdgeEval's ``mask2edge`` with ``radius=1``
   (a Euclidean distance ``<= 1`` is a 4-neighbour). A contact with an
   ``ignore`` region or the image border makes no boundary. Each class's
   band is then thinned to a one-pixel line by the two-subiteration
   thinning of MATLAB's ``bwmorph(..., 'thin', Inf)`` (Guo and Hall's
   conditions G1, G2, G3 / G3'), stopping, like pyEdgeEval's
   ``binary_thin``, at the first subiteration that deletes nothing (MATLAB
   goes on while either subiteration deletes, so on rare shapes it thins
   a pixel further). The ground truth is so made pyEdgeEval's "thin"
   ground truth exactly; the prediction is made the same way, which is
   also what pyEdgeEval's evaluation (``apply_thinning``) makes of the
   predicted map's band.

   ``boundary='inner'`` instead keeps the one-sided boundary of earlier
   releases, not thinned: the pixels of ``c`` with a neighbour (4- or, with
   ``connectivity=8``, 8-connected) of another class that is not
   ``ignore``; a pixel then belongs to the boundary of its own class only.
3. **Tolerance.** A predicted and a ground-truth boundary pixel of class
   ``c`` may match when their Euclidean distance is ``<=`` the tolerance:
   by default 0.0075 of the image diagonal, the ``maxDist`` of BSDS (about
   17.2 pixels at 1024 x 2048); a float in (0, 1) is such a fraction, an
   int a number of pixels.
4. **Matching.** With ``matching='bsds'`` (the default) pixels match one
   to one, as in BSDS's ``correspondPixels``: the matched count is the
   size of a maximum bipartite matching between the predicted and the
   ground-truth boundary pixels of class ``c``, with an edge between every
   pair within the tolerance (computed exactly as a unit-capacity maximum
   flow). So the matched predicted and ground-truth counts are equal, and
   a cluster of predicted pixels near one true pixel explains at most one
   of them. ``correspondPixels`` solves an assignment problem instead (a
   pair costs its distance, a pixel left unmatched ``100 * maxDist``),
   whose optimum holds the maximum number of pairs; but it offers each
   pixel only 6 outlier slots drawn at random (clock-seeded), so a run may
   leave a matchable pair unmatched: on generated maps it falls short of
   the maximum by a few pixels in a thousand at most, varying between
   runs.
   ``matching='distance'`` keeps the rule of earlier releases: a pixel is
   matched when any pixel of the other side, of its class, lies within the
   tolerance, so several pixels may match the same pixel.
5. **Scores.** Precision is the matched predicted pixels over all
   predicted boundary pixels of ``c``, recall the matched ground-truth
   pixels over all ground-truth boundary pixels of ``c``; both counts are
   summed over the evaluated images before dividing. There is a single
   ground truth per image and no threshold sweep: a label map is one
   binary boundary map per class.

Differences from pyEdgeEval's Cityscapes protocol: it ignores only the
labelIds "rectification border" and "out of roi", so contacts with other
void regions (ego vehicle, static, ...) do make boundaries there, while a
trainId map has one ``ignore`` for all of them; and it can make ground-
truth boundaries instance-sensitive, which a semantic label map cannot.

Note for PASCAL VOC: its annotations surround every object with a band of
void (255) pixels, so by the definitions above most object contours have
no ground-truth boundary; only contacts between labelled regions count.

Boundary IoU bands
------------------

What ``BoundaryIoUMetric`` forms from each mask. The boundary band of a
binary mask ``M`` (:func:`mask_boundary_band`) is ``M`` minus its erosion
by ``d`` pixels, as the official ``mask_to_boundary``: ``M`` is padded by
one pixel of zeros (so the image border counts as contour), eroded ``d``
times with the full 3x3 square, and cropped back. So a pixel of ``M`` is
in the band when some pixel within Chebyshev distance ``d`` is outside
``M`` or outside the image. ``d = max(1, int(round(dilation_ratio *
sqrt(H**2 + W**2))))`` with Python's ``round`` (halves to even), per image
(:func:`band_width`).
"""
import math
from typing import Dict, Union

import cv2
import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import maximum_flow
from scipy.spatial import cKDTree

from .metric_utils import check_label_maps, safe_divide

#: Rows of the per-image statistics returned by :func:`boundary_counts`.
MATCHED_PRED, TOTAL_PRED, MATCHED_GT, TOTAL_GT = range(4)

#: BSDS's ``maxDist``: the default tolerance, a fraction of the diagonal.
BSDS_MAX_DIST = 0.0075

MATCHINGS = ('bsds', 'distance')
BOUNDARIES = ('thin', 'inner')

_NEIGHBOUR_OFFSETS = {
    4: ((0, 1), (1, 0), (0, -1), (-1, 0)),
    8: ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1),
        (-1, -1)),
}


def _check_connectivity(connectivity: int) -> None:
    if connectivity not in _NEIGHBOUR_OFFSETS:
        raise ValueError(
            f'connectivity must be 4 or 8, got {connectivity!r}')


def check_boundary_options(matching: str, boundary: str,
                           connectivity: int) -> None:
    """Refuse unknown ``matching`` / ``boundary`` names and a
    ``connectivity`` the chosen boundary does not use."""
    if matching not in MATCHINGS:
        raise ValueError(
            f'matching must be one of {MATCHINGS}, got {matching!r}')
    if boundary not in BOUNDARIES:
        raise ValueError(
            f'boundary must be one of {BOUNDARIES}, got {boundary!r}')
    _check_connectivity(connectivity)
    if boundary == 'thin' and connectivity != 4:
        raise ValueError(
            "boundary='thin' is pyEdgeEval's radius-1 band, which is "
            f"4-connected; connectivity={connectivity} applies to "
            "boundary='inner' only")


def semantic_boundaries(label: np.ndarray,
                        ignore_index: int = 255,
                        connectivity: int = 4) -> np.ndarray:
    """The ``boundary='inner'`` pixels of a label map (see the module).

    Args:
        label (np.ndarray): ``(H, W)`` integer class ids.
        ignore_index (int): Label of ignored pixels. Default: 255.
        connectivity (int): 4 or 8. Default: 4.

    Returns:
        np.ndarray: ``(H, W)`` bool, True on boundary pixels; the class of
        a boundary pixel is its own label.
    """
    _check_connectivity(connectivity)
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f'label must be (H, W), got shape {label.shape}')
    height, width = label.shape
    valid = label != ignore_index
    boundary = np.zeros(label.shape, dtype=bool)
    for dy, dx in _NEIGHBOUR_OFFSETS[connectivity]:
        # ``centre`` and ``neighbour`` view the same pixels shifted by
        # (dy, dx); only pairs inside the image are compared.
        rows = slice(max(0, -dy), height - max(0, dy))
        cols = slice(max(0, -dx), width - max(0, dx))
        rows_n = slice(max(0, dy), height - max(0, -dy))
        cols_n = slice(max(0, dx), width - max(0, -dx))
        differs = ((label[rows, cols] != label[rows_n, cols_n])
                   & valid[rows, cols] & valid[rows_n, cols_n])
        boundary[rows, cols] |= differs
    return boundary


def _thinning_tables() -> np.ndarray:
    """``(2, 256)`` bool: may a pixel go in subiteration 1 / 2?

    Indexed by the 8-neighbourhood code ``sum(x_k << (k - 1))`` where
    ``x_1 .. x_8`` are the east neighbour and then the others counter-
    clockwise (north is the row above), as in MATLAB's ``bwmorph`` 'thin'.
    """
    code = np.arange(256)
    # x[1] .. x[8], and x[9] = x[1] to close the cycle.
    x = [None] + [(code >> k) & 1 for k in range(8)]
    x.append(x[1])
    # G1: exactly one 4-connected run of neighbours ends at an odd
    # (edge-adjacent) background neighbour, i.e. the pixel is simple.
    crossings = sum((1 - x[2 * i - 1]) & (x[2 * i] | x[2 * i + 1])
                    for i in range(1, 5))
    # G2: the pixel is neither an end point nor inside a blob.
    n1 = sum(x[2 * k - 1] | x[2 * k] for k in range(1, 5))
    n2 = sum(x[2 * k] | x[2 * k + 1] for k in range(1, 5))
    smaller = np.minimum(n1, n2)
    common = (crossings == 1) & (smaller >= 2) & (smaller <= 3)
    # G3 / G3': peel the south-east side first, then the north-west one.
    g3 = ((x[2] | x[3] | (1 - x[8])) & x[1]) == 0
    g3_prime = ((x[6] | x[7] | (1 - x[4])) & x[5]) == 0
    return np.stack([common & g3, common & g3_prime])


_THINNING_TABLES = _thinning_tables()


def _thin(canvas: np.ndarray, pixels: np.ndarray,
          width: int) -> np.ndarray:
    """Thin one class's band in place; return the pixels that remain.

    Args:
        canvas (np.ndarray): Flat uint8 view of an ``(H + 2, W + 2)``
            image, 1 on ``pixels`` and 0 elsewhere; the one-pixel frame
            stands for the outside of the image (background), so no bounds
            checks are needed. Left all 0 on return.
        pixels (np.ndarray): ``(N,)`` flat indices into ``canvas``.
        width (int): ``W + 2``.

    Returns:
        np.ndarray: ``(M,)`` the flat indices left, ``M <= N``.
    """
    # Flat offsets of x_1 .. x_8 (east, then counter-clockwise).
    offsets = (1, 1 - width, -width, -width - 1, -1, width - 1, width,
               width + 1)
    subiteration = 0
    while pixels.size:
        code = np.zeros(pixels.size, dtype=np.int64)
        for bit, offset in enumerate(offsets):
            code |= canvas[pixels + offset].astype(np.int64) << bit
        # Decided for all pixels from the same state, then applied: the
        # subiteration is parallel, as a lookup-table pass over the image.
        delete = _THINNING_TABLES[subiteration][code]
        if not delete.any():
            # pyEdgeEval's binary_thin stops at the first subiteration that
            # deletes nothing.
            break
        canvas[pixels[delete]] = 0
        pixels = pixels[~delete]
        subiteration = 1 - subiteration
    canvas[pixels] = 0
    return pixels


def class_boundaries(label: np.ndarray,
                     ignore_index: int = 255,
                     boundary: str = 'thin',
                     connectivity: int = 4) -> Dict[int, np.ndarray]:
    """Boundary pixels of every class of a label map (see the module).

    Args:
        label (np.ndarray): ``(H, W)`` integer class ids.
        ignore_index (int): Label of ignored pixels. Default: 255.
        boundary (str): 'thin' (pyEdgeEval's radius-1 band, thinned) or
            'inner' (the one-sided boundary). Default: 'thin'.
        connectivity (int): 4 or 8, for ``boundary='inner'``. Default: 4.

    Returns:
        dict[int, np.ndarray]: For each class with boundary pixels, their
        ``(N, 2)`` int64 ``(row, col)`` coordinates in row-major order.
    """
    check_boundary_options('bsds', boundary, connectivity)
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f'label must be (H, W), got shape {label.shape}')
    if boundary == 'inner':
        on = semantic_boundaries(label, ignore_index, connectivity)
        points, classes = np.argwhere(on), label[on]
        return {
            int(cls): points[classes == cls]
            for cls in np.unique(classes)
        }

    height, width = label.shape
    padded_width = width + 2
    # Flat indices into the image padded by one pixel on every side.
    flat = (np.arange(height)[:, None] + 1) * padded_width + (
        np.arange(width)[None, :] + 1)
    valid = label != ignore_index
    keys = []
    for axis in (0, 1):
        # Each contact (p, q) between two valid pixels of different
        # classes a and b puts p and q in the bands of both a and b.
        if axis == 0:  # vertical neighbours
            first, second = np.s_[:-1, :], np.s_[1:, :]
        else:
            first, second = np.s_[:, :-1], np.s_[:, 1:]
        contact = ((label[first] != label[second]) & valid[first]
                   & valid[second])
        p, q = flat[first][contact], flat[second][contact]
        a, b = label[first][contact], label[second][contact]
        keys += [(pixel, cls) for pixel in (p, q) for cls in (a, b)]
    if not keys:
        return {}
    size = (height + 2) * padded_width
    # One sorted key per (class, pixel): grouped by class, then row-major.
    key = np.unique(
        np.concatenate([cls.astype(np.int64) * size + pixel
                        for pixel, cls in keys]))
    classes, starts = np.unique(key // size, return_index=True)
    canvas = np.zeros(size, dtype=np.uint8)
    result = {}
    for cls, pixels in zip(classes, np.split(key % size, starts[1:])):
        canvas[pixels] = 1
        pixels = _thin(canvas, pixels, padded_width)
        result[int(cls)] = np.stack(
            [pixels // padded_width - 1, pixels % padded_width - 1], axis=1)
    return result


_SQUARE = np.ones((3, 3), dtype=np.uint8)


def check_dilation_ratio(dilation_ratio: float) -> None:
    if isinstance(dilation_ratio, bool) or not isinstance(
            dilation_ratio, (int, float)) or not (0 < dilation_ratio < 1):
        raise ValueError('dilation_ratio must be a fraction of the image '
                         f'diagonal in (0, 1), got {dilation_ratio!r}')


def band_width(height: int, width: int, dilation_ratio: float) -> int:
    """``d`` of the band for an ``height x width`` image (at least 1)."""
    return max(1, int(round(dilation_ratio * math.hypot(height, width))))


def mask_boundary_band(mask: np.ndarray, width: int) -> np.ndarray:
    """The pixels of ``mask`` within ``width`` (Chebyshev) of its outside.

    Args:
        mask (np.ndarray): ``(H, W)`` bool.
        width (int): ``d >= 1``.

    Returns:
        np.ndarray: ``(H, W)`` bool, ``mask`` minus its erosion by ``d``
        3x3 steps with zeros beyond the image border.
    """
    if width < 1:
        raise ValueError(f'the band width must be >= 1, got {width}')
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT,
                                value=0)
    # cv2.erode treats the outside of the padded image as foreground, so
    # the one-pixel zero frame is what makes the border a contour.
    eroded = cv2.erode(padded, _SQUARE, iterations=width)[1:-1, 1:-1]
    return (mask > eroded)


def check_tolerance(tolerance: Union[int, float]) -> None:
    """Refuse anything but pixels (int >= 0) or a fraction in (0, 1)."""
    if isinstance(tolerance, bool) or not isinstance(tolerance,
                                                     (int, float)):
        raise TypeError(
            f'tolerance must be an int (pixels) or a float (fraction of the '
            f'image diagonal), got {tolerance!r}')
    if isinstance(tolerance, int) and tolerance < 0:
        raise ValueError(
            f'tolerance in pixels must be >= 0, got {tolerance}')
    if isinstance(tolerance, float) and not 0 < tolerance < 1:
        raise ValueError(
            f'a float tolerance is a fraction of the image diagonal and '
            f'must lie in (0, 1), got {tolerance}; give pixels as an int')


def tolerance_in_pixels(tolerance: Union[int, float], height: int,
                        width: int) -> float:
    """Pixels for an int tolerance, a fraction of the diagonal for a float."""
    check_tolerance(tolerance)
    if isinstance(tolerance, float):
        # As BSDS: maxDist * sqrt(rows^2 + cols^2).
        return tolerance * math.sqrt(height * height + width * width)
    return float(tolerance)


def _search_radius(tolerance: float) -> float:
    """A k-d tree radius that finds exactly the pairs within ``tolerance``.

    Pixel coordinates are integers, so a squared distance ``d2`` is an
    integer and BSDS's test ``d2 <= tolerance ** 2`` is ``d2 <= K`` with
    ``K = floor(tolerance ** 2)``; a radius halfway (in squares) to the
    next integer keeps the tree's floating-point test away from both.
    """
    return math.sqrt(math.floor(tolerance * tolerance) + 0.5)


def _count_within(sources: np.ndarray, targets: np.ndarray,
                  tolerance: float) -> int:
    """``matching='distance'``: how many ``sources`` have one of
    ``targets`` within reach.

    Both are ``(N, 2)`` pixel coordinates. The distance from a source to
    the nearest target is what ``distance_transform_edt`` of the
    target-free mask holds at the source; boundaries are sparse, so a k-d
    tree over the targets finds it far faster than a transform over the
    whole image.
    """
    if len(sources) == 0 or len(targets) == 0:
        return 0
    radius = _search_radius(tolerance)
    # Sources with no target within ``radius`` get an infinite distance.
    distance, _ = cKDTree(targets).query(
        sources, k=1, distance_upper_bound=radius)
    return int(np.count_nonzero(distance <= radius))


def _count_one_to_one(pred: np.ndarray, gt: np.ndarray,
                      tolerance: float) -> int:
    """``matching='bsds'``: size of a maximum one-to-one matching.

    The matching is a maximum flow from a source through every predicted
    pixel, the pairs within the tolerance and every ground-truth pixel to
    a sink, all of capacity 1 (Dinic's algorithm, exact, O(E sqrt(V))).
    ``scipy.sparse.csgraph.maximum_bipartite_matching`` would give the
    same number, but its Hopcroft-Karp search can take exponential time on
    layered graphs (scipy issue 26147), which pixels along a contour are:
    on a Cityscapes-size image it does not return within minutes.

    Args:
        pred (np.ndarray): ``(P, 2)`` predicted boundary pixels.
        gt (np.ndarray): ``(G, 2)`` ground-truth boundary pixels.
        tolerance (float): Largest matching distance in pixels.

    Returns:
        int: The number of (pred, gt) pairs of a maximum matching of the
        bipartite graph whose edges join pixels within the tolerance.
    """
    num_pred, num_gt = len(pred), len(gt)
    if num_pred == 0 or num_gt == 0:
        return 0
    pairs = cKDTree(pred).sparse_distance_matrix(
        cKDTree(gt), _search_radius(tolerance), output_type='ndarray')
    if pairs.size == 0:
        return 0
    # (P, G) adjacency with its rows grouped (a counting sort in C).
    edges = coo_matrix((np.ones(pairs.size, dtype=np.int32),
                        (pairs['i'], pairs['j'])),
                       shape=(num_pred, num_gt)).tocsr()
    # Nodes: source 0, predicted pixels 1..P, ground-truth pixels
    # P+1..P+G, sink P+G+1. Rows in that order: the source's P edges, each
    # predicted pixel's pairs, each ground-truth pixel's edge to the sink.
    sink = num_pred + num_gt + 1
    num_edges = edges.indptr[-1]
    to_sink = num_pred + num_edges + np.arange(1, num_gt + 1)
    # The sink's row is empty: its end repeats the last one.
    indptr = np.concatenate(
        [[0], num_pred + edges.indptr, to_sink, to_sink[-1:]])
    indices = np.concatenate([
        np.arange(1, num_pred + 1), edges.indices + num_pred + 1,
        np.full(num_gt, sink)
    ])
    network = csr_matrix(
        (np.ones(indices.size, dtype=np.int32), indices.astype(np.int32),
         indptr.astype(np.int32)),
        shape=(sink + 1, sink + 1))
    return int(maximum_flow(network, 0, sink).flow_value)


def boundary_counts(pred: np.ndarray,
                    gt: np.ndarray,
                    num_classes: int,
                    tolerance: Union[int, float] = BSDS_MAX_DIST,
                    ignore_index: int = 255,
                    connectivity: int = 4,
                    matching: str = 'bsds',
                    boundary: str = 'thin') -> np.ndarray:
    """Per-class boundary matching counts of one image.

    Args:
        pred (np.ndarray): ``(H, W)`` predicted class ids in
            ``[0, num_classes)``.
        gt (np.ndarray): ``(H, W)`` ground-truth class ids or
            ``ignore_index``.
        num_classes (int): Number of classes ``C``.
        tolerance (int | float): Pixels (int) or a fraction of the image
            diagonal (float < 1). Default: 0.0075, as BSDS.
        ignore_index (int): Ignored ground-truth label. Default: 255.
        connectivity (int): 4 or 8, for ``boundary='inner'``. Default: 4.
        matching (str): 'bsds' (one to one) or 'distance'.
            Default: 'bsds'.
        boundary (str): 'thin' or 'inner'. Default: 'thin'.

    Returns:
        np.ndarray: ``(4, C)`` int64; rows are the matched and total
        predicted boundary pixels, then the matched and total ground-truth
        boundary pixels (indices ``MATCHED_PRED``, ``TOTAL_PRED``,
        ``MATCHED_GT``, ``TOTAL_GT``).
    """
    check_boundary_options(matching, boundary, connectivity)
    pred, gt = check_label_maps(pred, gt, num_classes, ignore_index)
    radius = tolerance_in_pixels(tolerance, *gt.shape)
    pred = np.where(gt == ignore_index, ignore_index, pred)
    pred_points = class_boundaries(pred, ignore_index, boundary, connectivity)
    gt_points = class_boundaries(gt, ignore_index, boundary, connectivity)

    counts = np.zeros((4, num_classes), dtype=np.int64)
    empty = np.zeros((0, 2), dtype=np.int64)
    for cls in set(pred_points) | set(gt_points):
        pred_c = pred_points.get(cls, empty)
        gt_c = gt_points.get(cls, empty)
        if matching == 'bsds':
            matched = _count_one_to_one(pred_c, gt_c, radius)
            counts[MATCHED_PRED, cls] = counts[MATCHED_GT, cls] = matched
        else:
            counts[MATCHED_PRED, cls] = _count_within(pred_c, gt_c, radius)
            counts[MATCHED_GT, cls] = _count_within(gt_c, pred_c, radius)
        counts[TOTAL_PRED, cls] = len(pred_c)
        counts[TOTAL_GT, cls] = len(gt_c)
    return counts


def boundary_scores(counts: np.ndarray) -> Dict[str, np.ndarray]:
    """Per-class precision, recall and F-score (fractions) from counts.

    Args:
        counts (np.ndarray): ``(4, C)`` summed :func:`boundary_counts`.

    Returns:
        dict[str, np.ndarray]: ``bPrecision``, ``bRecall``, ``bFscore``,
        ``(C,)`` each. Precision is NaN (undefined) for a class without
        predicted boundary pixels, recall for one without ground-truth
        boundary pixels; F is NaN when both are, 0 when only one is (all
        of that class's boundaries are missed or false).
    """
    counts = np.asarray(counts, dtype=np.float64)
    precision = safe_divide(counts[MATCHED_PRED], counts[TOTAL_PRED])
    recall = safe_divide(counts[MATCHED_GT], counts[TOTAL_GT])
    denominator = np.nan_to_num(precision) + np.nan_to_num(recall)
    fscore = safe_divide(
        2 * np.nan_to_num(precision) * np.nan_to_num(recall), denominator)
    has_boundary = (counts[TOTAL_PRED] + counts[TOTAL_GT]) > 0
    fscore = np.where(has_boundary, np.nan_to_num(fscore), np.nan)
    return dict(bPrecision=precision, bRecall=recall, bFscore=fscore)
