# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Convert GTA5 labels to Cityscapes train ids and write the Part 1 split.

GTA5 label PNGs are palette ('P' mode) images whose pixel *indices* are
Cityscapes label ids (the palette only colours them). They are read as
indices, never converted to RGB, and mapped through the standard Cityscapes
label-id -> train-id table; every other id becomes 255 (ignored).

Used by ``tools/dataset_converters/gta5.py``; see :func:`convert_gta5`.
"""
import os
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

from .conversion_io import (ConversionError, ensure_writable_dir, image_size,
                            is_finished, remove_stale_tmp, run_tasks,
                            write_png_atomically, write_text_atomically)

#: Cityscapes label id -> train id for the 19 evaluated classes.
CITYSCAPES_ID_TO_TRAIN_ID: Dict[int, int] = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18
}
IGNORE_INDEX = 255


def _train_id_lut() -> np.ndarray:
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for label_id, train_id in CITYSCAPES_ID_TO_TRAIN_ID.items():
        lut[label_id] = train_id
    lut.setflags(write=False)
    return lut


#: 256-entry lookup table: ``LABEL_ID_TO_TRAIN_ID[label_ids]``.
LABEL_ID_TO_TRAIN_ID = _train_id_lut()

IMAGE_DIR = 'images'
LABEL_DIR = 'labels'
TRAIN_ID_SUFFIX = '_labelTrainIds.png'
#: GTA5 Part 1: the first 2,500 of the 24,966 images.
PART1_IDS = tuple(f'{i:05d}' for i in range(1, 2501))
PART1_SPLIT = 'part1.txt'
_ID = re.compile(r'\d+')


def read_label_ids(path: str) -> np.ndarray:
    """The raw Cityscapes label ids of a GTA5 label PNG, ``(H, W)`` uint8.

    Raises:
        ValueError: The file is not a single-channel ('P' or 'L') image.
        OSError: The file cannot be read or decoded.
    """
    with Image.open(path) as image:
        if image.mode not in ('P', 'L'):
            raise ValueError(
                f'expected a palette (P) PNG of label ids, got mode '
                f'{image.mode!r}')
        image.load()
        return np.array(image, dtype=np.uint8)


def to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map Cityscapes label ids to train ids (unknown ids -> 255)."""
    return LABEL_ID_TO_TRAIN_ID[label_ids]


@dataclass
class _Task:
    id: str
    label: str
    output: str
    image: Optional[str]


def convert_one(task: _Task) -> Tuple[str, str, Optional[str]]:
    """Convert one label; return ``(id, status, error)``.

    ``status`` is 'converted', 'skipped' (already finished) or 'error';
    exceptions are returned, not raised, so that one bad file neither stops
    a parallel run nor goes unreported.
    """
    try:
        with Image.open(task.label) as label:
            size = label.size
        if task.image is not None:
            # Decoded in full: a PNG cut short keeps a valid header, and
            # would only fail in the middle of training.
            try:
                width, height = image_size(task.image, decode=True)
            except Exception as error:
                return task.id, 'error', (
                    f'{task.image}: unreadable image ({error})')
            if (width, height) != size:
                return task.id, 'error', (
                    f'{task.label}: label is {size[0]}x{size[1]} but its '
                    f'image {task.image} is {width}x{height}')
        if is_finished(task.output, size):
            return task.id, 'skipped', None
        write_png_atomically(
            to_train_ids(read_label_ids(task.label)), task.output)
        return task.id, 'converted', None
    except Exception as error:
        return task.id, 'error', f'{task.label}: {error}'


@dataclass
class ConversionReport:
    """What :func:`convert_gta5` did and what it found wrong."""
    converted: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    images_without_label: List[str] = field(default_factory=list)
    labels_without_image: List[str] = field(default_factory=list)
    part1_absent: List[str] = field(default_factory=list)
    part1_pairs: int = 0
    split_file: Optional[str] = None
    removed_tmp: List[str] = field(default_factory=list)

    @property
    def missing(self) -> List[str]:
        return (self.images_without_label + self.labels_without_image +
                self.part1_absent)

    def failed(self, allow_missing: bool = False) -> bool:
        return bool(self.errors or (self.missing and not allow_missing))

    def lines(self) -> List[str]:
        """The summary, listing every problem file by name."""
        out = [
            f'converted {len(self.converted)} label(s), skipped '
            f'{len(self.skipped)} already converted'
        ]
        if self.split_file is not None:
            out.append(f'wrote {self.split_file}: {self.part1_pairs} Part 1 '
                       'image/label pairs')
        groups = [
            (f'removed {len(self.removed_tmp)} temporary file(s) left by an '
             'interrupted run', self.removed_tmp),
            (f'{len(self.images_without_label)} image(s) without a label',
             self.images_without_label),
            (f'{len(self.labels_without_image)} label(s) without an image',
             self.labels_without_image),
            (f'{len(self.part1_absent)} Part 1 id(s) with neither image nor '
             'label', id_ranges(self.part1_absent)),
            (f'{len(self.errors)} error(s)', self.errors),
        ]
        for title, items in groups:
            if items:
                out.append(f'{title}:')
                out.extend(f'  {item}' for item in items)
        return out


