# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .kernel_sizes import (EffectiveKernelSizes, aaf_kernel_sizes_from_config,
                           class_names_from_config,
                           kernel_sizes_from_state_dict, plot_kernel_sizes)

__all__ = [
    'EffectiveKernelSizes', 'aaf_kernel_sizes_from_config',
    'class_names_from_config', 'kernel_sizes_from_state_dict',
    'plot_kernel_sizes'
]
