# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``mmseg-aaf-compare``: does AAF help on my data, and more than the
losses I could append instead?

Trains and tests a baseline mmseg config and methods derived from it,
several seeds each, with mmengine's ``Runner``, and reports mean ± std,
each method minus the baseline on the same seed (seeds won), the focus
method minus each other one, per-class tables and a chart. Examples::

    mmseg-aaf-compare my_configs/unet_drive.py \\
        --methods ce +dice:3.0 +aaf +dice:3.0+aaf --seeds 3 \\
        --work-dir work_dirs/cmp --loss-options downsample=1
    mmseg-aaf-compare mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py \\
        --methods ce +aaf --iters 20000 --seeds 2
    mmseg-aaf-compare CONFIG --quick      # every method for 2 iterations
    mmseg-aaf-compare CONFIG --jobs 2 --threads 1     # two runs at once
    mmseg-aaf-compare CONFIG --launcher slurm --partition gpu \\
        --gpus-per-run 4 --time 12:00:00   # one Slurm job per run

Every finished run leaves a record (``--records``); the same command again
continues where a stop left it.
"""
import argparse
import shlex
import sys

from mmengine.config import DictAction

from . import error, quiet_setuptools

DEFAULT_METHODS = ('ce', '+dice', '+aaf', '+dice+aaf')


def build_parser(prog=None) -> argparse.ArgumentParser:
    """The command's argument parser (the docs render its help)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description='Train a baseline mmseg config and methods derived '
        'from it (+aaf, +dice, ...) for several seeds, and compare them '
        'seed by seed.')
    parser.add_argument(
        'config', help='the baseline: a config file, or '
        'mmseg::<family>/<name>.py')
    parser.add_argument(
        '--methods', nargs='+', default=list(DEFAULT_METHODS),
        metavar='METHOD',
        help='ce or base (the baseline as it is); +aaf, +affinity, +dice, '
        '+lovasz and combinations such as +dice+aaf, each optionally '
        'weighted (+dice:3.0); NAME=path/to/config.py for any other '
        f'config. Default: {" ".join(DEFAULT_METHODS)}')
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument('--seeds', type=int, default=3,
                       help='seeds 0..N-1 (default 3)')
    seeds.add_argument('--seed-list', type=int, nargs='+', metavar='SEED',
                       help='these seeds instead')
    parser.add_argument(
        '--iters', type=int,
        help='the whole schedule length (warm-up and poly decay rescaled)')
    parser.add_argument('--work-dir', default='work_dirs/compare',
                        help='derived configs, runs, records and reports '
                        '(default work_dirs/compare)')
    parser.add_argument(
        '--records', help='folder of the per-run records (default '
        'WORK_DIR/records); keep it to continue in another session')
    parser.add_argument('--report-dir',
                        help='where the reports go (default WORK_DIR)')
    parser.add_argument(
        '--focus', nargs='+', metavar='METHOD',
        help='the methods whose "minus each other method" tables are '
        'written (default: the last)')
    parser.add_argument(
        '--subset', action='append', default=[], metavar='NAME=C1,C2',
        help='report the mean IoU of these classes as "NAME mIoU", e.g. '
        'thin=pole,signsymbol,fence; repeatable')
    parser.add_argument(
        '--measures', nargs='+', metavar='KEY',
        help="the evaluator's keys shown in the tables, in this order, and "
        'NAME_m<MEASURE> for the mean of a per-class measure over a subset '
        '(thin_mIoU, vessel_mDice); default: every key the evaluator '
        'returns, then NAME_mIoU of each subset')
    parser.add_argument(
        '--loss-options', nargs='+', action=DictAction,
        help='settings of the pairwise loss of +aaf / +affinity, key=value, '
        'as mmseg-aaf-config takes them (e.g. downsample=1)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of every method\'s config, key=value as in '
        "mmseg's tools")
    parser.add_argument(
        '--quick', action='store_true',
        help='2 iterations of batch 2 per run, each tested on at most 2 test '
        'images, into WORK_DIR/quick: checks that every method builds, '
        'trains, tests and reports')
    parser.add_argument(
        '--show', type=int, default=0, metavar='N',
        help='keep the first seed\'s predictions of N test images (most '
        'pixels of the first --subset) and draw qualitative.png')
    parser.add_argument(
        '--zoom', type=float, default=1.0,
        help='the figure shows this fraction of each image side, where '
        'those pixels are densest (default 1: whole images)')
    parser.add_argument('--report-only', action='store_true',
                        help='write the reports from the records; train '
                        'nothing')
    parser.add_argument('--title', help='heading of the reports (default: '
                        "the baseline's file name)")
    run = parser.add_argument_group(
        'where the runs execute', 'one after another in this process by '
        'default; --jobs N runs N at once on this machine, --launcher slurm '
        'makes each (method, seed) a Slurm job. The records and reports '
        'are the same either way.')
    run.add_argument('--launcher', choices=['local', 'slurm'],
                     default='local', help='local (this machine, default) '
                     'or slurm (one sbatch job per run, through submitit)')
    run.add_argument(
        '--jobs', type=int, metavar='N',
        help='local runs at once, each in its own process (default: the '
        'visible GPUs // --gpus-per-run, or 1 without GPUs)')
    run.add_argument('--threads', type=int,
                     help='torch intra-op threads per run (default: '
                     "torch's; with --jobs N, the cores divided by N)")
    run.add_argument(
        '--gpus-per-run', type=int, metavar='G',
        help='GPUs of each run (CUDA_VISIBLE_DEVICES locally, '
        '--gpus-per-node on Slurm); more than one trains with one process '
        'per GPU (default 1 where CUDA is visible, else 0)')
    run.add_argument('--partition', help='Slurm partition')
    run.add_argument('--time', help='Slurm time limit per run: minutes, '
                     'HH:MM:SS or D-HH:MM:SS (default 1-00:00:00); a run cut '
                     'off is requeued and resumes from its checkpoint')
    run.add_argument(
        '--slurm-args', default='', metavar='"ARGS"',
        help='further sbatch options as one string, e.g. '
        '"--qos=high --account=seg --constraint=a100"')
    run.add_argument('--no-wait', action='store_true',
                     help='Slurm: submit and return; the same command '
                     'later collects the records (and resubmits failed '
                     'runs)')
    run.add_argument('--poll', type=float, default=30.0, metavar='SECONDS',
                     help='Slurm: how often the queue is read (default 30)')
    parser.add_argument('--verbose', action='store_true',
                        help="keep mmengine's log output")
    return parser


