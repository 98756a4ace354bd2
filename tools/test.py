# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Test (and evaluate) a segmentor: mmseg's ``tools/test.py`` with the
plugin loaded."""
import os.path as osp
import sys

from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg_aaf  # noqa: E402,F401  (registers the plugin's modules)
from mmseg_aaf.apis import apply_common_args, common_parser  # noqa: E402
from mmseg_aaf.utils import (CHECKPOINT_ERRORS,  # noqa: E402
                             teardown_distributed)


def parse_args():
    parser = common_parser('Test (and evaluate) a segmentor')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out',
        type=str,
        help='directory to save the predictions for offline evaluation')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images are saved, under '
        'work_dir/timestamp/')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--tta', action='store_true', help='test time augmentation')
    return parser.parse_args()


def enable_visualization(cfg, args):
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise RuntimeError(
            '--show/--show-dir need a VisualizationHook in default_hooks: '
            "visualization=dict(type='SegVisualizationHook')")
    hooks.visualization.draw = True
    if args.show:
        hooks.visualization.show = True
        hooks.visualization.wait_time = args.wait_time
    if args.show_dir:
        cfg.visualizer.save_dir = args.show_dir
    return cfg


def main():
    args = parse_args()
    cfg = apply_common_args(args)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = enable_visualization(cfg, args)
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    Runner.from_cfg(cfg).test()
    teardown_distributed()


if __name__ == '__main__':
    try:
        main()
    except CHECKPOINT_ERRORS as error:
        # One line, and never torch's advice to load with weights_only=False.
        print(f'error: {error}', file=sys.stderr)
        sys.exit(1)
