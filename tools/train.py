# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Train a segmentor: mmseg's ``tools/train.py`` with the plugin loaded."""
import logging
import os.path as osp
import sys

from mmengine.logging import print_log
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg_aaf  # noqa: E402,F401  (registers the plugin's modules)
from mmseg_aaf.apis import apply_common_args, common_parser  # noqa: E402
from mmseg_aaf.utils import (CHECKPOINT_ERRORS,  # noqa: E402
                             teardown_distributed)

# --amp turns each wrapper into its mixed-precision counterpart.
_AMP_WRAPPERS = {
    'OptimWrapper': 'AmpOptimWrapper',
    'AdversarialOptimWrapper': 'AdversarialAmpOptimWrapper',
}


def parse_args():
    parser = common_parser('Train a segmentor')
    parser.add_argument(
        '--resume',
        action='store_true',
        default=False,
        help='resume from the latest checkpoint in the work_dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic mixed-precision training')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = apply_common_args(args)
    if args.amp:
        wrapper = cfg.optim_wrapper.type
        if wrapper in _AMP_WRAPPERS.values():
            print_log('AMP training is already enabled in your config.',
                      logger='current', level=logging.WARNING)
        elif wrapper in _AMP_WRAPPERS:
            cfg.optim_wrapper.type = _AMP_WRAPPERS[wrapper]
            cfg.optim_wrapper.loss_scale = 'dynamic'
        else:
            raise ValueError(
                f'--amp supports the optim wrappers {sorted(_AMP_WRAPPERS)}, '
                f'got {wrapper}')
    cfg.resume = args.resume
    Runner.from_cfg(cfg).train()
    teardown_distributed()


if __name__ == '__main__':
    try:
        main()
    except CHECKPOINT_ERRORS as error:
        # One line, and never torch's advice to load with weights_only=False.
        print(f'error: {error}', file=sys.stderr)
        sys.exit(1)
