# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .loss_decay_hook import AffinityLossDecayHook

__all__ = ['AffinityLossDecayHook']
