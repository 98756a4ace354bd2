# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .checkpoint_compat import (CHECKPOINT_ERRORS,
                                MMENGINE_CHECKPOINT_GLOBALS,
                                MissingCheckpointError, UnsafeCheckpointError,
                                allow_mmengine_checkpoints,
                                load_local_checkpoint)
from .dist import setup_cpu_distributed, teardown_distributed

__all__ = [
    'CHECKPOINT_ERRORS', 'MMENGINE_CHECKPOINT_GLOBALS',
    'MissingCheckpointError', 'UnsafeCheckpointError',
    'allow_mmengine_checkpoints', 'load_local_checkpoint',
    'setup_cpu_distributed', 'teardown_distributed'
]
