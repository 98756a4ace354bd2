# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""DRIVE (retinal vessels) into mmseg's layout, by mmseg's own converter.

    python -m mmseg_aaf.datasets.drive_conversion SRC [--out-dir data/DRIVE]

``SRC`` holds ``training.zip`` and ``test.zip`` as the official DRIVE
download has them (``training/images/NN_training.tif``,
``training/1st_manual/NN_manual1.gif`` with 255 = vessel, ``test/...``).
The converter mmseg ships inside its package
(``mmseg/.mim/tools/dataset_converters/drive.py``) runs unchanged, with
this interpreter, and writes ``images/{training,validation}/NN.png`` and
``annotations/{training,validation}/NN_manual1.png`` (0 = background,
1 = vessel; the 20 test images are the validation split, as in mmseg),
the layout of mmseg's ``DRIVEDataset`` and its ``configs/unet/*drive*``.
It also writes the second annotator's ``NN_manual2.png`` beside the
first, which the dataset does not read.

Running mmseg's script rather than a rewrite keeps the data exactly what
mmseg's published DRIVE numbers were measured on. What it wrote is then
checked: every image has its annotation of the same size, with labels 0
and 1 only. Missing zips end in one ``error:`` line and exit 1.
"""
import argparse
import glob
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np
from PIL import Image

from .conversion_io import ConversionError, run_converter

#: Where mmseg keeps the converter, under its package directory.
MMSEG_CONVERTER = ('.mim', 'tools', 'dataset_converters', 'drive.py')
#: The zips of the official download, in the converter's argument order.
DRIVE_ZIPS = ('training.zip', 'test.zip')
#: Output split of each zip.
SPLITS = ('training', 'validation')
#: What ``DRIVEDataset`` appends to an image's stem to find its labels.
ANNOTATION_SUFFIX = '_manual1.png'


def mmseg_converter() -> str:
    """The path of the DRIVE converter of the installed mmseg.

    Raises:
        ConversionError: The installed mmseg does not ship it.
    """
    import mmseg
    path = osp.join(osp.dirname(mmseg.__file__), *MMSEG_CONVERTER)
    if not osp.isfile(path):
        raise ConversionError(
            f"mmseg's DRIVE converter is not at {path}; mmsegmentation "
            f'{mmseg.__version__} was installed without its tools '
            '(install it from the wheel, as requirements/stack.txt does)')
    return path


def drive_zips(src: str) -> List[str]:
    """``[SRC/training.zip, SRC/test.zip]``.

    Raises:
        ConversionError: ``SRC`` or one of the zips is missing; the message
            says what DRIVE's download provides.
    """
    missing = [name for name in DRIVE_ZIPS
               if not osp.isfile(osp.join(src, name))]
    if missing:
        raise ConversionError(
            f'{" and ".join(missing)} not found in {src}: put the DRIVE '
            'download (training.zip and test.zip) there, or pass its '
            'directory (make drive DRIVE=path/to/drive)')
    return [osp.join(src, name) for name in DRIVE_ZIPS]


class DriveReport:
    """What the conversion wrote, and the problems the check found.

    Attributes:
        out_dir (str): The converted root.
        counts (dict[str, int]): Image/annotation pairs per split.
        problems (list[str]): One line per problem.
    """

    def __init__(self, out_dir: str, counts: Dict[str, int],
                 problems: Sequence[str]) -> None:
        self.out_dir = out_dir
        self.counts = counts
        self.problems = list(problems)

    def failed(self) -> bool:
        return bool(self.problems)

    def lines(self) -> List[str]:
        splits = ', '.join(f'{split}: {n} image(s)'
                           for split, n in self.counts.items())
        return [f'{self.out_dir}: {splits}; labels 0 = background, '
                '1 = vessel'] + self.problems


def check_converted(out_dir: str) -> DriveReport:
    """Check the layout ``DRIVEDataset`` reads: per split, each
    ``images/<split>/NN.png`` has ``annotations/<split>/NN_manual1.png`` of
    its size with labels in {0, 1}, and the split is not empty."""
    counts, problems = {}, []
    for split in SPLITS:
        images = sorted(glob.glob(osp.join(out_dir, 'images', split,
                                           '*.png')))
        counts[split] = len(images)
        if not images:
            problems.append(f'no image in {osp.join(out_dir, "images", split)}')
        for image_path in images:
            stem = osp.splitext(osp.basename(image_path))[0]
            label_path = osp.join(out_dir, 'annotations', split,
                                  stem + ANNOTATION_SUFFIX)
            if not osp.isfile(label_path):
                problems.append(f'{image_path}: no annotation {label_path}')
                continue
            with Image.open(image_path) as image:
                size = image.size
            with Image.open(label_path) as label:
                label_size, values = label.size, np.unique(np.asarray(label))
            if label_size != size:
                problems.append(f'{label_path}: {label_size} but its image '
                                f'is {size}')
            if not set(values.tolist()) <= {0, 1}:
                problems.append(f'{label_path}: labels {values.tolist()}, '
                                'expected 0 and 1')
    return DriveReport(out_dir, counts, problems)


def convert_drive(src: str,
                  out_dir: str,
                  tmp_dir: Optional[str] = None) -> DriveReport:
    """Run mmseg's converter on ``src``'s zips into ``out_dir``, then
    :func:`check_converted`.

    Raises:
        ConversionError: A zip or the converter is missing, or the
            converter failed (its output is shown first).
    """
    zips = drive_zips(src)
    command = [sys.executable, mmseg_converter()] + zips + [
        '--out_dir', out_dir
    ]
    if tmp_dir:
        command += ['--tmp_dir', tmp_dir]
    # Its output (progress lines, a traceback) goes straight to ours.
    proc = subprocess.run(command)
    if proc.returncode != 0:
        raise ConversionError(
            f"mmseg's DRIVE converter exited {proc.returncode} on "
            f'{" ".join(zips)} (its output is above)')
    return check_converted(out_dir)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m mmseg_aaf.datasets.drive_conversion',
        description="Convert DRIVE's training.zip and test.zip into "
        "mmseg's layout with mmseg's own converter")
    parser.add_argument('src', help='directory holding training.zip and '
                        'test.zip')
    parser.add_argument(
        '-o', '--out-dir', default=osp.join('data', 'DRIVE'),
        help='output root (images/, annotations/); default data/DRIVE')
    parser.add_argument('--tmp-dir', help='where the zips are extracted '
                        '(default: the system temporary directory)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    run_converter(
        lambda: convert_drive(args.src, args.out_dir, args.tmp_dir),
        'DRIVE conversion')


if __name__ == '__main__':
    main()
