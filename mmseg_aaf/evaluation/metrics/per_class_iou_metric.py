# Copyright (c) mmseg_aaf contributors. All rights reserved.
import os.path as osp
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

from ..per_class_results import dump_per_class_results
from .metric_utils import percent_mean


@METRICS.register_module()
class PerClassIoUMetric(IoUMetric):
    """mmseg's ``IoUMetric`` that also writes its per-class values.

    Returns exactly what ``IoUMetric`` returns (``aAcc``, ``mIoU``, ...) and,
    when ``output_file`` is set, writes the per-class table (``IoU``,
    ``Acc``, ``Dice``, ... in percent) as a per-class results JSON (see
    :mod:`mmseg_aaf.evaluation.per_class_results`) for
    ``tools/analysis/benchmark_tables.py``.

    Args:
        output_file (str, optional): Path of the per-class results JSON.
        Others: see :class:`mmseg.evaluation.IoUMetric`.
    """

    def __init__(self, output_file: Optional[str] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.output_file = output_file

    def compute_metrics(self, results: list) -> Dict[str, float]:
        metrics = super().compute_metrics(results)
        if self.format_only or not self.output_file or not is_main_process():
            return metrics
        totals = [sum(column) for column in zip(*results)]
        per_class = self.total_area_to_metrics(*totals, self.metrics,
                                               self.nan_to_num, self.beta)
        per_class.pop('aAcc', None)
        per_class = {
            name: (values.numpy() if isinstance(values, torch.Tensor) else
                   np.asarray(values, dtype=np.float64))
            for name, values in per_class.items()
        }
        # The means equal the returned m* values (nanmean, like IoUMetric).
        means = {name: percent_mean(values)
                 for name, values in per_class.items()}
        dump_per_class_results(self.output_file, self.dataset_meta['classes'],
                               {k: v * 100 for k, v in per_class.items()},
                               means)
        print_log(
            'per-class IoU results written to '
            f'{osp.abspath(self.output_file)}',
            logger=MMLogger.get_current_instance())
        return metrics
