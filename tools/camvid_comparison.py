# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""CE vs. affinity vs. AAF on CamVid val, several seeds, on the CPU.

Converts the SegNet CamVid folder at half resolution into
data/camvid_half, trains and tests the three configs of
configs/camvid/*_camvid-cpu.py (3 seeds of CE and AAF, 1 of the fixed
affinity field by default) and writes into the work dir: results.md / .csv
/ .json (mIoU, boundary F-score and recall, mean ± std over seeds),
per_class_iou.md / .csv (with the AAF - CE row), kernel_sizes.png and
qualitative.png. Finished trainings and tests are kept, so a rerun
continues where an interrupted one stopped.

    python tools/camvid_comparison.py ../shared/camvid   # or: make camvid
"""
import argparse
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg_aaf  # noqa: E402,F401  (registers the plugin's modules)
from mmseg_aaf.comparison.camvid_comparison import \
    run_camvid_comparison  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train and compare CE, affinity and AAF on CamVid '
        '(CPU scale, several seeds).')
    parser.add_argument(
        'camvid', help='SegNet CamVid folder (train/, trainannot/, val/, '
        'valannot/)')
    parser.add_argument('--work-dir', default='work_dirs/camvid')
    parser.add_argument(
        '--data-root', default='data/camvid_half',
        help='where the half-resolution conversion is written')
    parser.add_argument(
        '--seeds', type=int, default=3, help='seeds of CE and of AAF')
    parser.add_argument(
        '--affinity-seeds', type=int, default=1,
        help='seeds of the fixed 3x3 affinity field')
    parser.add_argument(
        '--iters', type=int, help='another schedule length (experiments)')
    parser.add_argument(
        '--retest', action='store_true',
        help='test finished runs again instead of reusing their metrics')
    parser.add_argument('--nproc', type=int, default=2,
                        help='conversion processes')
    parser.add_argument('--threads', type=int, default=2,
                        help='torch intra-op threads')
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.affinity_seeds < 0:
        parser.error('--seeds must be >= 1 and --affinity-seeds >= 0')
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        run_camvid_comparison(
            args.camvid, work_dir=args.work_dir, data_root=args.data_root,
            seeds=args.seeds, affinity_seeds=args.affinity_seeds,
            iters=args.iters, nproc=args.nproc, retest=args.retest,
            printer=lambda line: print(line, flush=True))
    except (FileNotFoundError, RuntimeError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