def id_ranges(ids: List[str]) -> List[str]:
    """Runs of consecutive numeric ids: ['00003-02500', '03000']."""
    ranges: List[List[str]] = []
    for id_ in sorted(ids, key=int):
        if ranges and int(id_) == int(ranges[-1][-1]) + 1:
            ranges[-1][1:] = [id_]
        else:
            ranges.append([id_])
    return ['-'.join(run) for run in ranges]


def _ids(directory: str, suffix: str) -> List[str]:
    """Numeric ids of the ``<id><suffix>`` files in ``directory``."""
    if not osp.isdir(directory):
        return []
    ids = []
    for name in os.listdir(directory):
        if name.endswith(suffix) and _ID.fullmatch(name[:-len(suffix)]):
            ids.append(name[:-len(suffix)])
    return sorted(ids)


def convert_gta5(root: str, nproc: int = 1) -> ConversionReport:
    """Convert ``root/labels/<id>.png`` into ``<id>_labelTrainIds.png``.

    Resumable: an output that is already a readable PNG of the label's size
    is kept, and temporary files of a killed run are removed. Writes
    ``root/part1.txt`` with the ids 00001..02500 that have an image and a
    converted label of the same size. Nothing is skipped silently:
    unreadable files (images are decoded in full), size mismatches and
    files without their partner are all listed in the returned report.

    Args:
        root (str): GTA5 root with ``images/`` and ``labels/``.
        nproc (int): Worker processes; 1 converts in this process.

    Raises:
        FileNotFoundError: ``images/`` or ``labels/`` is missing.
        ConversionError: ``labels/`` or ``root`` cannot be written (before
            any file is converted), or ``part1.txt`` could not be written
            (with the report of the conversion, in ``error.report``).
    """
    if nproc < 1:
        raise ValueError(f'nproc must be >= 1, got {nproc}')
    image_dir = osp.join(root, IMAGE_DIR)
    label_dir = osp.join(root, LABEL_DIR)
    for directory in (image_dir, label_dir):
        if not osp.isdir(directory):
            raise FileNotFoundError(f'no directory {directory}')
    for directory in (label_dir, root):
        ensure_writable_dir(directory)
    image_ids = _ids(image_dir, '.png')
    label_ids = _ids(label_dir, '.png')
    images, labels = set(image_ids), set(label_ids)

    report = ConversionReport()
    report.removed_tmp = remove_stale_tmp(label_dir) + remove_stale_tmp(root)
    report.images_without_label = [
        osp.join(image_dir, f'{i}.png') for i in image_ids if i not in labels
    ]
    report.labels_without_image = [
        osp.join(label_dir, f'{i}.png') for i in label_ids if i not in images
    ]
    report.part1_absent = [
        i for i in PART1_IDS if i not in images and i not in labels
    ]

    tasks = [
        _Task(
            id=i,
            label=osp.join(label_dir, f'{i}.png'),
            output=osp.join(label_dir, f'{i}{TRAIN_ID_SUFFIX}'),
            image=osp.join(image_dir, f'{i}.png') if i in images else None)
        for i in label_ids
    ]
    done = set()
    for id_, status, error in run_tasks(convert_one, tasks, nproc):
        if status == 'error':
            report.errors.append(error)
            continue
        (report.converted if status == 'converted' else
         report.skipped).append(id_)
        done.add(id_)
    part1 = [i for i in PART1_IDS if i in done and i in images]
    report.part1_pairs = len(part1)
    split_file = osp.join(root, PART1_SPLIT)
    try:
        write_text_atomically(''.join(f'{i}\n' for i in part1), split_file)
    except OSError as error:
        raise ConversionError(
            f'cannot write the split file {split_file}: '
            f'{error.strerror or error}', report) from None
    report.split_file = split_file
    return report
