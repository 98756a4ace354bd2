# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Centerline Dice, clDice (Shit et al., CVPR 2021).

clDice scores thin, tubular structures (vessels, roads, neurites) by their
centerlines: a missed or broken thin vessel costs a large share of the
skeleton but almost no pixels, so clDice moves where Dice and IoU barely
do. Exactly what is computed:

1. **Masks.** Per image and scored class ``c``: ``G = (gt == c)`` and
   ``P = (pred == c) & (gt != ignore_index)``. Ignored pixels are taken
   out of *both* masks **before** skeletonizing, so a structure that runs
   into an ignored region ends there in the ground truth and in the
   prediction alike, and what is predicted inside an ignored region adds
   nothing. A skeleton lies inside its mask, so no skeleton pixel falls on
   an ignored pixel and none is counted there.
2. **Skeletons.** ``S(M)`` is ``skimage.morphology.skeletonize(M,
   method='zhang')``, the 2D morphological skeleton (8-connected, one
   pixel wide; a one-pixel-wide line is its own skeleton; the image border
   acts as background). scikit-image is imported on first use; without it
   the metric refuses to be built, naming the package.
3. **Counts.** Per class, four pixel counts are summed over the evaluated
   images (the dataset's totals, not a mean of per-image scores):
   ``|S(P) & G|``, ``|S(P)|``, ``|S(G) & P|`` and ``|S(G)|``.
4. **Scores.** Topology precision ``Tprec = |S(P) & G| / |S(P)|`` and
   topology sensitivity ``Tsens = |S(G) & P| / |S(G)|``, from the summed
   counts; ``clDice = 2 Tprec Tsens / (Tprec + Tsens)``.

   *Empty skeletons.* ``Tprec`` is NaN when no predicted skeleton pixel
   was counted (``|S(P)| = 0`` over the dataset), ``Tsens`` when no
   ground-truth one was. ``clDice`` is NaN only when both are empty (the
   class is absent from the predictions and the ground truth); when one
   side is empty it is 0, the limit of the formula (a class only predicted
   has ``Tprec = 0``, a class never predicted ``Tsens = 0``), and 0 when
   both ratios are 0. NaN values are left out of the class means.

The returned ``clDice``, ``Tprec`` and ``Tsens`` are means over the scored
classes that are not NaN, in percent, rounded to 2 decimals like
``IoUMetric``'s ``mIoU`` (0.0, never NaN, when no class is defined). By
default every class but 0 (the background) is scored; with one foreground
class (DRIVE's vessel) the means are that class's values.
"""
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS

from ..per_class_results import dump_per_class_results
from .metric_utils import (check_label_maps, label_map_from_sample,
                           log_class_table, percent_mean, safe_divide)

#: Rows of the per-image statistics of :func:`centerline_counts`:
#: ``|S(P) & G|``, ``|S(P)|``, ``|S(G) & P|``, ``|S(G)|``.
PRED_SKEL_IN_GT, PRED_SKEL, GT_SKEL_IN_PRED, GT_SKEL = range(4)


def skeletonize_function() -> Callable[[np.ndarray], np.ndarray]:
    """scikit-image's 2D skeletonization, ``(H, W) bool -> (H, W) bool``.

    Raises:
        ImportError: scikit-image is not installed; the message names the
            package to install.
    """
    try:
        from skimage.morphology import skeletonize
    except ImportError as exc:
        raise ImportError(
            'CenterlineDiceMetric needs scikit-image for the skeletons: '
            'pip install scikit-image (the pinned version is in '
            'requirements/stack.txt)') from exc

    def skeleton(mask: np.ndarray) -> np.ndarray:
        # Zhang's method named explicitly: the 2D default of every release.
        return skeletonize(mask, method='zhang')

    return skeleton


def resolve_classes(classes: Optional[Sequence[Union[int, str]]],
                    class_names: Sequence[str]) -> List[int]:
    """The scored class indices, in increasing order.

    Args:
        classes (Sequence[int | str], optional): Indices or names of the
            classes to score; None for every class but 0.
        class_names (Sequence[str]): The dataset's ``C`` class names.

    Raises:
        ValueError: An index outside ``[0, C)``, an unknown name, a
            repeated class, or nothing to score.
    """
    num_classes = len(class_names)
    if classes is None:
        if num_classes < 2:
            raise ValueError(
                'CenterlineDiceMetric scores every class but 0 by default, '
                f'but the dataset has {num_classes} class(es); pass classes')
        return list(range(1, num_classes))
    indices = []
    for item in classes:
        if isinstance(item, str):
            if item not in class_names:
                raise ValueError(
                    f'class {item!r} is not one of the dataset classes '
                    f'{list(class_names)}')
            indices.append(list(class_names).index(item))
        elif not 0 <= item < num_classes:
            raise ValueError(f'class index {item} is outside [0, '
                             f'{num_classes}) (classes {list(class_names)})')
        else:
            indices.append(int(item))
    if len(set(indices)) != len(indices):
        raise ValueError(f'classes {list(classes)} name a class twice')
    return sorted(indices)


def _check_classes_argument(classes) -> None:
    if classes is None:
        return
    if isinstance(classes, (str, int)) or not len(classes):
        raise ValueError('classes must be a non-empty list of class '
                         f'indices or names, got {classes!r}')
    for item in classes:
        if isinstance(item, bool) or not isinstance(
                item, (str, int, np.integer)):
            raise ValueError('classes must hold class indices (int) or '
                             f'names (str), got {item!r}')


def centerline_counts(pred: np.ndarray,
                      gt: np.ndarray,
                      num_classes: int,
                      classes: Sequence[int],
                      ignore_index: int = 255,
                      skeleton: Optional[Callable] = None) -> np.ndarray:
    """Per-class skeleton counts of one image.

    Args:
        pred (np.ndarray): ``(H, W)`` predicted class ids in
            ``[0, num_classes)``.
        gt (np.ndarray): ``(H, W)`` ground-truth ids, or ``ignore_index``.
        num_classes (int): ``C``.
        classes (Sequence[int]): Indices of the scored classes; the
            columns of the others stay 0.
        ignore_index (int): Ignored ground-truth label.
        skeleton (callable, optional): ``(H, W) bool -> (H, W) bool``;
            default :func:`skeletonize_function`'s.

    Returns:
        np.ndarray: ``(4, C)`` int64: rows ``PRED_SKEL_IN_GT``,
        ``PRED_SKEL``, ``GT_SKEL_IN_PRED`` and ``GT_SKEL`` (see the
        module).
    """
    skeleton = skeleton or skeletonize_function()
    pred, gt = check_label_maps(pred, gt, num_classes, ignore_index)
    valid = gt != ignore_index
    counts = np.zeros((4, num_classes), dtype=np.int64)
    for cls in classes:
        gt_mask = (gt == cls) & valid
        pred_mask = (pred == cls) & valid
        pred_skel = skeleton(pred_mask) if pred_mask.any() else pred_mask
        gt_skel = skeleton(gt_mask) if gt_mask.any() else gt_mask
        counts[PRED_SKEL_IN_GT, cls] = np.count_nonzero(pred_skel & gt_mask)
        counts[PRED_SKEL, cls] = np.count_nonzero(pred_skel)
        counts[GT_SKEL_IN_PRED, cls] = np.count_nonzero(gt_skel & pred_mask)
        counts[GT_SKEL, cls] = np.count_nonzero(gt_skel)
    return counts


def centerline_scores(counts: np.ndarray) -> Dict[str, np.ndarray]:
    """``{'clDice', 'Tprec', 'Tsens'}``: ``(C,)`` fractions from summed
    ``(4, C)`` counts, with the NaN rules of the module."""
    counts = np.asarray(counts)
    tprec = safe_divide(counts[PRED_SKEL_IN_GT], counts[PRED_SKEL])
    tsens = safe_divide(counts[GT_SKEL_IN_PRED], counts[GT_SKEL])
    # An empty side counts as 0 in the harmonic mean (its limit) unless
    # both are empty.
    prec0, sens0 = np.nan_to_num(tprec), np.nan_to_num(tsens)
    cldice = safe_divide(2 * prec0 * sens0, prec0 + sens0)
    defined = (counts[PRED_SKEL] + counts[GT_SKEL]) > 0
    cldice = np.where(defined, np.nan_to_num(cldice), np.nan)
    return dict(clDice=cldice, Tprec=tprec, Tsens=tsens)


@METRICS.register_module()
class CenterlineDiceMetric(BaseMetric):
    """Centerline Dice (clDice) per scored class and its class mean.

    The masks, the role of ignored pixels, the skeletons, the dataset
    aggregation and the undefined cases are defined exactly in
    :mod:`mmseg_aaf.evaluation.metrics.centerline_dice_metric`. It reads
    ``pred_sem_seg`` and ``gt_sem_seg`` like ``IoUMetric`` and goes into any
    evaluator list::

        val_evaluator = [dict(type='IoUMetric', iou_metrics=['mDice']),
                         dict(type='CenterlineDiceMetric')]

    Returned keys, in percent: ``clDice``, ``Tprec`` and ``Tsens``, means
    over the scored classes; the log shows them per scored class.

    Args:
        classes (Sequence[int | str], optional): Indices or names of the
            classes to score. Default: None, every class but 0.
        ignore_index (int): Ignored ground-truth label. Default: 255.
        output_file (str, optional): Where to write the per-class results
            JSON (``clDice``, ``Tprec``, ``Tsens``; null for classes not
            scored; see :mod:`mmseg_aaf.evaluation.per_class_results`).
        collect_device (str): Device for gathering results across ranks.
            Default: 'cpu'.
        prefix (str, optional): Prefix of the returned keys.
    """

    def __init__(self,
                 classes: Optional[Sequence[Union[int, str]]] = None,
                 ignore_index: int = 255,
                 output_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if kwargs:
            raise TypeError('CenterlineDiceMetric got unexpected '
                            f'argument(s) {sorted(kwargs)}')
        _check_classes_argument(classes)
        # Fails now, not after a training, when scikit-image is missing.
        self._skeleton = skeletonize_function()
        self.classes = None if classes is None else list(classes)
        self.ignore_index = ignore_index
        self.output_file = output_file

    def scored_classes(self) -> List[int]:
        """Indices of the scored classes of ``dataset_meta``."""
        return resolve_classes(self.classes, self.dataset_meta['classes'])

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Append the ``(4, C)`` skeleton counts of every sample."""
        num_classes = len(self.dataset_meta['classes'])
        scored = self.scored_classes()
        for data_sample in data_samples:
            self.results.append(
                centerline_counts(
                    label_map_from_sample(data_sample, 'pred_sem_seg'),
                    label_map_from_sample(data_sample, 'gt_sem_seg'),
                    num_classes, scored, self.ignore_index,
                    self._skeleton))

    def compute_metrics(self, results: List[np.ndarray]) -> Dict[str, float]:
        logger: MMLogger = MMLogger.get_current_instance()
        class_names = list(self.dataset_meta['classes'])
        scored = self.scored_classes()
        counts = np.sum(results, axis=0) if results else np.zeros(
            (4, len(class_names)), dtype=np.int64)
        per_class = centerline_scores(counts)
        log_class_table([class_names[c] for c in scored],
                        {k: v[scored] for k, v in per_class.items()}, logger)
        metrics = {k: percent_mean(v[scored]) for k, v in per_class.items()}
        if not (counts[PRED_SKEL] + counts[GT_SKEL])[scored].any():
            print_log(
                'CenterlineDiceMetric: no skeleton pixel of a scored class '
                'in any prediction or ground truth; reporting 0.0',
                logger=logger, level=30)
        if self.output_file and is_main_process():
            unscored = np.ones(len(class_names), dtype=bool)
            unscored[scored] = False
            dump_per_class_results(
                self.output_file, class_names,
                {k: np.where(unscored, np.nan, v * 100)
                 for k, v in per_class.items()}, metrics)
            print_log(
                'per-class clDice results written to '
                f'{osp.abspath(self.output_file)}', logger=logger)
        return metrics