def parse_args(argv=None, prog=None):
    return build_parser(prog).parse_args(argv)


def parse_subsets(specs) -> dict:
    subsets = {}
    for spec in specs:
        name, _, classes = spec.partition('=')
        members = [c.strip() for c in classes.split(',') if c.strip()]
        if not name or not members or name in subsets:
            raise ValueError(f'--subset {spec!r}: give NAME=C1,C2,... with '
                             'a new name and at least one class')
        subsets[name] = members
    return subsets


def main(argv=None, prog=None) -> int:
    """Run the command on ``argv``; returns the exit status: 0, 1 after
    one ``error:`` line, 130 when interrupted."""
    args = parse_args(argv, prog)
    quiet_setuptools()
    import torch

    import mmseg_aaf  # noqa: F401  (registers the plugin's modules)
    from ..apis.aaf_config import UnknownLossOption
    from ..comparison.methods import MethodError, parse_methods
    from ..comparison.records import StaleRecord
    from ..comparison.executors import Execution, ExecutionError
    from ..comparison.study import Study, StudyError, run_study
    from ..comparison.study_report import ReportError
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.iters is not None and args.iters < 1:
        return error('--iters must be >= 1')
    if args.seed_list is None and args.seeds < 1:
        return error('--seeds must be >= 1')
    try:
        study = Study(
            baseline=args.config,
            methods=parse_methods(args.methods),
            seeds=args.seed_list or list(range(args.seeds)),
            work_dir=args.work_dir,
            records_dir=args.records,
            report_dir=args.report_dir,
            iters=args.iters,
            cfg_options=args.cfg_options,
            loss_options=args.loss_options,
            focus=args.focus,
            subsets=parse_subsets(args.subset),
            measures=args.measures,
            quick=args.quick,
            verbose=args.verbose,
            title=args.title,
            show=args.show,
            zoom=args.zoom)
        execution = Execution(
            launcher=args.launcher, jobs=args.jobs, threads=args.threads,
            gpus_per_run=args.gpus_per_run, partition=args.partition,
            time=args.time, slurm_args=shlex.split(args.slurm_args),
            wait=not args.no_wait, poll_seconds=args.poll)
        run_study(study, printer=lambda line: print(line, flush=True),
                  report_only=args.report_only, execution=execution)
    except (MethodError, StudyError, StaleRecord, ReportError,
            UnknownLossOption, ExecutionError, FileNotFoundError,
            ValueError) as exc:
        if args.verbose:
            raise
        return error(str(exc))
    except KeyboardInterrupt:
        print('error: interrupted; the same command continues from the '
              'records and the last checkpoint', file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())
