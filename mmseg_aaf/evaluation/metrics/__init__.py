# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .boundary_iou_metric import (BoundaryIoUMetric, boundary_iou_counts,
                                  boundary_iou_scores, mask_boundary_band)
from .boundary_metric import BoundaryMetric, boundary_counts, boundary_scores
from .centerline_dice_metric import (CenterlineDiceMetric, centerline_counts,
                                     centerline_scores)
from .instance_iou_metric import (CITYSCAPES_AVG_CLASS_SIZE,
                                  CITYSCAPES_INSTANCE_CLASSES,
                                  InstanceIoUMetric)
from .per_class_iou_metric import PerClassIoUMetric

__all__ = [
    'BoundaryIoUMetric', 'boundary_iou_counts', 'boundary_iou_scores',
    'mask_boundary_band',
    'BoundaryMetric', 'boundary_counts', 'boundary_scores',
    'CenterlineDiceMetric', 'centerline_counts', 'centerline_scores',
    'InstanceIoUMetric', 'CITYSCAPES_AVG_CLASS_SIZE',
    'CITYSCAPES_INSTANCE_CLASSES', 'PerClassIoUMetric'
]
