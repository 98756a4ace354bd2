# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Time and memory of the affinity losses, as ratios measured in one run.

``AAFLoss`` against the naive transcription and against mmseg's
``CrossEntropyLoss``, fwd + bwd, in time and extra peak memory, after a
check that plugin and naive agree (``--suite full``, ``make benchmark``);
or the GPU targets P4, P5 and P6 of ``tools/gpu_check.py``, each beside its
floor (``--suite gpu-check``). What is measured, and how, is defined in
:mod:`mmseg_aaf.benchmark`, which this tool runs.

Run ``python tools/benchmark_affinity.py --help`` for the options.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmseg_aaf.benchmark.suites import run  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpu',
                        help='cpu or cuda (default: cpu)')
    parser.add_argument('--repeats', type=int, default=None,
                        help='timed calls per case (default 7, 3 with '
                        '--quick)')
    parser.add_argument('--pspnet-pairs', type=int, default=None,
                        help='ABBA pairs of PSPNet-R101 training steps '
                        '(default 6, 2 with --quick)')
    parser.add_argument('--quick', action='store_true',
                        help='fewer repeats and smaller scaling sizes')
    parser.add_argument('--skip-pspnet', action='store_true',
                        help='leave out the PSPNet-R101 training step')
    parser.add_argument('--threads', type=int, default=0,
                        help='torch intra-op threads (default: torch\'s)')
    parser.add_argument('--suite', choices=('full', 'fused', 'gpu-check'),
                        default='full',
                        help='full: every case below (default); fused: the '
                        'fused kernel against the torch implementation and '
                        'cross-entropy (DRIVE shape, full resolution, the '
                        '1/8 grid); gpu-check: the GPU targets P4, P5, P6 '
                        'of tools/gpu_check.py')
    parser.add_argument('--small', action='store_true',
                        help='gpu-check suite at small sizes (the CPU '
                        'rehearsal)')
    parser.add_argument('--json', help='also write the table to this JSON '
                        'file')
    args = parser.parse_args(argv)
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        parser.error('--device cuda needs a CUDA device')
    return run(args)


if __name__ == '__main__':
    sys.exit(main())
