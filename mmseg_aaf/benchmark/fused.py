# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The ``fused`` suite: the fused affinity-field kernel against the torch
implementation and against cross-entropy, fwd + bwd, ratios measured in
one process (``tools/benchmark_affinity.py --suite fused``, the first part
of ``make benchmark``).

Cases and targets:

* the DRIVE recipe's shape, logits 4x2x64x64 (``downsample=1``, kernels
  3, 5, 7) on vessel-like labels, one thread: fused <= 0.2x the torch
  implementation, and <= 25x ``CrossEntropyLoss``;
* full resolution, 2x19x512x1024, two threads: fused <= 8x cross-entropy;
* the paper's 1/8 grid (P1, 2x19x64x128): fused no slower than torch;
* the DRIVE recipe's training step, one thread: with AAF <= 1.05x without
  (:mod:`.drive_step`), unless ``--skip-pspnet`` leaves training steps out.
"""
import math
from typing import Dict

import torch

from ..models.losses import AAFLoss
from .cases import make_ce, make_inputs, timed_call
from .measure import median, time_interleaved
from .report import Report, fmt_ms

DRIVE_SHAPE = (4, 2, 64, 64)
KERNEL_SIZES = (3, 5, 7)


def vessel_labels(n: int, height: int, width: int, seed: int = 0
                  ) -> torch.Tensor:
    """``(n, H, W)`` 0/1 labels: a dozen thin curved segments an image, 1
    to 3 pixels wide (about 10-20 % vessel pixels, as in DRIVE)."""
    gen = torch.Generator().manual_seed(seed)
    ys = torch.arange(height, dtype=torch.float32)[:, None]
    xs = torch.arange(width, dtype=torch.float32)[None, :]
    labels = torch.zeros(n, height, width, dtype=torch.long)
    for image in range(n):
        for _ in range(12):
            y0, x0, angle, bend = torch.rand(4, generator=gen).tolist()
            width_px = 1 + 2 * torch.rand(1, generator=gen).item()
            angle *= math.pi
            # Distance to a gently bent line through (y0 H, x0 W).
            along = (xs - x0 * width) * math.cos(angle) + (
                ys - y0 * height) * math.sin(angle)
            across = -(xs - x0 * width) * math.sin(angle) + (
                ys - y0 * height) * math.cos(angle)
            across = across - (bend - 0.5) * along**2 / max(height, width)
            labels[image][(across.abs() < width_px / 2)
                          & (along.abs() < height / 2)] = 1
    return labels


def _variants(logits, labels, num_classes, device) -> Dict[str, object]:
    losses = {name: AAFLoss(num_classes, kernel_sizes=KERNEL_SIZES,
                            downsample=1, implementation=name).to(device)
              for name in ('fused', 'torch')}
    ce = make_ce()
    calls = {name: timed_call(lambda x, loss=loss: loss(x, labels), logits,
                              device)
             for name, loss in losses.items()}
    calls['ce'] = timed_call(lambda x: ce(x, labels, ignore_index=255),
                             logits, device)
    return calls


def _print(case: str, times: Dict[str, dict]) -> None:
    for name, t in times.items():
        print(f'  {case:28s} {name:6s} fwd+bwd {fmt_ms(t["total"]):>10s} '
              f'(fwd {fmt_ms(t["fwd"])}, bwd {fmt_ms(t["bwd"])})')


def fused_suite(args) -> Report:
    """The cases of the module docstring, each in one process."""
    report = Report()
    device = args.device
    repeats = args.repeats or (5 if args.quick else 15)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        n, c, h, w = DRIVE_SHAPE
        gen = torch.Generator().manual_seed(0)
        logits = (torch.randn(n, c, h, w, generator=gen) * 2).to(device)
        labels = vessel_labels(n, h, w).to(device)
        print(f'\nDRIVE recipe shape {n}x{c}x{h}x{w}, vessel-like labels '
              f'({labels.float().mean().item():.0%} vessel), one thread')
        drive = time_interleaved(_variants(logits, labels, c, device),
                                 repeats)
        _print('drive', drive)
        report.target('DRIVE shape, 1 thread: fused/torch',
                      drive['fused']['total'] / drive['torch']['total'], 0.2,
                      'x', f'{fmt_ms(drive["fused"]["total"])} vs '
                      f'{fmt_ms(drive["torch"]["total"])}')
        report.target('DRIVE shape, 1 thread: fused/CE',
                      drive['fused']['total'] / drive['ce']['total'], 25,
                      'x', f'{fmt_ms(drive["fused"]["total"])} vs '
                      f'{fmt_ms(drive["ce"]["total"])}')

        torch.set_num_threads(2)
        shape = 'full' if not args.quick else 'full-small'
        logits, labels = make_inputs(shape, device)
        n, c, h, w = logits.shape
        print(f'\nFull resolution {n}x{c}x{h}x{w}, two threads')
        calls = _variants(logits, labels, c, device)
        del calls['torch']
        full = time_interleaved(calls, max(3, repeats // 5))
        _print('full resolution', full)
        report.target(f'{n}x{c}x{h}x{w}, 2 threads: fused/CE',
                      full['fused']['total'] / full['ce']['total'], 8, 'x',
                      f'{fmt_ms(full["fused"]["total"])} vs '
                      f'{fmt_ms(full["ce"]["total"])}')

        logits, labels = make_inputs('paper', device)
        n, c, h, w = logits.shape
        print(f'\nThe paper\'s 1/8 grid (P1) {n}x{c}x{h}x{w}, two threads')
        paper = time_interleaved(_variants(logits, labels, c, device),
                                 repeats)
        _print('paper grid', paper)
        report.target('P1 1/8 grid: fused/torch',
                      paper['fused']['total'] / paper['torch']['total'], 1.0,
                      'x', f'{fmt_ms(paper["fused"]["total"])} vs '
                      f'{fmt_ms(paper["torch"]["total"])}')

        if not args.skip_pspnet:
            from .drive_step import bench_drive_step
            torch.set_num_threads(1)
            pairs = args.pspnet_pairs or (6 if args.quick else 20)
            print(f'\nThe DRIVE recipe\'s training step (UNet-S5-D16, batch '
                  f'4x3x64x64), one thread, {pairs} ABBA pairs')
            steps = bench_drive_step(pairs)
            for name, label in (('ce', 'CE + AAF / CE'),
                                ('dice', 'CE + Dice + AAF / CE + Dice')):
                r = steps[name]
                print(f'  {label:28s} {fmt_ms(r["aaf"])} vs '
                      f'{fmt_ms(r["base"])}; per-pair ratios ' +
                      ', '.join(f'{x:.3f}' for x in r['ratios']))
                report.target(f'DRIVE step, 1 thread: {label}',
                              median(r['ratios']), 1.05, 'x',
                              f'median of {len(r["ratios"])} ABBA pairs; '
                              f'{fmt_ms(r["aaf"])} vs {fmt_ms(r["base"])}')
    finally:
        torch.set_num_threads(threads)
    return report
