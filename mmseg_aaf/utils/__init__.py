# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .checkpoint_compat import MMENGINE_CHECKPOINT_GLOBALS, allow_mmengine_checkpoints
from .dist import setup_cpu_distributed, teardown_distributed

__all__ = [
    'MMENGINE_CHECKPOINT_GLOBALS', 'allow_mmengine_checkpoints',
    'setup_cpu_distributed', 'teardown_distributed'
]
