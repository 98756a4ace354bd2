# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Time and memory of the affinity losses, as ratios measured in one run.

The plugin's ``AAFLoss`` (kernel sizes 3, 5, 7, random size logits) is
compared with

* the naive transcription ``naive_affinity_means`` (eight stacked shifted
  copies per size and boolean-mask means), with the same size weights, and
* mmseg's ``CrossEntropyLoss`` on the same logits,

each measured as one forward + backward pass. Inputs are random logits
(``N(0, 2^2)``, C = 19) with blocky random labels and 5% ignored pixels.
Before anything is timed the script asserts that the plugin and the naive
transcription agree on the value and on the gradients w.r.t. the logits and
the size logits.

Time: median over ``--repeats`` calls after one warm-up call; the variants
of a comparison are interleaved (A, B, A, B, ...) so that drift of a shared
machine hits all of them alike. On CUDA every call is bracketed by
``torch.cuda.synchronize()``.

Memory, CPU: every case runs in a fresh subprocess with glibc's mmap
threshold fixed at 64 KiB (``MALLOC_MMAP_THRESHOLD_``), so every large
buffer is its own mapping and returns to the OS when freed. After the inputs
exist and one warm-up call has run, the subprocess resets its peak RSS
(writing ``5`` to ``/proc/self/clear_refs``), reads ``VmRSS``, runs one call
and reports ``VmHWM - VmRSS``: the extra peak memory over the inputs. The
PSPNet step is measured the same way inside the timing process, per step
(building two ResNet-101 models per measurement would dominate the run).
Memory, CUDA: ``max_memory_allocated()`` after ``reset_peak_memory_stats()``
minus ``memory_allocated()`` before the call, in a fresh subprocess.

