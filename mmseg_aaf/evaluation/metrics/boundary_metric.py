# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Per-class semantic boundary precision, recall and F-score.

The metric class :class:`BoundaryMetric`. What it computes (boundary
pixels, ignored pixels, tolerance, matching, scores) is defined, and
implemented, in :mod:`mmseg_aaf.evaluation.metrics.boundaries`; the names
of that part are importable from here too.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS

from ..per_class_results import dump_per_class_results
from .boundaries import (  # noqa: F401  (also re-exported)
    BOUNDARIES, BSDS_MAX_DIST, MATCHED_GT, MATCHED_PRED, MATCHINGS, TOTAL_GT,
    TOTAL_PRED, _count_one_to_one, boundary_counts, boundary_scores,
    check_boundary_options, check_tolerance, class_boundaries,
    semantic_boundaries, tolerance_in_pixels)
from .metric_utils import label_map_from_sample, log_class_table, percent_mean


@METRICS.register_module()
class BoundaryMetric(BaseMetric):
    """Semantic boundary precision, recall and F-score.

    By default the SBD / Cityscapes semantic boundary benchmark as
    pyEdgeEval computes it ("thin" protocol), on the boundaries of label
    maps: both sides of every class contact, thinned; one-to-one (BSDS)
    matching within 0.0075 of the image diagonal. The boundary pixels, the
    role of ignored pixels, the tolerance and the matching are defined
    exactly in :mod:`mmseg_aaf.evaluation.metrics.boundaries`.
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
                         dict(type='BoundaryMetric')]

    The rule of earlier releases is ``dict(type='BoundaryMetric',
    tolerance=2, matching='distance', boundary='inner')``.

    Args:
        tolerance (int | float): Matching distance: pixels as an int >= 0,
            or a fraction of each image's diagonal as a float in (0, 1).
            Default: 0.0075 (BSDS's ``maxDist``).
        matching (str): 'bsds' (maximum one-to-one matching) or 'distance'
            (any pixel of the other side within the tolerance).
            Default: 'bsds'.
        boundary (str): 'thin' (both sides of each contact, thinned, as
            pyEdgeEval) or 'inner' (the class's own pixels at a contact).
            Default: 'thin'.
        ignore_index (int): Ignored ground-truth label. Default: 255.
        connectivity (int): Neighbourhood of ``boundary='inner'``, 4 or 8;
            'thin' takes 4 only. Default: 4.
        output_file (str, optional): Where to write the per-class results
            JSON (see :mod:`mmseg_aaf.evaluation.per_class_results`).
        collect_device (str): Device for gathering results across ranks.
            Default: 'cpu'.
        prefix (str, optional): Prefix of the returned keys.
    """

    def __init__(self,
                 tolerance: Union[int, float] = BSDS_MAX_DIST,
                 matching: str = 'bsds',
                 boundary: str = 'thin',
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
        check_boundary_options(matching, boundary, connectivity)
        self.tolerance = tolerance
        self.matching = matching
        self.boundary = boundary
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
                boundary_counts(
                    pred,
                    gt,
                    num_classes,
                    self.tolerance,
                    self.ignore_index,
                    self.connectivity,
                    matching=self.matching,
                    boundary=self.boundary))

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
