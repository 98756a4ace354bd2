# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Plot the per-class effective AAF kernel sizes of a checkpoint (Fig. 4).

Example::

    python tools/analysis/plot_kernel_sizes.py work_dirs/aaf/iter_30000.pth \
        --config configs/aaf/my_config.py --out kernel_sizes.png
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

import mmseg_aaf  # noqa: E402,F401  (allow-lists mmengine checkpoint types)
from mmseg_aaf.utils import (CHECKPOINT_ERRORS,  # noqa: E402
                             load_local_checkpoint)
from mmseg_aaf.visualization import (  # noqa: E402
    aaf_kernel_sizes_from_config, class_names_from_config,
    kernel_sizes_from_state_dict, plot_kernel_sizes)
from mmseg_aaf.visualization.kernel_sizes import \
    DEFAULT_KERNEL_SIZES  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Plot per-class effective AAF kernel sizes')
    parser.add_argument('checkpoint', help='mmengine checkpoint (.pth)')
    parser.add_argument(
        '--config',
        help='training config: gives the AAFLoss kernel_sizes and, when '
        'the checkpoint lacks them, the class names')
    parser.add_argument('--out', default='kernel_sizes.png',
                        help='output PNG path (default: kernel_sizes.png)')
    parser.add_argument(
        '--loss-index', type=int, default=0,
        help='which AAFLoss to plot when the model has several, in '
        'state-dict order (default: 0)')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    checkpoint = load_local_checkpoint(
        args.checkpoint, map_location='cpu', weights_only=True)
    state_dict = checkpoint.get('state_dict', checkpoint)
    meta = checkpoint.get('meta') or {}

    cfg = None
    kernel_sizes = DEFAULT_KERNEL_SIZES
    if args.config:
        from mmengine.config import Config
        cfg = Config.fromfile(args.config)
        kernel_sizes = aaf_kernel_sizes_from_config(cfg, args.loss_index)

    losses = kernel_sizes_from_state_dict(state_dict, kernel_sizes)
    if not 0 <= args.loss_index < len(losses):
        raise ValueError(
            f'--loss-index {args.loss_index} is out of range: the checkpoint '
            f'has {len(losses)} AAFLoss(es): '
            f'{[loss.prefix for loss in losses]}')
    loss = losses[args.loss_index]
    num_classes = len(loss.edge)

    class_names = (meta.get('dataset_meta') or {}).get('classes')
    if not class_names and cfg is not None:
        class_names = class_names_from_config(cfg)
    if not class_names or len(class_names) != num_classes:
        class_names = [str(index) for index in range(num_classes)]

    out = plot_kernel_sizes(class_names, loss.edge, loss.nonedge,
                            kernel_sizes, args.out,
                            title=f'Effective kernel sizes ({loss.prefix})')
    print(f'wrote {out}')
    return out


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, ValueError) + CHECKPOINT_ERRORS as err:
        sys.exit(f'plot_kernel_sizes.py: error: {err}')
