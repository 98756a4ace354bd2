# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Instance-aware IoU: the AAF paper's instance-wise mIoU and Cityscapes iIoU.

Both need the ground-truth instance map of every image
(``data_sample['gt_instance_seg']['data']``, ``(1, H, W)``, 0 = no
instance), loaded by ``LoadInstanceAnnotations`` and packed by
``PackSegInputsWithInstances``. The class of an instance is the majority
ground-truth semantic label under its pixels, ignored pixels excluded; an
instance whose pixels are all ignored has no class and is skipped (this is
how Cityscapes instances of classes without a train id, e.g. caravan, drop
out).
"""
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS

from ..per_class_results import dump_per_class_results
from .metric_utils import (check_label_range, label_map_from_sample,
                           log_class_table, percent_mean, safe_divide)

#: The classes of Cityscapes' class-level iIoU.
CITYSCAPES_INSTANCE_CLASSES = ('person', 'rider', 'car', 'truck', 'bus',
                               'train', 'motorcycle', 'bicycle')

#: Mean instance size (pixels) per class on the Cityscapes train set, as
#: fixed in cityscapesScripts' evalPixelLevelSemanticLabeling.py
#: (``args.avgClassSize``); caravan and trailer have no train id.
CITYSCAPES_AVG_CLASS_SIZE = {
    'bicycle': 4672.3249222261,
    'caravan': 36771.8241758242,
    'motorcycle': 6298.7200839748,
    'rider': 3930.4788056518,
    'bus': 35732.1511111111,
    'train': 67583.7075812274,
    'car': 12794.0202738185,
    'person': 3462.4756337644,
    'truck': 27855.1264367816,
    'trailer': 16926.9763313609,
}


def check_maps(pred: np.ndarray, gt: np.ndarray, instances: np.ndarray,
               num_classes: int, ignore_index: int) -> None:
    """Refuse maps of different shapes or with out-of-range ids."""
    if not (pred.shape == gt.shape == instances.shape) or gt.ndim != 2:
        raise ValueError(
            f'prediction {pred.shape}, ground truth {gt.shape} and instance '
            f'map {instances.shape} must share one (H, W) shape')
    check_label_range(gt, num_classes, ignore_index, 'the ground truth')
    check_label_range(pred, num_classes, ignore_index, 'the prediction',
                      allow_ignore=False)
    if (instances < 0).any():
        raise ValueError('instance ids must be >= 0 (0 = no instance)')


def instance_classes(instances: np.ndarray, gt: np.ndarray,
                     ignore_index: int) -> List[Tuple[int, int]]:
    """``(instance id, class)`` of every instance that has a class.

    Args:
        instances (np.ndarray): ``(H, W)`` instance ids, 0 = no instance.
        gt (np.ndarray): ``(H, W)`` semantic ids or ``ignore_index``.
        ignore_index (int): Ignored semantic label.

    Returns:
        list[tuple[int, int]]: Sorted by instance id; the class is the most
        frequent non-ignored label under the instance (the smallest id on
        a tie).
    """
    labelled = (instances > 0) & (gt != ignore_index)
    pairs = []
    for inst_id in np.unique(instances[labelled]):
        labels = gt[labelled & (instances == inst_id)]
        pairs.append((int(inst_id), int(np.bincount(labels).argmax())))
    return pairs


def paper_instance_stats(pred: np.ndarray, gt: np.ndarray,
                         instances: np.ndarray, num_classes: int,
                         ignore_index: int = 255) -> np.ndarray:
    """One image's share of the instance-wise mIoU of the AAF paper.

    Returns:
        np.ndarray: ``(2, C)`` float64: row 0 is ``n_c * U_c``, row 1 is
        ``n_c``, with ``n_c`` the number of ground-truth instances of class
        ``c`` in the image and ``U_c`` the image's IoU of class ``c``
        (ignored pixels excluded). Classes without instances get 0.
    """
    check_maps(pred, gt, instances, num_classes, ignore_index)
    counts = np.zeros(num_classes, dtype=np.float64)
    for _, cls in instance_classes(instances, gt, ignore_index):
        counts[cls] += 1
    valid = gt != ignore_index
    pred, gt = pred[valid], gt[valid]
    intersection = np.bincount(gt[pred == gt], minlength=num_classes)
    union = (np.bincount(pred, minlength=num_classes) +
             np.bincount(gt, minlength=num_classes) - intersection)
    # A class with an instance has ground-truth pixels, so its union > 0.
    iou = np.nan_to_num(safe_divide(intersection, union))
    return np.stack([counts * iou, counts])


def cityscapes_iiou_stats(pred: np.ndarray, gt: np.ndarray,
                          instances: np.ndarray, num_classes: int,
                          class_ids: Sequence[int],
                          avg_sizes: Sequence[float],
                          ignore_index: int = 255) -> np.ndarray:
    """One image's weighted TP/FN and FP for Cityscapes' class-level iIoU.

    As in cityscapesScripts' evalPixelLevelSemanticLabeling.py (2.3.0;
    the tests check it against that script), every ground-truth instance
    of class ``c`` and size ``s`` adds its true positives (pixels predicted
    ``c``) and false negatives, each weighted by ``avg_size[c] / s``.
    False positives are not weighted: all pixels predicted ``c`` whose
    ground truth is another, non-ignored class, whether or not they lie on
    an instance. Pixels of class ``c`` outside every instance (Cityscapes'
    group regions, id < 1000 in ``instanceIds``) are neither true
    positives, false negatives nor false positives; instances of classes
    without a train id (caravan, trailer) have no class and add nothing.

    cityscapesScripts takes an instance's class from its id (``id //
    1000``) and its size from all its pixels; here the class is the
    majority label under it and ignored pixels do not count. On Cityscapes
    annotations, where every pixel of an instance carries its class, the
    two are the same; they differ only where an instance has ignored
    pixels (e.g. the padding of a crop), which this leaves out as
    everywhere else.

    Args:
        class_ids (Sequence[int]): The ``K`` evaluated class ids.
        avg_sizes (Sequence[float]): Their ``K`` average instance sizes.

    Returns:
        np.ndarray: ``(3, K)`` float64: weighted TP, weighted FN, FP.
    """
    check_maps(pred, gt, instances, num_classes, ignore_index)
    position = {cls: k for k, cls in enumerate(class_ids)}
    stats = np.zeros((3, len(class_ids)), dtype=np.float64)
    for inst_id, cls in instance_classes(instances, gt, ignore_index):
        if cls not in position:
            continue
        mask = (instances == inst_id) & (gt != ignore_index)
        size = np.count_nonzero(mask)
        true_pos = np.count_nonzero(pred[mask] == cls)
        weight = avg_sizes[position[cls]] / size
        stats[0, position[cls]] += true_pos * weight
        stats[1, position[cls]] += (size - true_pos) * weight
    valid = gt != ignore_index
    for cls, k in position.items():
        stats[2, k] = np.count_nonzero((pred == cls) & valid & (gt != cls))
    return stats


@METRICS.register_module()
class InstanceIoUMetric(BaseMetric):
    """Instance-aware IoU, per the AAF paper or per Cityscapes.

    ``definition='paper'`` returns ``mIoU_instance``, the instance-wise mIoU
    of the AAF paper (Ke et al., ECCV 2018): per class
    ``U_c = sum_x n_{c,x} * U_{c,x} / sum_x n_{c,x}``, with ``n_{c,x}`` the
    number of ground-truth instances of class ``c`` in image ``x`` and
    ``U_{c,x}`` the IoU of class ``c`` in image ``x``; the mean runs over
    the classes with at least one instance in the evaluated set (so VOC's
    background, which has none, does not enter). The authors' script
    (``benchmark_by_instance.py``) tests its loop counter instead of the
    instance id against 255, so it also counts the instance-free region
    (id 0) and the void boundary (id 255) of every image as two more
    instances, both of class background; this implementation does not.

    ``definition='cityscapes'`` returns ``iIoU``, the class-level iIoU of
    cityscapesScripts (evalPixelLevelSemanticLabeling.py):
    ``iIoU_c = wTP / (wTP + wFN + FP)`` where true positives and false
    negatives of every instance are weighted by the average instance size
    of its class over its own size, and false positives are unweighted
    pixels predicted ``c`` on another non-ignored class (see
    :func:`cityscapes_iiou_stats`); the mean runs over the evaluated
    classes with a non-zero denominator.

    Returned values are in percent, rounded to 2 decimals; with no class to
    average they are 0.0, not NaN.

    Args:
        definition (str): 'paper' or 'cityscapes'. Default: 'paper'.
        ignore_index (int): Ignored ground-truth label. Default: 255.
        iiou_classes (Sequence[str]): Class names evaluated by
            'cityscapes', looked up in ``dataset_meta['classes']``.
            Default: :data:`CITYSCAPES_INSTANCE_CLASSES`.
        avg_class_size (Mapping[str, float], optional): Average instance
            size per class name for 'cityscapes'. Default:
            :data:`CITYSCAPES_AVG_CLASS_SIZE`.
        output_file (str, optional): Where to write the per-class results
            JSON (see :mod:`mmseg_aaf.evaluation.per_class_results`).
        collect_device (str): Default: 'cpu'.
        prefix (str, optional): Prefix of the returned keys.
    """

    DEFINITIONS = ('paper', 'cityscapes')

    def __init__(self,
                 definition: str = 'paper',
                 ignore_index: int = 255,
                 iiou_classes: Sequence[str] = CITYSCAPES_INSTANCE_CLASSES,
                 avg_class_size: Optional[Mapping[str, float]] = None,
                 output_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if kwargs:
            raise TypeError('InstanceIoUMetric got unexpected argument(s) '
                            f'{sorted(kwargs)}')
        if definition not in self.DEFINITIONS:
            raise ValueError(f'definition must be one of {self.DEFINITIONS}, '
                             f'got {definition!r}')
        if isinstance(iiou_classes, str) or not iiou_classes:
            raise ValueError('iiou_classes must be a non-empty sequence of '
                             f'class names, got {iiou_classes!r}')
        self.definition = definition
        self.ignore_index = ignore_index
        self.iiou_classes = tuple(iiou_classes)
        self.avg_class_size = dict(CITYSCAPES_AVG_CLASS_SIZE if avg_class_size
                                   is None else avg_class_size)
        for name, size in self.avg_class_size.items():
            if not size > 0:
                raise ValueError(f'avg_class_size[{name!r}] must be > 0, '
                                 f'got {size}')
        self.output_file = output_file

    @property
    def metric_name(self) -> str:
        return 'mIoU_instance' if self.definition == 'paper' else 'iIoU'

    def _iiou_class_ids(self) -> Tuple[List[int], List[float]]:
        classes = list(self.dataset_meta['classes'])
        missing = [n for n in self.iiou_classes if n not in classes]
        if missing:
            raise ValueError(
                f'iiou_classes {missing} are not dataset classes {classes}; '
                'set InstanceIoUMetric(iiou_classes=...)')
        no_size = [n for n in self.iiou_classes
                   if n not in self.avg_class_size]
        if no_size:
            raise ValueError(
                f'no average instance size for {no_size}; set '
                'InstanceIoUMetric(avg_class_size={name: pixels, ...})')
        return ([classes.index(n) for n in self.iiou_classes],
                [float(self.avg_class_size[n]) for n in self.iiou_classes])

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Append each sample's ``(2, C)`` or ``(3, K)`` statistics."""
        num_classes = len(self.dataset_meta['classes'])
        if self.definition == 'cityscapes':
            class_ids, avg_sizes = self._iiou_class_ids()
        for data_sample in data_samples:
            pred = label_map_from_sample(data_sample, 'pred_sem_seg')
            gt = label_map_from_sample(data_sample, 'gt_sem_seg')
            instances = label_map_from_sample(data_sample, 'gt_instance_seg')
            if self.definition == 'paper':
                stats = paper_instance_stats(pred, gt, instances, num_classes,
                                             self.ignore_index)
            else:
                stats = cityscapes_iiou_stats(pred, gt, instances,
                                              num_classes, class_ids,
                                              avg_sizes, self.ignore_index)
            self.results.append(stats)

    def per_class(self,
                  results: List[np.ndarray]) -> Tuple[List[str], np.ndarray]:
        """Class names and unrounded per-class values (fractions, NaN where
        undefined) of the statistics :meth:`process` collected.

        :meth:`compute_metrics` rounds only the mean it returns; this is
        what it averages, for callers that need full precision (e.g. a
        comparison with cityscapesScripts).
        """
        if self.definition == 'paper':
            names = list(self.dataset_meta['classes'])
            totals = (np.sum(results, axis=0)
                      if results else np.zeros((2, len(names))))
            return names, safe_divide(totals[0], totals[1])
        names = list(self.iiou_classes)
        totals = (np.sum(results, axis=0)
                  if results else np.zeros((3, len(names))))
        # wTP / (wTP + wFN + FP)
        return names, safe_divide(totals[0], totals.sum(axis=0))

    def compute_metrics(self, results: List[np.ndarray]) -> Dict[str, float]:
        logger: MMLogger = MMLogger.get_current_instance()
        names, per_class = self.per_class(results)
        name = self.metric_name
        per_class_name = 'IoU_instance' if name == 'mIoU_instance' else name
        log_class_table(names, {per_class_name: per_class}, logger)
        value = percent_mean(per_class)
        if np.isnan(per_class).all():
            print_log(
                f'InstanceIoUMetric: no class has a ground-truth instance; '
                f'reporting {name}=0.0', logger=logger, level=30)
        if self.output_file and is_main_process():
            dump_per_class_results(self.output_file, names,
                                   {per_class_name: per_class * 100},
                                   {per_class_name: value})
            print_log(
                f'per-class {name} results written to '
                f'{osp.abspath(self.output_file)}', logger=logger)
        return {name: value}
