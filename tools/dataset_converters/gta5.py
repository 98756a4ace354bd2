# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Convert GTA5 labels to Cityscapes train ids and write the Part 1 split.

    python tools/dataset_converters/gta5.py data/gta5 --nproc 8

reads ``GTA5_ROOT/labels/<id>.png`` (palette PNGs of Cityscapes label ids),
writes ``GTA5_ROOT/labels/<id>_labelTrainIds.png`` beside each and
``GTA5_ROOT/part1.txt`` (the ids 00001..02500 with an image and a label).
Finished outputs are kept, so an interrupted run can simply be restarted.
Unreadable files, size mismatches and images or labels without their
partner are listed by name at the end, and the exit status is then 1
(``--allow-missing`` accepts files without their partner). A missing or
unwritable directory ends in one ``error:`` line and exit 1, Ctrl-C in one
line and exit 130.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg_aaf.datasets.conversion_io import run_converter  # noqa: E402
from mmseg_aaf.datasets.gta5_conversion import convert_gta5  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert GTA5 labels to Cityscapes train ids')
    parser.add_argument('gta5_path', help='GTA5 root with images/, labels/')
    parser.add_argument(
        '--nproc', default=1, type=int, help='number of processes')
    parser.add_argument(
        '--allow-missing',
        action='store_true',
        help='exit 0 although some images have no label or some labels no '
        'image (they are still listed and left out of part1.txt)')
    return parser.parse_args()


def main():
    args = parse_args()
    run_converter(
        lambda: convert_gta5(args.gta5_path, nproc=args.nproc),
        'GTA5 conversion',
        failed=lambda report: report.failed(args.allow_missing))


if __name__ == '__main__':
    main()
