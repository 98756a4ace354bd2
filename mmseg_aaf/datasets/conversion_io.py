# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""File writing shared by the dataset converters.

Converters are resumable: an output is written through a temporary file and
renamed, so a file under its final name is always complete, and a rerun
keeps every output that is already a readable PNG of the expected size.
"""
import os
import os.path as osp
from typing import Tuple

import numpy as np
from PIL import Image


def is_finished(path: str, size: Tuple[int, int]) -> bool:
    """Whether ``path`` is a readable PNG of ``size`` (width, height)."""
    if not osp.isfile(path):
        return False
    try:
        with Image.open(path) as image:
            if image.format != 'PNG' or image.size != tuple(size):
                return False
            image.verify()
        return True
    except Exception:
        return False


def write_png_atomically(array: np.ndarray, path: str) -> None:
    """Write through a temporary file and rename: never a partial file."""
    tmp = osp.join(osp.dirname(path), f'.{osp.basename(path)}.'
                   f'{os.getpid()}.tmp')
    try:
        Image.fromarray(array).save(tmp, format='PNG')
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def write_text_atomically(text: str, path: str) -> None:
    tmp = f'{path}.{os.getpid()}.tmp'
    try:
        with open(tmp, 'w') as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
