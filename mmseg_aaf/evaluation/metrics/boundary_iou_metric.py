# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Boundary IoU (Cheng, Girshick, Dollár, Berg and Kirillov, CVPR 2021).

Boundary IoU scores a segmentation by the overlap of thin bands along the
contours of the predicted and the ground-truth masks, so it is as
sensitive to a misplaced contour on a large object as on a small one
(mask IoU barely moves when a large object's contour is off by a few
pixels). Exactly what is computed:

1. **Masks.** Per image and class ``c``: ``G_c = (gt == c)`` and
   ``P_c = (pred == c) & (gt != ignore_index)``. Ignored pixels are taken
   out of *both* masks **before** the bands are formed: a region that
   touches an ignored region has a contour there, in the ground truth and
   in the (equally masked) prediction alike, so a prediction equal to the
   ground truth scores 1 and nothing predicted inside an ignored region
   counts.
2. **Band.** ``B(M)``, the boundary band of a binary mask ``M``: the
   pixels of ``M`` within ``d`` (Chebyshev) of its outside or of the image
   border, as the official ``mask_to_boundary``, with ``d`` a fraction
   ``dilation_ratio`` of the image diagonal (at least 1), per image;
   defined exactly in :mod:`mmseg_aaf.evaluation.metrics.boundaries`
   ("Boundary IoU bands"), with the semantic boundaries of
   ``BoundaryMetric``.
3. **Aggregation.** Per class, ``|B(G_c) & B(P_c)|`` and ``|B(G_c) |
   B(P_c)|`` are summed over the evaluated images; Boundary IoU of ``c``
   is their ratio, NaN when the summed union is empty (the class has no
   band in any image, in particular when it is absent from both). The
   reported ``mBIoU`` is the mean over the classes that are not NaN, in
   percent, rounded to 2 decimals like ``IoUMetric``'s ``mIoU``.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS

from ..per_class_results import dump_per_class_results
from .boundaries import band_width, check_dilation_ratio, mask_boundary_band
from .metric_utils import (check_label_maps, label_map_from_sample,
                           log_class_table, percent_mean, safe_divide)

#: The default band width, a fraction of the image diagonal: COCO / LVIS.
COCO_DILATION_RATIO = 0.02
#: The official choice for Cityscapes.
CITYSCAPES_DILATION_RATIO = 0.005

#: Rows of the per-image statistics of :func:`boundary_iou_counts`.
INTERSECTION, UNION = range(2)


def boundary_iou_counts(pred: np.ndarray,
                        gt: np.ndarray,
                        num_classes: int,
                        dilation_ratio: float = COCO_DILATION_RATIO,
                        ignore_index: int = 255) -> np.ndarray:
    """Per-class band intersections and unions of one image.

    Args:
        pred (np.ndarray): ``(H, W)`` predicted class ids in
            ``[0, num_classes)``.
        gt (np.ndarray): ``(H, W)`` ground-truth ids, or ``ignore_index``.
        num_classes (int): ``C``.
        dilation_ratio (float): Band width as a fraction of the diagonal.
        ignore_index (int): Ignored ground-truth label.

    Returns:
        np.ndarray: ``(2, C)`` int64: ``INTERSECTION`` and ``UNION`` pixel
        counts of the bands of ``P_c`` and ``G_c`` (see the module).
    """
    check_dilation_ratio(dilation_ratio)
    pred, gt = check_label_maps(pred, gt, num_classes, ignore_index)
    d = band_width(*gt.shape, dilation_ratio)
    valid = gt != ignore_index
    counts = np.zeros((2, num_classes), dtype=np.int64)
    for cls in np.union1d(np.unique(pred[valid]), np.unique(gt[valid])):
        gt_band = mask_boundary_band(gt == cls, d)
        pred_band = mask_boundary_band((pred == cls) & valid, d)
        counts[INTERSECTION, cls] = np.count_nonzero(gt_band & pred_band)
        counts[UNION, cls] = np.count_nonzero(gt_band | pred_band)
    return counts


def boundary_iou_scores(counts: np.ndarray) -> Dict[str, np.ndarray]:
    """``{'BIoU': (C,)}`` fractions from summed counts; NaN for an empty
    union."""
    counts = np.asarray(counts)
    return dict(BIoU=safe_divide(counts[INTERSECTION], counts[UNION]))


@METRICS.register_module()
class BoundaryIoUMetric(BaseMetric):
    """Boundary IoU per class and its class mean ``mBIoU``.

    The treatment of ignored pixels and the dataset aggregation are
    defined exactly in :mod:`mmseg_aaf.evaluation.metrics.
    boundary_iou_metric`, the bands in :mod:`mmseg_aaf.evaluation.metrics.
    boundaries`. It reads ``pred_sem_seg`` and ``gt_sem_seg`` like
    ``IoUMetric`` and goes into any evaluator list::

        val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                         dict(type='BoundaryMetric'),
                         dict(type='BoundaryIoUMetric')]

    Args:
        dilation_ratio (float): Band width as a fraction of each image's
            diagonal, in (0, 1). Default: 0.02 (COCO / LVIS); 0.005 is the
            official Cityscapes setting.
        ignore_index (int): Ignored ground-truth label. Default: 255.
        output_file (str, optional): Where to write the per-class results
            JSON (``BIoU``, see
            :mod:`mmseg_aaf.evaluation.per_class_results`).
        collect_device (str): Device for gathering results across ranks.
            Default: 'cpu'.
        prefix (str, optional): Prefix of the returned key.
    """

    def __init__(self,
                 dilation_ratio: float = COCO_DILATION_RATIO,
                 ignore_index: int = 255,
                 output_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if kwargs:
            raise TypeError('BoundaryIoUMetric got unexpected argument(s) '
                            f'{sorted(kwargs)}')
        check_dilation_ratio(dilation_ratio)
        self.dilation_ratio = dilation_ratio
        self.ignore_index = ignore_index
        self.output_file = output_file

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Append the ``(2, C)`` band counts of every sample."""
        num_classes = len(self.dataset_meta['classes'])
        for data_sample in data_samples:
            self.results.append(
                boundary_iou_counts(
                    label_map_from_sample(data_sample, 'pred_sem_seg'),
                    label_map_from_sample(data_sample, 'gt_sem_seg'),
                    num_classes, self.dilation_ratio, self.ignore_index))

    def compute_metrics(self, results: List[np.ndarray]) -> Dict[str, float]:
        logger: MMLogger = MMLogger.get_current_instance()
        class_names = list(self.dataset_meta['classes'])
        counts = np.sum(results, axis=0) if results else np.zeros(
            (2, len(class_names)), dtype=np.int64)
        per_class = boundary_iou_scores(counts)
        log_class_table(class_names, per_class, logger)
        metrics = dict(mBIoU=percent_mean(per_class['BIoU']))
        if not counts[UNION].any():
            print_log(
                'BoundaryIoUMetric: no boundary band in any prediction or '
                'ground truth; reporting 0.0', logger=logger, level=30)
        if self.output_file and is_main_process():
            dump_per_class_results(self.output_file, class_names,
                                   {'BIoU': per_class['BIoU'] * 100},
                                   dict(BIoU=metrics['mBIoU']))
            print_log(
                'per-class Boundary IoU results written to '
                f'{osp.abspath(self.output_file)}', logger=logger)
        return metrics