Run ``python tools/benchmark_affinity.py --help`` for the options.
"""
import argparse
import gc
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg_aaf  # noqa: E402,F401  (registers the plugin's modules)
from mmseg_aaf.models.losses import AAFLoss  # noqa: E402
from mmseg_aaf.testing.naive_affinity import naive_affinity_means  # noqa

NUM_CLASSES = 19
IGNORE_INDEX = 255
IGNORE_FRACTION = 0.05
KERNEL_SIZES = (3, 5, 7)
GIB = float(1 << 30)
MIB = float(1 << 20)
_MMAP_ENV = {'MALLOC_MMAP_THRESHOLD_': '65536', 'MALLOC_TRIM_THRESHOLD_': '0'}


def return_freed_memory_to_os() -> None:
    """The same glibc settings as ``_MMAP_ENV``, for the running process."""
    try:
        import ctypes
        libc = ctypes.CDLL('libc.so.6')
    except OSError:
        return
    libc.mallopt(-3, 65536)  # M_MMAP_THRESHOLD
    libc.mallopt(-1, 0)  # M_TRIM_THRESHOLD

# name: (N, H, W, label block size in pixels). The loss is always called
# with downsample=1 on these logits. 'paper' is the 1/8 output grid of a
# 512x1024 crop, i.e. the same pixel pairs as downsample=8 on 512x1024
# logits; its labels are 8x8-pixel blocks. 'full' is the same scene at full
# resolution: the labels are the paper grid's blocks upsampled 8x.
SHAPES = {
    'paper': (2, 64, 128, 8),
    'full': (2, 512, 1024, 64),
    'crop769': (2, 97, 97, 8),
    'scale1': (2, 128, 256, 8),
    'scale2': (2, 256, 256, 8),
    'scale4': (2, 256, 512, 8),
}
QUICK_SCALES = {'scale1': (2, 64, 128, 8), 'scale2': (2, 128, 128, 8),
                'scale4': (2, 128, 256, 8)}
# --small (the CPU rehearsal of the GPU check): full resolution shrunk 16x.
SHAPES['full-small'] = (2, 128, 256, 16)

#: The GPU targets of the GPU check (tools/gpu_check.py): P4 the 1/8 grid of
#: a 769 crop, P5 full resolution against cross-entropy, P6 a PSPNet-R101
#: training step with CE + AAF against CE, in time and in peak memory.
P4_MS = 0.3
P5_RATIO = 3.0
P6_RATIO = 1.01


# --------------------------------------------------------------------------
# Inputs and the three losses
# --------------------------------------------------------------------------
def blocky_labels(gen: torch.Generator, n: int, height: int, width: int,
                  block: int):
    """``(n, H, W)`` labels: random classes in ``block``-pixel squares, then
    ``IGNORE_FRACTION`` of the pixels set to the ignore index."""
    coarse = torch.randint(0, NUM_CLASSES,
                           (n, -(-height // block), -(-width // block)),
                           generator=gen)
    labels = coarse.repeat_interleave(block, 1).repeat_interleave(block, 2)
    labels = labels[:, :height, :width].clone()
    labels[torch.rand(n, height, width, generator=gen) <
           IGNORE_FRACTION] = IGNORE_INDEX
    return labels


def make_inputs(shape_name: str, device: str, seed: int = 0):
    """Logits ``(N, 19, H, W)`` and labels ``(N, H, W)`` with 255 ignored."""
    n, height, width, block = SHAPES[shape_name]
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, NUM_CLASSES, height, width, generator=gen) * 2
    labels = blocky_labels(gen, n, height, width, block)
    return logits.to(device), labels.to(device)


def make_aaf(device: str) -> AAFLoss:
    loss = AAFLoss(NUM_CLASSES, kernel_sizes=KERNEL_SIZES, downsample=1)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        loss.edge_size_logits.copy_(
            torch.randn(loss.edge_size_logits.shape, generator=gen))
        loss.nonedge_size_logits.copy_(
            torch.randn(loss.nonedge_size_logits.shape, generator=gen))
    return loss.to(device)


def naive_loss(aaf: AAFLoss, logits, labels):
    """The AAF loss value through the naive transcription."""
    probs = logits.softmax(dim=1)
    labels = labels.long().masked_fill(labels == IGNORE_INDEX, -1)
    edge_w, nonedge_w = aaf.size_weights()
    means = naive_affinity_means(probs, labels, aaf.half_sizes, aaf.margin,
                                 edge_w, nonedge_w)
    return sum(aaf.edge_loss_weight * e + aaf.nonedge_loss_weight * ne
               for e, ne, _, _ in means)


def make_ce():
    from mmseg.models.losses import CrossEntropyLoss
    with warnings.catch_warnings():
        # The default avg_non_ignore=False warns; it is mmseg's default.
        warnings.simplefilter('ignore')
        return CrossEntropyLoss()


def build_variant(variant: str, shape_name: str, device: str):
    """A fwd + bwd callable on fixed inputs, returning ``(t_fwd, t_bwd)``."""
    logits, labels = make_inputs(shape_name, device)
    aaf = make_aaf(device)
    ce = make_ce()
    forward = {
        'plugin': lambda x: aaf(x, labels),
        'naive': lambda x: naive_loss(aaf, x, labels),
        'ce': lambda x: ce(x, labels, ignore_index=IGNORE_INDEX),
    }[variant]
    sync = (torch.cuda.synchronize if device.startswith('cuda') else
            (lambda: None))

    def call() -> Tuple[float, float]:
        x = logits.detach().requires_grad_()
        sync()
        start = time.perf_counter()
        value = forward(x)
        sync()
        middle = time.perf_counter()
        value.backward()
        sync()
        end = time.perf_counter()
        aaf.zero_grad(set_to_none=True)
        return middle - start, end - middle

    return call


# --------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------
def time_interleaved(calls: Dict[str, Callable], repeats: int
                     ) -> Dict[str, dict]:
    """Median total, forward and backward seconds of each call."""
    samples = {name: [] for name in calls}
    for call in calls.values():
        call()  # warm-up: allocator, thread pools, lazy init
    for _ in range(repeats):
        for name, call in calls.items():
            samples[name].append(call())
    out = {}
    for name, runs in samples.items():
        out[name] = dict(
            total=_median([f + b for f, b in runs]),
            fwd=_median([f for f, _ in runs]),
            bwd=_median([b for _, b in runs]))
    return out


def _median(values: List[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    if len(values) % 2:
        return values[mid]
    return 0.5 * (values[mid - 1] + values[mid])


def _proc_status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'/proc/self/status has no {field}')


def reset_peak_rss() -> int:
    """Reset the peak RSS to the current RSS and return it, in bytes."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    return _proc_status_kib('VmRSS') * 1024


