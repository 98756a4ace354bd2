# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .mask_classification_heads import (AffinityMask2FormerHead,
                                        AffinityMaskFormerHead)
from .positional_heads import AffinityDDRHead, AffinityPIDHead

__all__ = [
    'AffinityDDRHead', 'AffinityPIDHead', 'AffinityMask2FormerHead',
    'AffinityMaskFormerHead'
]
