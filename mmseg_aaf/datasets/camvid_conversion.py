# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Convert CamVid from the SegNet layout into mmseg's layout.

Source (``SRC``), as in the SegNet tutorial's ``CamVid/`` folder::

    train/0001TP_006690.png       trainannot/0001TP_006690.png
    val/...                       valannot/...
    test/...                      testannot/...

Annotations are single-channel PNGs of class ids 0..10 and void 11.
Output (``DST``)::

    img_dir/<split>/<name>.png    RGB, resized bilinearly by ``scale``
    ann_dir/<split>/<name>.png    0..10 and 255 (void), resized by nearest

Used by ``tools/dataset_converters/camvid.py``; see :func:`convert_camvid`.
"""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

from .camvid import CAMVID_CLASSES, CAMVID_VOID_ID
from .conversion_io import (ensure_writable_dir, is_finished,
                            remove_stale_tmp, run_tasks, write_png_atomically)

SPLITS = ('train', 'val', 'test')
IGNORE_INDEX = 255
IMAGE_SUFFIX = '.png'


def _label_lut() -> np.ndarray:
    """0..10 stay, void becomes 255; every other value is marked invalid
    (-1) so that the converter can refuse it instead of guessing."""
    lut = np.full(256, -1, dtype=np.int16)
    lut[:len(CAMVID_CLASSES)] = np.arange(len(CAMVID_CLASSES))
    lut[CAMVID_VOID_ID] = IGNORE_INDEX
    lut.setflags(write=False)
    return lut


#: 256-entry lookup table from source ids to output labels (-1: invalid).
SOURCE_TO_LABEL = _label_lut()


def to_labels(source: np.ndarray) -> np.ndarray:
    """Map source ids to 0..10 / 255, ``(H, W)`` uint8.

    Raises:
        ValueError: The map holds ids other than 0..11; they are named.
    """
    mapped = SOURCE_TO_LABEL[source]
    if (mapped < 0).any():
        bad = np.unique(source[mapped < 0]).tolist()
        raise ValueError(f'label ids {bad} are neither a class (0..10) nor '
                         f'void ({CAMVID_VOID_ID})')
    return mapped.astype(np.uint8)


def read_source_label(path: str) -> np.ndarray:
    """The ids of a SegNet annotation PNG ('L' or 'P' indices), uint8."""
    with Image.open(path) as image:
        if image.mode not in ('L', 'P'):
            raise ValueError(f'expected a single-channel label PNG, got '
                             f'mode {image.mode!r}')
        image.load()
        return np.array(image, dtype=np.uint8)


def scaled_size(size: Tuple[int, int], scale: float) -> Tuple[int, int]:
    """``(width, height)`` after scaling, rounded, at least 1 pixel."""
    return tuple(max(1, int(round(s * scale))) for s in size)


def median_frequency_weights(label_paths: Sequence[str],
                             num_classes: int = len(CAMVID_CLASSES),
                             ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Class weights for median-frequency balancing (as SegNet trains).

    ``f(c)`` is the number of pixels of class ``c`` over the number of
    non-ignored pixels of the maps that contain ``c``; the weight is
    proportional to ``median(f) / f(c)``, scaled so that its mean over all
    non-ignored pixels is 1: a class-weighted cross-entropy averaged over
    the pixels then keeps the scale of the unweighted one.

    Args:
        label_paths: Converted label PNGs (``0..C-1`` and ``ignore_index``).

    Returns:
        np.ndarray: ``(C,)`` float64 weights.

    Raises:
        ValueError: A class never occurs, or a map holds other ids.
    """
    pixels = np.zeros(num_classes)
    seen = np.zeros(num_classes)
    for path in label_paths:
        with Image.open(path) as image:
            label = np.asarray(image)
        valid = label[label != ignore_index]
        if valid.size and valid.max() >= num_classes:
            raise ValueError(f'{path}: ids >= {num_classes} besides '
                             f'{ignore_index}')
        counts = np.bincount(valid, minlength=num_classes)
        pixels += counts
        seen += (counts > 0) * valid.size
    if (pixels == 0).any():
        missing = np.flatnonzero(pixels == 0).tolist()
        raise ValueError(f'classes {missing} never occur; no weight is '
                         'defined for them')
    frequency = pixels / seen
    weights = np.median(frequency) / frequency
    return weights / (weights * pixels).sum() * pixels.sum()


@dataclass
class _Task:
    split: str
    name: str
    image: str
    label: str
    out_image: str
    out_label: str
    scale: float


def convert_pair(task: _Task) -> Tuple[str, str, str]:
    """Convert one image and its annotation.

    Returns:
        tuple: ``(split/name, status, error)``; ``status`` is 'converted',
        'skipped' (both outputs already finished) or 'error'. Exceptions
        are returned, not raised, so that one bad file neither stops a
        parallel run nor goes unreported.
    """
    key = f'{task.split}/{task.name}'
    try:
        try:
            with Image.open(task.image) as image:
                image_size = image.size
                image.load()
        except Exception as error:
            return key, 'error', f'{task.image}: unreadable image ({error})'
        try:
            with Image.open(task.label) as label:
                label_size = label.size
        except Exception as error:
            return key, 'error', f'{task.label}: unreadable label ({error})'
        if image_size != label_size:
            return key, 'error', (
                f'{task.label}: label is {label_size[0]}x{label_size[1]} '
                f'but its image {task.image} is '
                f'{image_size[0]}x{image_size[1]}')
        size = scaled_size(image_size, task.scale)
        if is_finished(task.out_image, size) and is_finished(
                task.out_label, size):
            return key, 'skipped', None
        try:
            labels = to_labels(read_source_label(task.label))
        except Exception as error:
            return key, 'error', f'{task.label}: {error}'
        with Image.open(task.image) as image:
            rgb = image.convert('RGB')
        if size != image_size:
            # Images bilinearly; labels by nearest so that they stay class
            # ids (an interpolated label would invent classes).
            rgb = rgb.resize(size, Image.BILINEAR)
            labels = np.asarray(
                Image.fromarray(labels).resize(size, Image.NEAREST))
        write_png_atomically(np.asarray(rgb), task.out_image)
        write_png_atomically(labels, task.out_label)
        return key, 'converted', None
    except Exception as error:
        return key, 'error', f'{task.image}: {error}'