def peak_rss_since_reset() -> int:
    return _proc_status_kib('VmHWM') * 1024


def measure_extra_memory(call: Callable, device: str) -> int:
    """Peak bytes one ``call()`` needs over what exists before it."""
    call()  # warm-up, so that one-off allocations are not counted
    gc.collect()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        call()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    before = reset_peak_rss()
    call()
    return peak_rss_since_reset() - before


def memory_in_subprocess(variant: str, shape_name: str, args) -> int:
    """Run :func:`measure_extra_memory` for one case in a fresh process."""
    cmd = [sys.executable, osp.abspath(__file__), '--memory-case',
           f'{variant}:{shape_name}', '--device', args.device]
    if args.threads:
        cmd += ['--threads', str(args.threads)]
    if args.quick:
        cmd += ['--quick']
    env = dict(os.environ, **_MMAP_ENV)
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f'memory case {variant}:{shape_name} failed:\n'
                           f'{result.stderr[-3000:]}')
    return int(json.loads(result.stdout.strip().splitlines()[-1])['extra'])


def _memory_case_main(spec: str, device: str) -> None:
    variant, shape_name = spec.split(':')
    call = build_variant(variant, shape_name, device)
    print(json.dumps(dict(extra=measure_extra_memory(call, device))))


# --------------------------------------------------------------------------
# Correctness gate
# --------------------------------------------------------------------------
def check_against_naive(device: str) -> str:
    """Assert that plugin and naive agree at the paper setting."""
    logits, labels = make_inputs('paper', device)
    aaf = make_aaf(device)
    results = []
    for fn in (lambda x: aaf(x, labels),
               lambda x: naive_loss(aaf, x, labels)):
        x = logits.detach().requires_grad_()
        aaf.zero_grad(set_to_none=True)
        value = fn(x)
        value.backward()
        results.append((value.detach(), x.grad, aaf.edge_size_logits.grad,
                        aaf.nonedge_size_logits.grad))
    (v_fast, *g_fast), (v_naive, *g_naive) = results
    torch.testing.assert_close(v_fast, v_naive, rtol=1e-5, atol=0)
    for name, fast, naive in zip(
            ('logits', 'edge_size_logits', 'nonedge_size_logits'), g_fast,
            g_naive):
        scale = naive.abs().max().item()
        torch.testing.assert_close(
            fast, naive, rtol=1e-4, atol=1e-4 * scale,
            msg=lambda m, n=name: f'gradient w.r.t. {n} differs: {m}')
    return (f'plugin == naive at the paper setting: value {v_fast.item():.6f}'
            f' vs {v_naive.item():.6f}; gradients w.r.t. logits and size '
            'logits agree (rtol 1e-4)')


# --------------------------------------------------------------------------
# PSPNet-R101 training step
# --------------------------------------------------------------------------
PSPNET_CONFIG = 'pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py'
PSPNET_INPUT = (256, 512)


