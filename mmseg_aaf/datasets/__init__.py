# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .gta5 import GTA5Dataset
from .transforms import LoadInstanceAnnotations, PackSegInputsWithInstances

__all__ = [
    'GTA5Dataset', 'LoadInstanceAnnotations', 'PackSegInputsWithInstances'
]
