# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .hooks import *  # noqa: F401,F403
from .optim_wrapper import (AdversarialAmpOptimWrapper,
                            AdversarialOptimWrapper, isolate_ascent_params)

__all__ = [
    'AdversarialOptimWrapper', 'AdversarialAmpOptimWrapper',
    'isolate_ascent_params'
]