def build_pspnet(with_aaf: bool, input_size=PSPNET_INPUT, amp=False):
    """PSPNet-R101 in train mode and its adversarial optim wrapper.

    ``amp`` selects ``AdversarialAmpOptimWrapper`` (fp16 autocast, dynamic
    loss scale), which mmengine allows only on an accelerator.
    """
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    from mmseg_aaf.testing import upstream_config_path
    register_all_modules()
    cfg = Config.fromfile(upstream_config_path(PSPNET_CONFIG))
    model_cfg = cfg.model
    model_cfg.pretrained = None
    model_cfg.backbone.init_cfg = None
    bn = dict(type='BN', requires_grad=True)
    model_cfg.backbone.norm_cfg = bn
    model_cfg.decode_head.norm_cfg = bn
    model_cfg.auxiliary_head.norm_cfg = bn
    # The config pads every batch to its 512x1024 crop; keep the input's.
    model_cfg.data_preprocessor.size = tuple(input_size)
    if with_aaf:
        model_cfg.decode_head.loss_decode = [
            dict(model_cfg.decode_head.loss_decode),
            dict(type='AAFLoss', num_classes=NUM_CLASSES, downsample=8)
        ]
    torch.manual_seed(0)  # both variants start from the same weights
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = MODELS.build(model_cfg)
    model.train()
    wrapper = dict(
        type='AdversarialOptimWrapper',
        optimizer=dict(type='SGD', lr=0.01, momentum=0.9,
                       weight_decay=0.0005))
    if amp:
        wrapper.update(type='AdversarialAmpOptimWrapper',
                       loss_scale='dynamic')
    optim_wrapper = build_optim_wrapper(model, wrapper)
    return model, optim_wrapper


