# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""What ``mmseg-aaf-compare --jobs`` gains on this machine.

Runs one small study (the demo's CPU PSPNet on its synthetic data: CE and
+ AAF, 2 seeds) three times, one after another, each into its own work
dir: one run at a time on 1 thread, one at a time on 2 threads, and
``--jobs 2 --threads 1``. Prints the wall times and their ratios, measured
in this one process, and checks that the two 1-thread studies recorded
the same runs (seeded: equal records but for the timings)::

    python tools/benchmark_jobs.py                 # about 6 minutes, 2 cores
    python tools/benchmark_jobs.py --iters 50      # a shorter check
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BASELINE = osp.join(REPO_ROOT, 'configs', 'demo', 'pspnet_ce_synthetic.py')
#: (label, work dir name, options)
SETTINGS = (
    ('--jobs 1 --threads 1', 'jobs1_threads1', ['--threads', '1']),
    ('--jobs 1 --threads 2', 'jobs1_threads2', ['--threads', '2']),
    ('--jobs 2 --threads 1', 'jobs2_threads1',
     ['--jobs', '2', '--threads', '1']),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=200,
                        help='iterations per run (default 200)')
    parser.add_argument('--seeds', type=int, default=2,
                        help='seeds per method (default 2)')
    parser.add_argument('--work-dir', default='work_dirs/benchmark_jobs',
                        help='data, runs and records (emptied first)')
    return parser.parse_args(argv)


def records(folder: str) -> dict:
    found = {}
    for slug in sorted(os.listdir(folder)):
        for name in sorted(os.listdir(osp.join(folder, slug))):
            with open(osp.join(folder, slug, name)) as f:
                record = json.load(f)
            for key in ('train_seconds', 'test_seconds', 'config'):
                record.pop(key)
            found[f'{slug}/{name}'] = record
    return found


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.iters < 1 or args.seeds < 1:
        print('error: --iters and --seeds must be >= 1', file=sys.stderr)
        return 1
    import shutil

    from mmseg_aaf.comparison.synthetic import write_dataset
    work_dir = osp.abspath(args.work_dir)
    if osp.isdir(work_dir):
        shutil.rmtree(work_dir)
    data = osp.join(work_dir, 'data')
    print(f'data: 96 train + 24 val synthetic images -> {data}', flush=True)
    write_dataset(data, num_train=96, num_val=24, seed=0)
    common = [BASELINE, '--methods', 'ce', '+aaf', '--seeds',
              str(args.seeds), '--iters', str(args.iters),
              '--loss-options', 'downsample=2', '--cfg-options',
              f'train_dataloader.dataset.data_root={data}',
              f'test_dataloader.dataset.data_root={data}']
    walls = {}
    for label, name, options in SETTINGS:
        print(f'{label}: {2 * args.seeds} runs of {args.iters} iterations',
              flush=True)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, '-m', 'mmseg_aaf.cli.compare', *common,
             *options, '--work-dir', osp.join(work_dir, name)],
            capture_output=True, text=True)
        walls[label] = time.perf_counter() - start
        if proc.returncode:
            print(proc.stdout[-3000:] + proc.stderr[-3000:], file=sys.stderr)
            print(f'error: the study with {label} failed', file=sys.stderr)
            return 1
        print(f'  {walls[label]:.1f} s', flush=True)
    same = records(osp.join(work_dir, 'jobs1_threads1', 'records')) == \
        records(osp.join(work_dir, 'jobs2_threads1', 'records'))
    first = walls[SETTINGS[0][0]]
    print()
    print(f'| Setting | wall (s) | speed-up over {SETTINGS[0][0]} |')
    print('| --- | ---: | ---: |')
    for label, seconds in walls.items():
        print(f'| `{label}` | {seconds:.1f} | {first / seconds:.2f}x |')
    print()
    print(f'--jobs 2 --threads 1 vs --jobs 1 --threads 2: '
          f'{walls[SETTINGS[1][0]] / walls[SETTINGS[2][0]]:.2f}x')
    print('records of --jobs 1 --threads 1 and --jobs 2 --threads 1 '
          f'(timings left out): {"identical" if same else "DIFFERENT"}')
    return 0 if same else 1


if __name__ == '__main__':
    sys.exit(main())
