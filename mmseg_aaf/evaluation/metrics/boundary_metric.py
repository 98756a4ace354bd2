# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Per-class semantic boundary precision, recall and F-score.

Definitions used throughout (``ignore`` is ``ignore_index``):

* **Boundary of class c** in a label map: the pixels labelled ``c`` that
  have at least one neighbour inside the image labelled with another class
  that is not ``ignore``. Neighbours are the 4-connected ones by default
  (``connectivity=8`` adds the diagonals). Both sides of a contact between
  two classes are therefore boundary pixels, each of its own class; the
  image border is no boundary, and neither is a contact with an ignored
  region.
* Before its boundaries are taken, the prediction is masked with the
  ground truth's ignored pixels, so predicted boundary pixels never lie in
  an ignored region, and a prediction equal to the ground truth scores a
  precision and recall of exactly 1.
* **Matching is by distance**, not the one-to-one assignment of the BSDS
  benchmark: a predicted boundary pixel of class ``c`` is matched when a
  ground-truth boundary pixel of class ``c`` lies within the tolerance
  (Euclidean distance ``<=`` tolerance, i.e. where
  ``scipy.ndimage.distance_transform_edt`` of the complement of the
  ground-truth boundary is ``<=`` tolerance); symmetrically a ground-truth
  boundary pixel is matched when a predicted one of its class lies within
  the tolerance. Several pixels may match the same pixel.

Note for PASCAL VOC: its annotations surround every object with a band of
void (255) pixels, so by the definition above most object contours have no
ground-truth boundary; only contacts between labelled regions count.
"""
import math
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS
from scipy.spatial import cKDTree

from ..per_class_results import dump_per_class_results
from .metric_utils import (check_label_range, label_map_from_sample,
                           log_class_table, percent_mean, safe_divide)

#: Rows of the per-image statistics returned by :func:`boundary_counts`.
MATCHED_PRED, TOTAL_PRED, MATCHED_GT, TOTAL_GT = range(4)

_NEIGHBOUR_OFFSETS = {
    4: ((0, 1), (1, 0), (0, -1), (-1, 0)),
    8: ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1),
        (-1, -1)),
}


def _check_connectivity(connectivity: int) -> None:
    if connectivity not in _NEIGHBOUR_OFFSETS:
        raise ValueError(
            f'connectivity must be 4 or 8, got {connectivity!r}')


def semantic_boundaries(label: np.ndarray,
                        ignore_index: int = 255,
                        connectivity: int = 4) -> np.ndarray:
    """Boundary pixels of a label map (see the module docstring).

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
        return tolerance * math.hypot(height, width)
    return float(tolerance)


def _count_within(sources: np.ndarray, targets: np.ndarray,
                  tolerance: float) -> int:
    """How many ``sources`` have one of ``targets`` within reach.

    Both are ``(N, 2)`` pixel coordinates. The Euclidean distance from a
    source to the nearest target is what ``distance_transform_edt`` of the
    target-free mask holds at the source; boundaries are sparse, so a k-d
    tree over the targets finds it far faster than a transform over the
    whole image.
    """
    if len(sources) == 0 or len(targets) == 0:
        return 0
    # The bound only prunes the search; the test below decides.
    distance, _ = cKDTree(targets).query(
        sources, k=1, distance_upper_bound=tolerance + 1)
    return int(np.count_nonzero(distance <= tolerance))


