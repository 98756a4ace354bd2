# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .positional_heads import AffinityDDRHead, AffinityPIDHead

__all__ = ['AffinityDDRHead', 'AffinityPIDHead']