def pspnet_batch(input_size=PSPNET_INPUT):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    height, width = input_size
    gen = torch.Generator().manual_seed(2)
    inputs, samples = [], []
    for _ in range(2):
        inputs.append(
            torch.randint(0, 256, (3, height, width), generator=gen,
                          dtype=torch.uint8))
        label = blocky_labels(gen, 1, height, width, 32)
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label)
        sample.set_metainfo(dict(img_shape=tuple(input_size),
                                 ori_shape=tuple(input_size)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def bench_pspnet(pairs: int, device: str, input_size=PSPNET_INPUT,
                 amp: bool = False, count_flops: bool = False
                 ) -> Dict[str, dict]:
    """Training steps of both variants: time and peak memory.

    With ``count_flops`` one more, untimed CE + AAF step counts its
    floating-point operations (convolutions and matmuls, forward and
    backward) into ``out['flops']``.

    One step of a 2-core CPU takes seconds and drifts by +-15% with the
    load of a shared machine, far more than the 2% to be resolved. So the
    variants run in ABBA order (CE, AAF, AAF, CE, ...) and each adjacent
    pair gives one ratio; the reported ratio is the median of those.
    """
    variants = {name: build_pspnet(name == 'ce+aaf', input_size, amp)
                for name in ('ce', 'ce+aaf')}
    for name, (model, _) in variants.items():
        model.to(device)
    sync = (torch.cuda.synchronize if device.startswith('cuda') else
            (lambda: None))

    def step(name):
        model, optim_wrapper = variants[name]
        data = pspnet_batch(input_size)
        gc.collect()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
        else:
            before = reset_peak_rss()
        start = time.perf_counter()
        losses = model.train_step(data, optim_wrapper)
        sync()
        seconds = time.perf_counter() - start
        if device.startswith('cuda'):
            extra = torch.cuda.max_memory_allocated() - before
        else:
            extra = peak_rss_since_reset() - before
        assert all(torch.isfinite(v).all() for v in losses.values())
        return seconds, extra, sorted(losses)

    for name in variants:
        step(name)  # warm-up: lazy buffers, optimizer state
    flops = None
    if count_flops:
        from torch.utils.flop_counter import FlopCounterMode
        counter = FlopCounterMode(display=False)
        model, optim_wrapper = variants['ce+aaf']
        with counter:
            model.train_step(pspnet_batch(input_size), optim_wrapper)
        flops = counter.get_total_flops()
    runs = {name: [] for name in variants}
    keys = {}
    for index in range(pairs):
        order = ('ce', 'ce+aaf') if index % 2 == 0 else ('ce+aaf', 'ce')
        for name in order:
            seconds, extra, keys[name] = step(name)
            runs[name].append((seconds, extra))
    assert 'loss_aaf' in ' '.join(keys['ce+aaf']), keys
    out = {name: dict(total=_median([s for s, _ in r]),
                      memory=_median([m for _, m in r]),
                      loss_keys=keys[name])
           for name, r in runs.items()}
    out['pair_time_ratios'] = [a[0] / c[0] for a, c in
                               zip(runs['ce+aaf'], runs['ce'])]
    out['pair_memory_ratios'] = [a[1] / c[1] for a, c in
                                 zip(runs['ce+aaf'], runs['ce'])]
    out['flops'] = flops
    return out


def pspnet_loss_alone(repeats: int, device: str) -> float:
    """Median fwd+bwd seconds of the step's AAFLoss call by itself.

    The decode head hands the loss 2x19x256x512 logits (upsampled to the
    label size) and it compares pixels on their stride-8 grid.
    """
    gen = torch.Generator().manual_seed(3)
    height, width = PSPNET_INPUT
    logits = torch.randn((2, NUM_CLASSES, height, width), generator=gen)
    logits = logits.to(device).requires_grad_()
    label = blocky_labels(gen, 2, height, width, 32).to(device)
    loss = AAFLoss(NUM_CLASSES, downsample=8).to(device)
    sync = (torch.cuda.synchronize if device.startswith('cuda') else
            (lambda: None))
    times = []
    for _ in range(repeats + 1):
        logits.grad = None
        sync()
        start = time.perf_counter()
        loss(logits, label, ignore_index=IGNORE_INDEX).backward()
        sync()
        times.append(time.perf_counter() - start)
    return _median(times[1:])


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------
def machine_description(device: str) -> str:
    cpu = platform.processor() or 'unknown cpu'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    text = (f'CPU: {cpu}, {os.cpu_count()} logical cores, torch '
            f'{torch.__version__}, {torch.get_num_threads()} intra-op '
            f'threads, 1-minute load average {os.getloadavg()[0]:.1f}')
    if device.startswith('cuda'):
        text += f'; GPU: {torch.cuda.get_device_name(device)}'
    return text


class Report:
    """Rows of targets and information, printed as a table or as JSON."""

    COLUMNS = ('target', 'measured', 'limit', 'result', 'floor', 'note')

    def __init__(self):
        self.rows = []

    def target(self, name: str, measured: float, limit: float, unit: str,
               note: str = '', floor: str = '', enforced: bool = True):
        """Add a target row: PASS or MISS, or SKIP when not ``enforced``
        (a GPU target measured on the CPU)."""
        ok = measured <= limit
        result = ('PASS' if ok else 'MISS') if enforced else 'SKIP'
        self.rows.append(
            dict(target=name, measured=f'{measured:.3g}{unit}',
                 limit=f'<= {limit:g}{unit}', result=result, floor=floor,
                 note=note, value=measured, limit_value=limit, unit=unit))
        return ok

    def info(self, name: str, text: str):
        self.rows.append(dict(target=name, measured=text, limit='',
                              result='info', floor='', note=''))

    def skip(self, name: str, reason: str):
        """A target that was not measured here, and why."""
        self.rows.append(dict(target=name, measured='', limit='',
                              result='SKIP', floor='', note=reason))

    def print(self):
        columns = [c for c in self.COLUMNS
                   if c == 'target' or any(r[c] for r in self.rows)]
        widths = [max(len(str(r[c])) for r in self.rows + [
            dict(zip(columns, columns))]) for c in columns]
        line = ' | '.join(c.ljust(w) for c, w in zip(columns, widths))
        print(line)
        print('-' * len(line))
        for row in self.rows:
            print(' | '.join(str(row[c]).ljust(w)
                             for c, w in zip(columns, widths)).rstrip())


def fmt_ms(seconds: float) -> str:
    return f'{seconds * 1e3:.1f} ms'


def fmt_mib(num_bytes: float) -> str:
    return f'{num_bytes / MIB:.1f} MiB'


def fmt_flops(flops: float) -> str:
    if flops >= 1e12:
        return f'{flops / 1e12:.2f} TFLOP'
    return f'{flops / 1e9:.1f} GFLOP'


# --------------------------------------------------------------------------
# The GPU check's suite: P4, P5, P6, each beside its floor
# --------------------------------------------------------------------------
def _timed(fn: Callable, device: str, repeats: int) -> float:
    """Median seconds of ``fn()`` after one warm-up call."""
    sync = (torch.cuda.synchronize if device.startswith('cuda') else
            (lambda: None))
    fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return _median(times)


def measure_copy_bandwidth(device: str, num_bytes: int) -> float:
    """Bytes moved per second (read + written) by a large tensor copy."""
    src = torch.empty(num_bytes // 4, dtype=torch.float32, device=device)
    src.fill_(1.0)
    dst = torch.empty_like(src)
    seconds = _timed(lambda: dst.copy_(src), device, 10)
    return 2 * num_bytes / seconds


def measure_matmul_rate(device: str, dtype: torch.dtype, size: int) -> float:
    """Floating-point operations per second of a square matmul.

    float32 on CUDA is measured with TF32 as cuDNN's convolutions use it
    (``torch.backends.cudnn.allow_tf32``), so that it bounds a conv net.
    """
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32
    try:
        seconds = _timed(lambda: a @ b, device, 10)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
    return 2 * size**3 / seconds


def loss_floor_bytes(shape_name: str) -> int:
    """Bytes any fwd + bwd of a loss on these logits must move: read the
    float32 logits and int64 labels, write the logits' gradient."""
    n, height, width, _ = SHAPES[shape_name]
    return n * height * width * (2 * NUM_CLASSES * 4 + 8)


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
            f'{name}: time', _median(steps['pair_time_ratios']), P6_RATIO,
            'x', note=f'CE+AAF {fmt_ms(steps["ce+aaf"]["total"])}, CE '
            f'{fmt_ms(steps["ce"]["total"])}{gpu_only}', floor=floor,
            enforced=on_gpu)
        report.target(
            f'{name}: peak memory', _median(steps['pair_memory_ratios']),
            P6_RATIO, 'x', note=f'CE+AAF {fmt_mib(steps["ce+aaf"]["memory"])}'
            f', CE {fmt_mib(steps["ce"]["memory"])} over the weights'
            f'{gpu_only}', enforced=on_gpu)
        del steps
    return report


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
    parser.add_argument('--suite', choices=('full', 'gpu-check'),
                        default='full',
                        help='full: every case below (default); gpu-check: '
                        'the GPU targets P4, P5, P6 of tools/gpu_check.py')
    parser.add_argument('--small', action='store_true',
                        help='gpu-check suite at small sizes (the CPU '
                        'rehearsal)')
    parser.add_argument('--json', help='also write the table to this JSON '
                        'file')
    parser.add_argument('--memory-case', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    return_freed_memory_to_os()
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        parser.error('--device cuda needs a CUDA device')
    if args.quick:
        SHAPES.update(QUICK_SCALES)
    if args.memory_case:
        _memory_case_main(args.memory_case, args.device)
        return 0
    began = time.perf_counter()
    print(machine_description(args.device))
    print(check_against_naive(args.device))
    if args.suite == 'gpu-check':
        return _finish(gpu_check_suite(args), args, began)
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
        report.target('PSPNet step time (CE+AAF)/CE', _median(time_ratios),
                      1.02, 'x', f'median of {len(time_ratios)} ABBA pairs')
        report.target('PSPNet step memory (CE+AAF)/CE',
                      _median(steps['pair_memory_ratios']), 1.02, 'x')
        alone = pspnet_loss_alone(repeats, args.device)
        print(f'  AAFLoss(downsample=8) alone on the step\'s 2x19x256x512 '
              f'logits: fwd+bwd {fmt_ms(alone)}')
        report.info('PSPNet: AAFLoss alone / CE step',
                    f'{alone / steps["ce"]["total"]:.4f} (the part of the '
                    'step the loss itself can add)')

    return _finish(report, args, began)


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


if __name__ == '__main__':
    sys.exit(main())