@dataclass
class ConversionReport:
    """What :func:`convert_camvid` did and what it found wrong."""
    splits: Dict[str, int] = field(default_factory=dict)
    converted: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    unpaired: List[str] = field(default_factory=list)
    removed_tmp: List[str] = field(default_factory=list)

    def failed(self) -> bool:
        return bool(self.errors or self.unpaired)

    def lines(self) -> List[str]:
        """The summary, naming every problem file."""
        found = ', '.join(f'{split} {count}'
                          for split, count in self.splits.items())
        out = [
            f'pairs found: {found}',
            f'converted {len(self.converted)} pair(s), kept '
            f'{len(self.skipped)} already converted'
        ]
        for title, items in (
            (f'removed {len(self.removed_tmp)} temporary file(s) left by an '
             'interrupted run', self.removed_tmp),
            (f'{len(self.unpaired)} file(s) without a partner',
             self.unpaired),
            (f'{len(self.errors)} error(s)', self.errors),
        ):
            if items:
                out.append(f'{title}:')
                out.extend(f'  {item}' for item in items)
        return out


def _list_files(directory: str) -> List[str]:
    return sorted(name for name in os.listdir(directory)
                  if osp.isfile(osp.join(directory, name))
                  and not name.startswith('.'))


def find_splits(src: str) -> List[str]:
    """The splits of :data:`SPLITS` that ``src`` has (``X/`` or
    ``Xannot/``)."""
    return [
        split for split in SPLITS
        if osp.isdir(osp.join(src, split))
        or osp.isdir(osp.join(src, split + 'annot'))
    ]


def convert_camvid(src: str,
                   dst: str,
                   scale: float = 1.0,
                   nproc: int = 1) -> ConversionReport:
    """Convert every split of ``src`` that exists into ``dst``.

    Resumable: a pair whose two outputs are already readable PNGs of the
    scaled size is kept, and temporary files of a killed run are removed.
    Nothing is skipped silently: files without their partner (including
    non-PNG files), unreadable files, size mismatches and ids other than
    0..11 are all listed in the returned report, and the pair is not
    written.

    Args:
        src (str): SegNet-layout root.
        dst (str): Output root; ``img_dir/`` and ``ann_dir/`` are created.
        scale (float): Resize factor for both images and labels, in
            (0, 1]. Default: 1.0 (no resizing).
        nproc (int): Worker processes; 1 converts in this process.

    Raises:
        ValueError: ``scale`` out of range or ``nproc < 1``.
        FileNotFoundError: ``src`` has none of the splits.
        ConversionError: An output directory cannot be created or written
            (before any file is converted).
    """
    if not 0 < scale <= 1:
        raise ValueError(f'scale must be in (0, 1], got {scale}')
    if nproc < 1:
        raise ValueError(f'nproc must be >= 1, got {nproc}')
    splits = find_splits(src)
    if not splits:
        raise FileNotFoundError(
            f'{src} has none of {", ".join(SPLITS)} (each as X/ with its '
            'Xannot/): is it the SegNet CamVid folder?')
    report = ConversionReport()
    tasks = []
    for split in splits:
        image_dir = osp.join(src, split)
        label_dir = osp.join(src, split + 'annot')
        images = _list_files(image_dir) if osp.isdir(image_dir) else []
        labels = _list_files(label_dir) if osp.isdir(label_dir) else []
        label_set, image_set = set(labels), set(images)
        report.unpaired += [
            osp.join(image_dir, n) for n in images
            if n not in label_set or not n.endswith(IMAGE_SUFFIX)
        ]
        report.unpaired += [
            osp.join(label_dir, n) for n in labels
            if n not in image_set or not n.endswith(IMAGE_SUFFIX)
        ]
        paired = [
            n for n in images if n in label_set and n.endswith(IMAGE_SUFFIX)
        ]
        report.splits[split] = len(paired)
        for directory in ('img_dir', 'ann_dir'):
            out_dir = osp.join(dst, directory, split)
            ensure_writable_dir(out_dir)
            report.removed_tmp += remove_stale_tmp(out_dir)
        tasks += [
            _Task(split, name, osp.join(image_dir, name),
                  osp.join(label_dir, name),
                  osp.join(dst, 'img_dir', split, name),
                  osp.join(dst, 'ann_dir', split, name), scale)
            for name in paired
        ]
    for key, status, error in run_tasks(convert_pair, tasks, nproc):
        if status == 'error':
            report.errors.append(error)
        else:
            (report.converted
             if status == 'converted' else report.skipped).append(key)
    return report
