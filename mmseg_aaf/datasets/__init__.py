# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .transforms import LoadInstanceAnnotations, PackSegInputsWithInstances

__all__ = ['LoadInstanceAnnotations', 'PackSegInputsWithInstances']
