# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .launch import apply_common_args, common_parser

__all__ = ['common_parser', 'apply_common_args']
