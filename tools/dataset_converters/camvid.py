# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Convert CamVid from the SegNet layout into mmseg's layout.

    python tools/dataset_converters/camvid.py SRC DST [--scale S] [--nproc N]

reads ``SRC/{train,val,test}/`` with their ``SRC/<split>annot/`` (whichever
exist), and writes ``DST/img_dir/<split>/*.png`` and
``DST/ann_dir/<split>/*.png`` with void (11) as 255. ``--scale`` resizes
images bilinearly and labels by nearest (the CPU configs read 0.5 from
``data/camvid_half``). Outputs are written atomically and finished ones are
kept, so an interrupted run can simply be restarted. Files without their
partner, unreadable files and invalid label ids are named at the end, and
the exit status is then 1. A missing input or an unwritable output ends in
one ``error:`` line and exit 1, Ctrl-C in one line and exit 130.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmseg_aaf.datasets.camvid_conversion import convert_camvid  # noqa: E402
from mmseg_aaf.datasets.conversion_io import run_converter  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert CamVid (SegNet layout) to mmseg layout')
    parser.add_argument('src', help='SegNet CamVid folder (train/, '
                        'trainannot/, val/, valannot/, ...)')
    parser.add_argument('dst', help='output root (img_dir/, ann_dir/)')
    parser.add_argument(
        '--scale', type=float, default=1.0,
        help='resize factor in (0, 1]; default 1.0 (the CPU configs use '
        '0.5)')
    parser.add_argument(
        '--nproc', default=1, type=int, help='number of processes')
    return parser.parse_args()


def main():
    args = parse_args()
    run_converter(
        lambda: convert_camvid(
            args.src, args.dst, scale=args.scale, nproc=args.nproc),
        'CamVid conversion')


if __name__ == '__main__':
    main()
