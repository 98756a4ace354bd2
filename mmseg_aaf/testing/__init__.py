# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Helpers for tests and benchmarks: reference math and miniature data."""
import os.path as osp


def upstream_config_path(relative: str) -> str:
    """Path of a config shipped in the mmseg package, e.g.
    ``'pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'``."""
    import mmseg
    path = osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs', relative)
    if not osp.isfile(path):
        raise FileNotFoundError(f'mmseg ships no config {relative!r} '
                                f'(looked for {path})')
    return path
