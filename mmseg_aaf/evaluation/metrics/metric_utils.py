# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Helpers shared by the metrics of this package."""
import warnings
from collections import OrderedDict
from typing import Dict, Mapping, Sequence

import numpy as np
import torch
from mmengine.logging import print_log
from prettytable import PrettyTable


def label_map_from_sample(data_sample: Mapping, key: str) -> np.ndarray:
    """The ``(H, W)`` int64 map stored under ``data_sample[key]['data']``.

    Raises:
        KeyError: The sample has no ``key``; the message names the
            transform that provides it.
        ValueError: The map is not ``(1, H, W)`` or ``(H, W)``.
    """
    if key not in data_sample:
        hint = ''
        if key == 'gt_instance_seg':
            hint = (" Add dict(type='LoadInstanceAnnotations', ...) and "
                    "dict(type='PackSegInputsWithInstances') to the test "
                    'pipeline.')
        raise KeyError(f'the data sample has no {key!r}.{hint}')
    data = data_sample[key]['data']
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().numpy()
    data = np.asarray(data)
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim != 2:
        raise ValueError(f'{key} must have shape (1, H, W) or (H, W), got '
                         f'{tuple(np.shape(data))}')
    return data.astype(np.int64, copy=False)


def check_label_range(label: np.ndarray,
                      num_classes: int,
                      ignore_index: int,
                      name: str,
                      allow_ignore: bool = True) -> None:
    """Refuse ids outside ``[0, num_classes)`` (but for ``ignore_index``
    when ``allow_ignore``)."""
    bad = (label < 0) | (label >= num_classes)
    if allow_ignore:
        bad &= label != ignore_index
    if bad.any():
        ids = np.unique(label[bad])[:5].tolist()
        allowed = (f' and not ignore_index={ignore_index}'
                   if allow_ignore else '')
        raise ValueError(
            f'{name} holds class id(s) {ids} outside [0, {num_classes})'
            f'{allowed}; check num_classes and ignore_index')


def check_label_maps(pred: np.ndarray, gt: np.ndarray, num_classes: int,
                     ignore_index: int) -> tuple:
    """Refuse a prediction / ground-truth pair that is not two ``(H, W)``
    maps of the same shape with ids in ``[0, num_classes)`` (the ground
    truth may also hold ``ignore_index``); returns them as arrays."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(
            f'prediction {pred.shape} and ground truth {gt.shape} must be '
            'two maps of the same (H, W) shape')
    check_label_range(gt, num_classes, ignore_index, 'the ground truth')
    check_label_range(pred, num_classes, ignore_index, 'the prediction',
                      allow_ignore=False)
    return pred, gt


def percent_mean(values: np.ndarray) -> float:
    """Mean over the defined (non-NaN) values, in percent, 2 decimals.

    Returns 0.0 when no value is defined, so the returned metric is never
    NaN (a NaN would break checkpoint selection by ``save_best``).
    """
    values = np.asarray(values, dtype=np.float64)
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return 0.0
    return float(np.round(finite.mean() * 100, 2))


def log_class_table(class_names: Sequence[str],
                    per_class: Mapping[str, np.ndarray],
                    logger) -> None:
    """Log a per-class table in percent, like mmseg's ``IoUMetric``."""
    columns: Dict[str, list] = OrderedDict(Class=list(class_names))
    for name, values in per_class.items():
        columns[name] = list(np.round(np.asarray(values) * 100, 2))
    table = PrettyTable()
    for name, values in columns.items():
        table.add_column(name, values)
    print_log('per class results:', logger)
    print_log('\n' + table.get_string(), logger=logger)


def safe_divide(numerator: np.ndarray,
                denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` with NaN where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        with np.errstate(divide='ignore', invalid='ignore'):
            return np.where(denominator > 0, numerator / denominator, np.nan)
