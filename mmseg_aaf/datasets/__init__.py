# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .camvid import CamVidDataset
from .gta5 import GTA5Dataset
from .transforms import LoadInstanceAnnotations, PackSegInputsWithInstances

__all__ = [
    'CamVidDataset', 'GTA5Dataset', 'LoadInstanceAnnotations',
    'PackSegInputsWithInstances'
]