def boundary_counts(pred: np.ndarray,
                    gt: np.ndarray,
                    num_classes: int,
                    tolerance: Union[int, float] = 2,
                    ignore_index: int = 255,
                    connectivity: int = 4) -> np.ndarray:
    """Per-class boundary matching counts of one image.

    Args:
        pred (np.ndarray): ``(H, W)`` predicted class ids in
            ``[0, num_classes)``.
        gt (np.ndarray): ``(H, W)`` ground-truth class ids or
            ``ignore_index``.
        num_classes (int): Number of classes ``C``.
        tolerance (int | float): Pixels (int) or a fraction of the image
            diagonal (float < 1).
        ignore_index (int): Ignored ground-truth label. Default: 255.
        connectivity (int): 4 or 8. Default: 4.

    Returns:
        np.ndarray: ``(4, C)`` int64; rows are the matched and total
        predicted boundary pixels, then the matched and total ground-truth
        boundary pixels (indices ``MATCHED_PRED``, ``TOTAL_PRED``,
        ``MATCHED_GT``, ``TOTAL_GT``).
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(
            f'prediction {pred.shape} and ground truth {gt.shape} must be '
            'two maps of the same (H, W) shape')
    check_label_range(gt, num_classes, ignore_index, 'the ground truth')
    check_label_range(pred, num_classes, ignore_index, 'the prediction',
                      allow_ignore=False)
    radius = tolerance_in_pixels(tolerance, *gt.shape)
    pred = np.where(gt == ignore_index, ignore_index, pred)
    pred_boundary = semantic_boundaries(pred, ignore_index, connectivity)
    gt_boundary = semantic_boundaries(gt, ignore_index, connectivity)

    counts = np.zeros((4, num_classes), dtype=np.int64)
    # Coordinates and classes of the boundary pixels, in the same order.
    pred_points = np.argwhere(pred_boundary)
    pred_classes = pred[pred_boundary]
    gt_points = np.argwhere(gt_boundary)
    gt_classes = gt[gt_boundary]
    for cls in np.union1d(pred_classes, gt_classes):
        pred_c = pred_points[pred_classes == cls]
        gt_c = gt_points[gt_classes == cls]
        counts[MATCHED_PRED, cls] = _count_within(pred_c, gt_c, radius)
        counts[TOTAL_PRED, cls] = len(pred_c)
        counts[MATCHED_GT, cls] = _count_within(gt_c, pred_c, radius)
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


@METRICS.register_module()
class BoundaryMetric(BaseMetric):
    """Semantic boundary precision, recall and F-score.

    Boundaries, the role of ignored pixels and the distance-based matching
    are defined in :mod:`mmseg_aaf.evaluation.metrics.boundary_metric`.
    Counts are summed over the whole evaluated set per class, then turned
    into per-class scores; the returned values are class means, in percent
    and rounded to 2 decimals like ``IoUMetric``:

    * ``bPrecision``: mean over classes with predicted boundary pixels;
    * ``bRecall``: mean over classes with ground-truth boundary pixels;
    * ``bFscore``: mean over classes with boundary pixels on either side.

    A class with no boundary pixel in an image (in particular one absent
    from both maps) adds nothing for that image. When no class qualifies
    for a mean (e.g. everything ignored) the value is 0.0, never NaN.

    Config::

        val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                         dict(type='BoundaryMetric', tolerance=2)]

    Args:
        tolerance (int | float): Matching distance: pixels as an int >= 0,
            or a fraction of each image's diagonal as a float in (0, 1).
            Default: 2.
        ignore_index (int): Ignored ground-truth label. Default: 255.
        connectivity (int): Neighbourhood defining boundaries, 4 or 8.
            Default: 4.
        output_file (str, optional): Where to write the per-class results
            JSON (see :mod:`mmseg_aaf.evaluation.per_class_results`).
        collect_device (str): Device for gathering results across ranks.
            Default: 'cpu'.
        prefix (str, optional): Prefix of the returned keys.
    """

    def __init__(self,
                 tolerance: Union[int, float] = 2,
                 ignore_index: int = 255,
                 connectivity: int = 4,
                 output_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if kwargs:
            raise TypeError(
                f'BoundaryMetric got unexpected argument(s) {sorted(kwargs)}')
        check_tolerance(tolerance)
        _check_connectivity(connectivity)
        self.tolerance = tolerance
        self.ignore_index = ignore_index
        self.connectivity = connectivity
        self.output_file = output_file

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Append the ``(4, C)`` boundary counts of every sample."""
        num_classes = len(self.dataset_meta['classes'])
        for data_sample in data_samples:
            pred = label_map_from_sample(data_sample, 'pred_sem_seg')
            gt = label_map_from_sample(data_sample, 'gt_sem_seg')
            self.results.append(
                boundary_counts(pred, gt, num_classes, self.tolerance,
                                self.ignore_index, self.connectivity))

    def compute_metrics(self, results: List[np.ndarray]) -> Dict[str, float]:
        logger: MMLogger = MMLogger.get_current_instance()
        class_names = list(self.dataset_meta['classes'])
        counts = np.sum(results, axis=0) if results else np.zeros(
            (4, len(class_names)), dtype=np.int64)
        per_class = boundary_scores(counts)
        log_class_table(class_names, per_class, logger)
        metrics = {name: percent_mean(v) for name, v in per_class.items()}
        if not (counts[TOTAL_PRED] + counts[TOTAL_GT]).any():
            print_log(
                'BoundaryMetric: no boundary pixel in any prediction or '
                'ground truth; reporting 0.0', logger=logger, level=30)
        if self.output_file and is_main_process():
            dump_per_class_results(
                self.output_file, class_names,
                {k: v * 100 for k, v in per_class.items()}, metrics)
            print_log(
                'per-class boundary results written to '
                f'{osp.abspath(self.output_file)}', logger=logger)
        return metrics
