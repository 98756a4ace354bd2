# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""What ``tools/train.py`` and ``tools/test.py`` share.

Both take mmseg's arguments and apply them the way mmseg's tools do; in
addition they make sure ``mmseg_aaf`` is imported and prepare CPU-only
multi-process runs (see :mod:`mmseg_aaf.utils.dist`).
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

from ..utils.dist import setup_cpu_distributed


def common_parser(description: str) -> argparse.ArgumentParser:
    """Parser with ``config`` and the options both tools accept."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--work-dir', help='the dir to save logs, models and metrics')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs in xxx=yyy format '
        'merged into the config; lists as key="[a,b]" or key=a,b, nested '
        'as key="[(a,b),(c,d)]", quoted and without white space')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def apply_common_args(args: argparse.Namespace) -> Config:
    """Load the config and apply the shared options, as mmseg does."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    setup_cpu_distributed(cfg, args.launcher)
    return cfg
