# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .decode_heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
