# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Checks the datasets run on their image/label pairs before training.

A label map whose size differs from its image is not caught by mmseg: the
training pipeline resizes and crops both alike, and the mismatch surfaces
only in validation, as a shape error inside ``IoUMetric`` that names no
file. Reading the two PNG headers of every pair costs well under a
millisecond per pair on a local disk, so the datasets do it when they
list their files.
"""
from typing import List, Optional, Sequence

from mmengine import fileio
from mmengine.logging import print_log
from PIL import Image

#: How many file names a message lists before it abbreviates.
NAMES_SHOWN = 5


def abbreviate(names: Sequence[str]) -> str:
    """The first :data:`NAMES_SHOWN` names and how many more there are."""
    shown = ', '.join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f'{shown}, ... ({more} more)' if more > 0 else shown


def _header_size(path: str):
    with Image.open(path) as image:  # reads the header only
        return image.size


def check_pair_sizes(dataset: str,
                     data_list: List[dict],
                     backend_args: Optional[dict] = None) -> None:
    """Refuse image/label pairs of different sizes, naming the files.

    Args:
        dataset (str): Name used in the messages.
        data_list (list[dict]): ``img_path`` and ``seg_map_path`` of each
            sample; samples without ``seg_map_path`` are not checked.
        backend_args (dict, optional): The dataset's file backend. Only
            files on the local disk are checked (reading remote headers
            would download every file); the log says so otherwise.

    Raises:
        ValueError: Some pair differs in size, or some header cannot be
            read; every such file is counted and the first few named.
    """
    pairs = [(info['img_path'], info['seg_map_path']) for info in data_list
             if info.get('seg_map_path')]
    if not pairs:
        return
    backend = fileio.get_file_backend(pairs[0][0], backend_args=backend_args)
    if not isinstance(backend, fileio.LocalBackend):
        print_log(
            f'{dataset}: image and label sizes are not checked for '
            f'{type(backend).__name__} files', logger='current')
        return
    mismatched, unreadable = [], []
    for img_path, seg_path in pairs:
        try:
            image_size = _header_size(img_path)
        except Exception as error:
            unreadable.append(f'{img_path} ({error})')
            continue
        try:
            label_size = _header_size(seg_path)
        except Exception as error:
            unreadable.append(f'{seg_path} ({error})')
            continue
        if label_size != image_size:
            mismatched.append(
                f'{seg_path} is {label_size[0]}x{label_size[1]}, its image '
                f'{img_path} {image_size[0]}x{image_size[1]}')
    problems = []
    if mismatched:
        problems.append(
            f'{len(mismatched)} label map(s) differ in size from their '
            f'image: {abbreviate(mismatched)}')
    if unreadable:
        problems.append(f'{len(unreadable)} file(s) cannot be read: '
                        f'{abbreviate(unreadable)}')
    if problems:
        raise ValueError(f'{dataset}: ' + '; '.join(problems))
