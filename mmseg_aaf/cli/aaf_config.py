# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``mmseg-aaf-config``: write the AAF twin of an mmseg config.

The installed command, ``python -m mmseg_aaf.cli.aaf_config`` and the
checkout's ``tools/aaf_config.py`` all run :func:`main`. Examples::

    mmseg-aaf-config \\
        mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py
    mmseg-aaf-config my_configs/ocrnet.py --out my_configs/
    mmseg-aaf-config CONFIG --method affinity --aux

The written config ``_base_``-s CONFIG and changes only what switching the
method on needs (the loss lists of the carrying heads, the optimizer
wrapper type, the decay hook); its header comments say what and why. A
config that cannot carry the loss is refused with the head and the reason.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction

from . import error, quiet_setuptools
from ..apis.aaf_config import (RefusedConfig, UnknownLossOption, make_twin,
                               resolve_config_path)


def build_parser(prog=None) -> argparse.ArgumentParser:
    """The command's argument parser (the docs render its help)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description='Write a config that switches AAF (or the fixed '
        'affinity field) on for an mmseg config')
    parser.add_argument(
        'config', help='config file path, or mmseg::<family>/<name>.py')
    parser.add_argument(
        '--method',
        choices=['aaf', 'affinity'],
        default='aaf',
        help='aaf: AAFLoss (k = 3, 5, 7) and the adversarial optimizer '
        'wrapper; affinity: AffinityLoss (k = 3). Default: aaf')
    parser.add_argument(
        '--out',
        help='output file, or a directory to write <name>_<method>.py '
        'into (default: ./<name>_<method>.py)')
    parser.add_argument(
        '--aux',
        action='store_true',
        help='also put the loss on auxiliary heads and on earlier dense '
        'stages of a cascade')
    parser.add_argument(
        '--log-kernel-sizes',
        action='store_true',
        help='add KernelSizeLoggerHook (per-class effective kernel sizes '
        'in the log; aaf only)')
    parser.add_argument(
        '--loss-options',
        nargs='+',
        action=DictAction,
        help='settings of the appended loss that replace its defaults, '
        'key=value, e.g. downsample=4 kernel_sizes="(3,5)"')
    parser.add_argument(
        '--force', action='store_true', help='overwrite an existing file')
    return parser


def parse_args(argv=None, prog=None):
    return build_parser(prog).parse_args(argv)


def output_path(config: str, method: str, out) -> str:
    name = osp.splitext(osp.basename(config))[0] + f'_{method}.py'
    if out is None:
        return name
    if out.endswith(('/', os.sep)) or osp.isdir(out):
        return osp.join(out, name)
    return out


def main(argv=None, prog=None) -> int:
    """Run the command on ``argv`` (default: ``sys.argv[1:]``); returns
    the exit status: 0, or 1 after one ``error:`` line."""
    args = parse_args(argv, prog)
    quiet_setuptools()
    path = resolve_config_path(args.config)
    if not osp.isfile(path):
        return error(f'config not found: {args.config}')
    out = output_path(args.config, args.method, args.out)
    if osp.exists(out) and not args.force:
        return error(f'{out} exists; pass --force to overwrite it')
    if args.log_kernel_sizes and args.method != 'aaf':
        return error('--log-kernel-sizes needs --method aaf (only AAF '
                      'learns kernel sizes)')
    try:
        twin = make_twin(
            args.config,
            out,
            method=args.method,
            aux=args.aux,
            log_kernel_sizes=args.log_kernel_sizes,
            loss_options=args.loss_options)
    except RefusedConfig as exc:
        return error(f'cannot add {args.method} to {args.config}: {exc}')
    except UnknownLossOption as exc:
        return error(str(exc))
    except Exception as exc:  # an unreadable config
        return error(f'cannot read {args.config}: '
                      f'{type(exc).__name__}: {exc}')
    try:
        if osp.dirname(out):
            os.makedirs(osp.dirname(out), exist_ok=True)
        with open(out, 'w') as f:
            f.write(twin.text)
    except OSError as exc:
        return error(f'cannot write {out}: {exc.strerror}')
    for p in twin.placements:
        print(f'{p.place} ({p.head_type}): {args.method} loss appended')
    for place, head_type, reason in twin.skipped:
        print(f'{place} ({head_type}): not carrying it, {reason}')
    if twin.wrapper:
        print(f'optim_wrapper: {twin.wrapper[0]} -> {twin.wrapper[1]} '
              f'(optimizer {twin.optimizer_type} inherited)')
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
