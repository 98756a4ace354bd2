# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""CE vs. affinity vs. AAF on synthetic thin structures, on the CPU.

Generates a small seeded dataset (thin wheels, poles and wires, touching
crates and blobs on textured backgrounds), trains the same small PSPNet
from scratch three times (cross-entropy; + affinity loss; + adaptive
affinity fields) with the configs of configs/demo/, tests each on the
held-out split (mIoU, boundary F-score, instance-wise mIoU) and writes a
table and two figures into the work dir. Needs no download and no GPU.

    python tools/demo.py            # about 5 minutes on 2 CPU cores
    python tools/demo.py --quick    # about 2 minutes
"""
import argparse
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg_aaf  # noqa: E402,F401  (registers the plugin's modules)
from mmseg_aaf.comparison.pipeline import run_demo  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train CE, affinity and AAF on synthetic thin '
        'structures and compare them (CPU, no download).')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='fewer images and iterations (about 2 minutes)')
    parser.add_argument(
        '--iters',
        type=int,
        help="training iterations per method instead of the preset's "
        '(800, or 300 with --quick)')
    parser.add_argument(
        '--work-dir',
        help='output folder (default: work_dirs/demo, or '
        'work_dirs/demo_quick with --quick)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of data and training')
    parser.add_argument(
        '--threads',
        type=int,
        default=2,
        help='torch intra-op threads; the published numbers use 2, and '
        'another count may change the last digits')
    parser.add_argument(
        '--verbose',
        action='store_true',
        help="keep mmengine's INFO log and library warnings")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.iters is not None and args.iters < 1:
        print(f'error: --iters must be >= 1, got {args.iters}',
              file=sys.stderr)
        sys.exit(1)
    torch.set_num_threads(args.threads)
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'demo_quick' if args.quick else 'demo')
    run_demo(work_dir, quick=args.quick, seed=args.seed, verbose=args.verbose,
             printer=lambda line: print(line, flush=True),
             preset_overrides=None if args.iters is None else dict(
                 iters=args.iters))


if __name__ == '__main__':
    main()
