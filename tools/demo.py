# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""CE vs. affinity vs. AAF on synthetic thin structures, on the CPU.

Writes a small seeded dataset (thin wheels, poles and wires, touching
crates and blobs on textured backgrounds), then runs the study of
``mmseg-aaf-compare`` over configs/demo/: the same small PSPNet trained from
scratch with cross-entropy, + affinity loss and + adaptive affinity fields,
each tested on the held-out split (mIoU, boundary F-score, instance-wise
mIoU, the thin classes' mIoU), with a table, a chart, predictions and the
learned kernel sizes in the work dir. Needs no download and no GPU; a rerun
continues from the records.

    python tools/demo.py            # 5-8 minutes on 2 CPU cores
    python tools/demo.py --quick    # about 2 minutes
"""
import argparse
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg_aaf  # noqa: E402,F401  (registers the plugin's modules)
from mmseg_aaf.comparison.demo import run_demo  # noqa: E402
from mmseg_aaf.comparison.executors import (Execution,  # noqa: E402
                                            ExecutionError)
from mmseg_aaf.comparison.study import StudyError  # noqa: E402


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
        help='torch intra-op threads (default 2; with --jobs N, per run and '
        'by default the cores divided by N); the published numbers use 2, '
        'and another count may change the last digits')
    parser.add_argument(
        '--jobs', type=int, help='runs at once, each in its own process '
        '(default 1: one after another in this process)')
    parser.add_argument(
        '--verbose',
        action='store_true',
        help="keep mmengine's INFO log and library warnings")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for name in ('iters', 'jobs', 'threads'):
        value = getattr(args, name)
        if value is not None and value < 1:
            print(f'error: --{name} must be >= 1, got {value}',
                  file=sys.stderr)
            sys.exit(1)
    threads = args.threads or (None if args.jobs else 2)
    if threads:
        torch.set_num_threads(threads)
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'demo_quick' if args.quick else 'demo')
    try:
        run_demo(work_dir, quick=args.quick, seed=args.seed,
                 iters=args.iters, verbose=args.verbose,
                 printer=lambda line: print(line, flush=True),
                 execution=Execution(jobs=args.jobs, threads=threads,
                                     gpus_per_run=0))
    except (StudyError, ExecutionError, FileExistsError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print('error: interrupted; the same command continues from the '
              'records and the last checkpoint', file=sys.stderr)
        sys.exit(130)


if __name__ == '__main__':
    main()
