# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The benchmark's cases: shapes, inputs, the three losses and the gate.

A case is a loss variant (``'plugin'``: ``AAFLoss``; ``'naive'``: the
transcription :func:`mmseg_aaf.testing.naive_affinity.naive_affinity_means`
with the plugin's size weights; ``'ce'``: mmseg's ``CrossEntropyLoss``) on
the inputs of a named shape (:data:`SHAPES`). :func:`check_against_naive`
is the gate every run passes before anything is timed.
"""
import time
import warnings
from typing import Tuple

import torch

from ..models.losses import AAFLoss
from ..testing.naive_affinity import naive_affinity_means

NUM_CLASSES = 19
IGNORE_INDEX = 255
IGNORE_FRACTION = 0.05
KERNEL_SIZES = (3, 5, 7)

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


def use_quick_scales() -> None:
    """``--quick``: the scaling cases at a quarter of their pixels."""
    SHAPES.update(QUICK_SCALES)


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


def timed_call(forward, logits, device: str, after=lambda: None):
    """A callable: one fwd + bwd of ``forward`` on a fresh leaf copy of
    ``logits``, returning ``(t_fwd, t_bwd)`` (synchronised on CUDA); then
    ``after()``."""
    sync = (torch.cuda.synchronize if str(device).startswith('cuda') else
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
        after()
        return middle - start, end - middle

    return call


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
    return timed_call(forward, logits, device,
                      lambda: aaf.zero_grad(set_to_none=True))


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
