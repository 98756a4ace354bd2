# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""CE, Lovász, Dice, the affinity field and AAF on CamVid val, two models.

Converts the SegNet CamVid folder at half resolution, trains and tests
PSPNet with CE (class-balanced), + LovaszLoss, + DiceLoss, + AffinityLoss
and + AAFLoss, and DeepLabV3+ with CE, + LovaszLoss, + DiceLoss and
+ AAFLoss, 3 seeds each, and writes results.md / results.json / losses.png into the work dir. Every
finished run leaves a record; a rerun skips recorded runs and resumes a
cut-off training from its last checkpoint.

    python tools/compare_losses.py ../shared/camvid   # or: make compare-losses
    python tools/compare_losses.py --quick           # synthetic, seconds
"""
import argparse
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg_aaf  # noqa: E402,F401  (registers the plugin's modules)
from mmseg_aaf.comparison.loss_comparison import \
    run_loss_comparison  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Compare CE, Lovász, Dice, affinity and AAF on CamVid '
        '(CPU scale, two models, several seeds).')
    parser.add_argument(
        'camvid', nargs='?',
        help='SegNet CamVid folder (train/, trainannot/, val/, valannot/); '
        'not needed with --quick')
    parser.add_argument('--quick', action='store_true',
                        help='synthetic scenes, 2 seeds, 2 iterations')
    parser.add_argument('--work-dir', default='work_dirs/compare_losses')
    parser.add_argument(
        '--records',
        help='directory of the per-run records (default: WORK_DIR/records)')
    parser.add_argument('--data-root', default='data/camvid_half',
                        help='where the half-resolution conversion goes')
    parser.add_argument('--seeds', type=int, help='seeds per cell')
    parser.add_argument('--affinity-seeds', type=int,
                        help='seeds of the fixed-size affinity cell')
    parser.add_argument('--iters', type=int,
                        help='another schedule length (experiments)')
    parser.add_argument('--nproc', type=int, default=2,
                        help='conversion processes')
    parser.add_argument('--threads', type=int, default=2,
                        help='torch intra-op threads')
    args = parser.parse_args(argv)
    if args.camvid is None and not args.quick:
        parser.error('give the CamVid folder, or --quick')
    if (args.seeds is not None and args.seeds < 1) or (
            args.affinity_seeds is not None and args.affinity_seeds < 0):
        parser.error('--seeds must be >= 1 and --affinity-seeds >= 0')
    if args.iters is not None and args.iters < 1:
        parser.error('--iters must be >= 1')
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        run_loss_comparison(
            args.camvid, work_dir=args.work_dir, records_dir=args.records,
            data_root=args.data_root,
            preset='quick' if args.quick else 'full', seeds=args.seeds,
            affinity_seeds=args.affinity_seeds, iters=args.iters,
            nproc=args.nproc, printer=lambda line: print(line, flush=True))
    except (FileNotFoundError, RuntimeError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print('error: interrupted; rerun the same command to continue',
              file=sys.stderr)
        sys.exit(130)


if __name__ == '__main__':
    main()
