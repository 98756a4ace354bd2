# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The benchmark's two suites, and :func:`run`, the tool's one call.

``fused`` (first in ``make benchmark``): the fused kernel against the
torch implementation and cross-entropy (:mod:`.fused`). ``full`` (``make
benchmark``): the paper setting (plugin, naive, CE), full
resolution (plugin, CE), the 1/8 grid of a 769 crop, the plugin's scaling
and the PSPNet-R101 step, in time and extra peak memory. ``gpu-check``
(the ``benchmark`` step of ``tools/gpu_check.py``): the GPU targets P4, P5
and P6, each beside its floor; with ``--small`` at sizes a CPU can run,
every target reported as SKIP.
"""
import gc
import json
import time

import torch

from .cases import NUM_CLASSES, SHAPES, build_variant, check_against_naive
from .floors import (loss_floor_bytes, measure_copy_bandwidth,
                     measure_matmul_rate)
from .measure import (configure_process, median, memory_in_subprocess,
                      time_interleaved)
from .pspnet_step import (PSPNET_CONFIG, PSPNET_INPUT, bench_pspnet,
                          pspnet_loss_alone)
from .report import (GIB, Report, fmt_flops, fmt_mib, fmt_ms,
                     machine_description)

#: The GPU targets of the GPU check (tools/gpu_check.py): P4 the 1/8 grid of
#: a 769 crop, P5 full resolution against cross-entropy, P6 a PSPNet-R101
#: training step with CE + AAF against CE, in time and in peak memory.
P4_MS = 0.3
P5_RATIO = 3.0
P6_RATIO = 1.01


def run(args) -> int:
    """The benchmark with the arguments of ``tools/benchmark_affinity.py``:
    the gate, then ``args.suite``; prints the table, writes ``--json``."""
    configure_process(args.threads, args.quick)
    began = time.perf_counter()
    print(machine_description(args.device))
    print(check_against_naive(args.device))
    if args.suite == 'fused':
        from .fused import fused_suite
        return _finish(fused_suite(args), args, began)
    if args.suite == 'gpu-check':
        return _finish(gpu_check_suite(args), args, began)
    return _finish(full_suite(args), args, began)


def gpu_check_suite(args) -> Report:
    """P4, P5 and P6 with the GPU targets; on the CPU (``--small``) the
    same measurements at small sizes, each target reported as SKIP."""
    device = args.device
    on_gpu = device.startswith('cuda')
    report = Report()
    repeats = args.repeats or (50 if on_gpu else 3)
    bandwidth = measure_copy_bandwidth(device,
                                       (1 << 30) if on_gpu else (64 << 20))
    rate32 = measure_matmul_rate(device, torch.float32,
                                 8192 if on_gpu else 1024)
    report.info('copy bandwidth', f'{bandwidth / 1e9:.0f} GB/s (read + '
                'write)')
    report.info('matmul rate fp32', f'{fmt_flops(rate32)}/s')
    gpu_only = '' if on_gpu else ' (target for CUDA)'

    def loss_row(name, shape_name, seconds, limit, unit, measured, note):
        moved = loss_floor_bytes(shape_name)
        report.target(name, measured, limit, unit, note=note,
                      floor=f'{fmt_ms(moved / bandwidth)} for the loss '
                      f'({fmt_mib(moved)} moved; measured '
                      f'{fmt_ms(seconds)})', enforced=on_gpu)

    print(f'P4: AAFLoss fwd+bwd on {SHAPES["crop769"][:3]} (1/8 grid of a '
          '769 crop), kernels 3,5,7')
    crop = time_interleaved({'plugin': build_variant('plugin', 'crop769',
                                                     device)}, repeats)
    seconds = crop['plugin']['total']
    loss_row('P4 crop 769 (2x19x97x97) fwd+bwd', 'crop769', seconds, P4_MS,
             ' ms', seconds * 1e3, f'fwd {fmt_ms(crop["plugin"]["fwd"])}, '
             f'bwd {fmt_ms(crop["plugin"]["bwd"])}{gpu_only}')

    full = 'full' if not args.small else 'full-small'
    n, height, width, _ = SHAPES[full]
    print(f'P5: AAFLoss(downsample=1) and CrossEntropyLoss on '
          f'{n}x{NUM_CLASSES}x{height}x{width}')
    calls = {v: build_variant(v, full, device) for v in ('plugin', 'ce')}
    times = time_interleaved(calls, max(3, repeats // 5))
    del calls
    ratio = times['plugin']['total'] / times['ce']['total']
    loss_row(f'P5 {n}x{NUM_CLASSES}x{height}x{width} d=1: time AAF/CE',
             full, times['plugin']['total'], P5_RATIO, 'x', ratio,
             f'{fmt_ms(times["plugin"]["total"])} vs CE '
             f'{fmt_ms(times["ce"]["total"])}{gpu_only}')

    input_size = (512, 1024) if not args.small else (64, 128)
    pairs = args.pspnet_pairs or (6 if on_gpu else 1)
    for amp in (False, True):
        label = 'AMP' if amp else 'fp32'
        name = f'P6 PSPNet-R101 2x{input_size[0]}x{input_size[1]} {label}'
        if amp and not on_gpu:
            report.skip(name, "not run: mmengine's AmpOptimWrapper needs "
                        'CUDA')
            continue
        print(f'{name}: CE + AAF against CE, {pairs} ABBA pairs')
        gc.collect()
        steps = bench_pspnet(pairs, device, input_size, amp,
                             count_flops=True)
        flops = steps['flops']
        rate = rate32 if not amp else measure_matmul_rate(
            device, torch.float16, 8192)
        floor = (f'{fmt_ms(flops / rate)} for the CE + AAF step '
                 f'({fmt_flops(flops)} at {fmt_flops(rate)}/s)')
        report.target(
            f'{name}: time', median(steps['pair_time_ratios']), P6_RATIO,
            'x', note=f'CE+AAF {fmt_ms(steps["ce+aaf"]["total"])}, CE '
            f'{fmt_ms(steps["ce"]["total"])}{gpu_only}', floor=floor,
            enforced=on_gpu)
        report.target(
            f'{name}: peak memory', median(steps['pair_memory_ratios']),
            P6_RATIO, 'x', note=f'CE+AAF {fmt_mib(steps["ce+aaf"]["memory"])}'
            f', CE {fmt_mib(steps["ce"]["memory"])} over the weights'
            f'{gpu_only}', enforced=on_gpu)
        del steps
    return report


def full_suite(args) -> Report:
    """Every case of ``make benchmark``; the PSPNet step unless
    ``--skip-pspnet``."""
    repeats = args.repeats or (3 if args.quick else 7)
    if args.pspnet_pairs is None:
        args.pspnet_pairs = 2 if args.quick else 6
    on_gpu = args.device.startswith('cuda')
    report = Report()

    def case(shape_name, variants, reps=repeats):
        calls = {v: build_variant(v, shape_name, args.device)
                 for v in variants}
        times = time_interleaved(calls, reps)
        del calls
        gc.collect()
        for v in variants:
            times[v]['memory'] = memory_in_subprocess(v, shape_name, args)
        n, h, w, _ = SHAPES[shape_name]
        for v in variants:
            t = times[v]
            print(f'  {shape_name:8s} {n}x{NUM_CLASSES}x{h}x{w} {v:7s} '
                  f'fwd+bwd {fmt_ms(t["total"]):>10s} (fwd '
                  f'{fmt_ms(t["fwd"])}, bwd {fmt_ms(t["bwd"])}), extra peak '
                  f'memory {fmt_mib(t["memory"])}')
        return times

    print('\nPaper setting: logits 2x19x64x128 (the 1/8 grid of 512x1024), '
          'AAFLoss(downsample=1), kernels 3,5,7')
    paper = case('paper', ('plugin', 'naive', 'ce'))
    report.target('paper: time plugin/naive',
                  paper['plugin']['total'] / paper['naive']['total'], 0.1,
                  'x', f'{fmt_ms(paper["plugin"]["total"])} vs '
                  f'{fmt_ms(paper["naive"]["total"])}')
    report.target('paper: extra memory plugin/naive',
                  paper['plugin']['memory'] / paper['naive']['memory'], 0.1,
                  'x', f'{fmt_mib(paper["plugin"]["memory"])} vs '
                  f'{fmt_mib(paper["naive"]["memory"])}')
    report.info('paper: time plugin/CE',
                f'{paper["plugin"]["total"] / paper["ce"]["total"]:.3g}x')

    print('\nFull resolution: logits 2x19x512x1024, AAFLoss(downsample=1), '
          'kernels 3,5,7 (labels: the paper grid upsampled 8x)')
    full = case('full', ('plugin', 'ce'), reps=max(3, repeats // 2))
    pixel_ratio = (512 * 1024) / (64 * 128)
    naive_full = paper['naive']['memory'] * pixel_ratio
    print(f'  naive at full resolution: not run; its extra memory, '
          f'extrapolated linearly from the paper setting (x{pixel_ratio:g} '
          f'pixels), is about {naive_full / GIB:.1f} GiB')
    report.target('full: extra memory (GiB)', full['plugin']['memory'] / GIB,
                  1.0, ' GiB', f'naive extrapolated: {naive_full / GIB:.0f} '
                  'GiB')
    report.target('full: time plugin/CE',
                  full['plugin']['total'] / full['ce']['total'], 20, 'x',
                  f'{fmt_ms(full["plugin"]["total"])} vs '
                  f'{fmt_ms(full["ce"]["total"])}')

    print('\nCityscapes crop 769 on the 1/8 grid: logits 2x19x97x97')
    crop = case('crop769', ('plugin', ))
    if on_gpu:
        report.target('GPU crop 769 (97x97) fwd+bwd',
                      crop['plugin']['total'] * 1e3, P4_MS, ' ms')
    else:
        report.info('crop 769 (97x97) fwd+bwd',
                    f'{fmt_ms(crop["plugin"]["total"])} on CPU (the '
                    f'{P4_MS:g} ms target is for --device cuda)')

    print('\nScaling of the plugin (1x, 2x, 4x pixels)')
    scales = [case(name, ('plugin', )) for name in
              ('scale1', 'scale2', 'scale4')]
    base = scales[0]['plugin']
    for factor, result in zip((2, 4), scales[1:]):
        for key, label in (('total', 'time'), ('memory', 'memory')):
            ratio = result['plugin'][key] / base[key]
            if ratio > 1.25 * factor:
                verdict = 'NOT linear: grows faster than the pixels'
            elif ratio < 0.75 * factor:
                verdict = 'sublinear (larger inputs go image by image)'
            else:
                verdict = 'linear'
            report.info(f'scaling: {label} at {factor}x pixels',
                        f'{ratio:.2f}x (linear would be {factor}x): '
                        f'{verdict}')

    if not args.skip_pspnet:
        print(f'\nTraining step: PSPNet-R101 ({PSPNET_CONFIG}, BN, no '
              f'pretrained weights), input 2x3x{PSPNET_INPUT[0]}x'
              f'{PSPNET_INPUT[1]}, SGD via AdversarialOptimWrapper')
        steps = bench_pspnet(args.pspnet_pairs, args.device)
        for name in ('ce', 'ce+aaf'):
            r = steps[name]
            print(f'  {name:7s} step {fmt_ms(r["total"]):>10s} (median), '
                  f'extra peak memory {fmt_mib(r["memory"])}, losses '
                  f'{r["loss_keys"]}')
        time_ratios = steps['pair_time_ratios']
        print('  per-pair time ratios (CE+AAF)/CE, ABBA order: ' +
              ', '.join(f'{r:.3f}' for r in time_ratios))
        report.target('PSPNet step time (CE+AAF)/CE', median(time_ratios),
                      1.02, 'x', f'median of {len(time_ratios)} ABBA pairs')
        report.target('PSPNet step memory (CE+AAF)/CE',
                      median(steps['pair_memory_ratios']), 1.02, 'x')
        alone = pspnet_loss_alone(repeats, args.device)
        print(f'  AAFLoss(downsample=8) alone on the step\'s 2x19x256x512 '
              f'logits: fwd+bwd {fmt_ms(alone)}')
        report.info('PSPNet: AAFLoss alone / CE step',
                    f'{alone / steps["ce"]["total"]:.4f} (the part of the '
                    'step the loss itself can add)')

    return report


def _finish(report: Report, args, began: float) -> int:
    seconds = time.perf_counter() - began
    print(f'\nTargets (device {args.device}; {seconds:.0f} s in all)')
    report.print()
    machine = machine_description(args.device)
    print(machine)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(device=args.device, suite=args.suite,
                           machine=machine, seconds=seconds,
                           rows=report.rows), f, indent=2)
    return 0
