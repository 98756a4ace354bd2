# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .metrics import (CITYSCAPES_AVG_CLASS_SIZE, CITYSCAPES_INSTANCE_CLASSES,
                      BoundaryIoUMetric, BoundaryMetric, CenterlineDiceMetric,
                      InstanceIoUMetric, PerClassIoUMetric)
from .per_class_results import dump_per_class_results, load_result_file

__all__ = [
    'BoundaryIoUMetric', 'BoundaryMetric', 'CenterlineDiceMetric',
    'InstanceIoUMetric', 'PerClassIoUMetric',
    'CITYSCAPES_AVG_CLASS_SIZE', 'CITYSCAPES_INSTANCE_CLASSES',
    'dump_per_class_results', 'load_result_file'
]
