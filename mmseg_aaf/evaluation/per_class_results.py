# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The per-class results JSON written by the metrics and read by the tables.

mmseg's ``tools/test.py`` keeps only the class means (``mIoU``, ...) in
``work_dir/<timestamp>/<timestamp>.json``; the per-class numbers exist only
in the logged table. Metrics of this package that take ``output_file``
therefore also write a *per-class results* file::

    {
      "format": "mmseg_aaf.per_class_results",
      "version": 1,
      "classes": ["background", "aeroplane", ...],
      "metrics": {
        "IoU": {"per_class": [93.1, 88.0, ...], "mean": 79.4},
        "Acc": {"per_class": [...], "mean": 86.2}
      }
    }

* ``classes``: class names, in the order of every ``per_class`` list.
* ``metrics``: one entry per per-class metric, named as in the logged
  table (``IoU``, ``bFscore``, ``IoU_instance``, ``iIoU``, ...).
  ``per_class`` holds one value per class, in percent, ``null`` where the
  class is undefined for that metric (e.g. absent from the evaluated
  set); ``mean`` is the class mean the metric returned, in percent.

The loader also accepts the flat form ``{"classes": [...], "IoU": [...],
"mIoU": 79.4}``: every list as long as ``classes`` is a per-class metric,
and its mean is read from ``"m" + name`` when present, else recomputed
over the non-null values.
"""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

FORMAT_NAME = 'mmseg_aaf.per_class_results'
FORMAT_VERSION = 1


def _to_json_number(value) -> Optional[float]:
    value = float(value)
    return None if math.isnan(value) else round(value, 4)


def dump_per_class_results(path: str, classes: Sequence[str],
                           per_class: Mapping[str, Sequence[float]],
                           means: Mapping[str, float]) -> str:
    """Write a per-class results file.

    Args:
        path (str): Output JSON path; missing directories are created.
        classes (Sequence[str]): ``C`` class names.
        per_class (Mapping[str, Sequence[float]]): Metric name to ``C``
            values in percent; NaN means undefined and is written as null.
        means (Mapping[str, float]): Metric name (same keys as
            ``per_class``) to the class mean in percent.

    Returns:
        str: ``path``.
    """
    classes = [str(name) for name in classes]
    metrics = {}
    for name, values in per_class.items():
        values = list(np.asarray(values, dtype=np.float64).reshape(-1))
        if len(values) != len(classes):
            raise ValueError(
                f'per-class metric {name!r} has {len(values)} values for '
                f'{len(classes)} classes')
        if name not in means:
            raise KeyError(f'no mean given for per-class metric {name!r}')
        metrics[name] = dict(
            per_class=[_to_json_number(v) for v in values],
            mean=_to_json_number(means[name]))
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(
            dict(format=FORMAT_NAME, version=FORMAT_VERSION,
                 classes=classes, metrics=metrics), f, indent=2)
    return path


class ResultFile:
    """The content of one result JSON, per-class or summary only.

    Attributes:
        path (str): Where it was read from.
        classes (list[str] | None): Class names; None for a summary file
            (mmseg's final metrics dict).
        per_class (dict[str, np.ndarray]): Metric name to ``(C,)`` float64
            values in percent (NaN where undefined); empty for summaries.
        means (dict[str, float]): Metric name to its scalar value.
    """

    def __init__(self, path: str, classes: Optional[List[str]],
                 per_class: Dict[str, np.ndarray], means: Dict[str, float]):
        self.path = path
        self.classes = classes
        self.per_class = per_class
        self.means = means

    @property
    def is_per_class(self) -> bool:
        return self.classes is not None


def _as_float(value, path: str, where: str) -> float:
    if value is None:
        return float('nan')
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f'{path}: {where} must be a number or null, got '
                         f'{value!r}')
    return float(value)


def _nan_mean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float('nan')


def load_result_file(path: str) -> ResultFile:
    """Read a per-class results file or a plain metrics dict.

    A file without ``classes`` is a summary: its numeric top-level values
    (e.g. mmseg's ``{"aAcc": ..., "mIoU": ..., "step": ...}``) become
    ``means``; non-numeric values are skipped.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: The file is not a JSON object, or a per-class list has
            the wrong length or non-numeric entries.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'result file not found: {path}')
    with open(path) as f:
        try:
            content = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'{path} is not valid JSON: {err}') from err
    if not isinstance(content, dict):
        raise ValueError(f'{path} must hold a JSON object, got '
                         f'{type(content).__name__}')
    if 'classes' not in content:
        means = {
            key: float(value)
            for key, value in content.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        }
        return ResultFile(path, None, {}, means)

    classes = content['classes']
    if (not isinstance(classes, list) or not classes
            or not all(isinstance(name, str) for name in classes)):
        raise ValueError(f'{path}: "classes" must be a non-empty list of '
                         'class names')
    num_classes = len(classes)
    per_class, means = {}, {}
    if 'metrics' in content:
        if not isinstance(content['metrics'], dict):
            raise ValueError(f'{path}: "metrics" must be an object')
        entries = content['metrics'].items()
    else:
        entries = [(key, dict(per_class=value, mean=content.get('m' + key)))
                   for key, value in content.items()
                   if isinstance(value, list) and key != 'classes']
    for name, entry in entries:
        if not isinstance(entry, dict) or not isinstance(
                entry.get('per_class'), list):
            raise ValueError(f'{path}: metric {name!r} needs a "per_class" '
                             'list')
        values = entry['per_class']
        if len(values) != num_classes:
            raise ValueError(
                f'{path}: metric {name!r} has {len(values)} per-class '
                f'values for {num_classes} classes')
        array = np.array([
            _as_float(v, path, f'{name}[{i}]') for i, v in enumerate(values)
        ])
        per_class[name] = array
        mean = entry.get('mean')
        means[name] = (_nan_mean(array) if mean is None else _as_float(
            mean, path, f'the mean of {name}'))
    if not per_class:
        raise ValueError(f'{path} lists classes but no per-class metric')
    return ResultFile(path, list(classes), per_class, means)
