# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``mmseg-aaf-publish``: an AAF-trained checkpoint for stock mmseg (see
:mod:`mmseg_aaf.apis.publish`); ``tools/publish_model.py`` runs
:func:`main` too."""
import argparse
import os.path as osp
import sys

from mmengine.config import Config

from . import error, quiet_setuptools


def build_parser(prog=None) -> argparse.ArgumentParser:
    """The command's argument parser (the docs render its help)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description='Publish an AAF-trained checkpoint: no training state, '
        'no AAF size logits, and an inference config without the plugin')
    parser.add_argument('in_file', help='input checkpoint filename')
    parser.add_argument('out_file',
                        help='output filename, without the hash suffix')
    parser.add_argument(
        '--config',
        help="the config it was trained with. When the checkpoint's meta "
        'also stores one, this file wins and a line says so (use it for a '
        'checkpoint whose stored config is stale or missing); default: the '
        "one stored in the checkpoint's meta")
    return parser


def parse_args(argv=None, prog=None):
    return build_parser(prog).parse_args(argv)


def main(argv=None, prog=None) -> int:
    args = parse_args(argv, prog)
    quiet_setuptools()
    from ..apis.publish import PublishError, publish_checkpoint
    from ..utils.checkpoint_compat import CHECKPOINT_ERRORS
    if not osp.isfile(args.in_file):
        return error(f'checkpoint not found: {args.in_file}')
    config = None
    if args.config:
        if not osp.isfile(args.config):
            return error(f'config not found: {args.config}')
        try:
            config = Config.fromfile(args.config)
        except Exception as exc:
            return error(f'cannot read {args.config}: '
                          f'{type(exc).__name__}: {exc}')
    try:
        result = publish_checkpoint(args.in_file, args.out_file, config)
    except (PublishError, *CHECKPOINT_ERRORS) as exc:
        return error(str(exc))
    except OSError as exc:
        return error(f'cannot write {args.out_file}: {exc}')
    if result['stored_config_replaced']:
        print(f'using the config {args.config}, not the one stored in '
              f'{args.in_file}')
    for line in result['removed']:
        print(f'removed {line}')
    if result['dropped_keys']:
        print(f'dropped {len(result["dropped_keys"])} AAF size-logit '
              'tensors from the state dict')
    print(f'wrote {result["checkpoint"]}')
    print(f'wrote {result["config"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
