# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .kernel_size_hook import KernelSizeLoggerHook
from .loss_decay_hook import AffinityLossDecayHook

__all__ = ['AffinityLossDecayHook', 'KernelSizeLoggerHook']
