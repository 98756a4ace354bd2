# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The losses on each device against the CPU: values and gradients.

Two comparisons, on odd sizes, an all-ignore map, a single class, and
``downsample`` 1 and 8, of the loss value and the gradients w.r.t. the
logits and the size logits, relative to the value and to the largest
gradient entry:

* float32 on the device against float64 on the CPU, to 1e-4: float32
  rounding alone stays below 6e-6 here, except for the size-logit gradient
  of a single class at ``downsample=1`` (4e-5; the softmax over sizes
  subtracts nearly equal per-size sums);
* float32 on CUDA against float32 on the CPU, to 1e-5, or to twice the
  CPU's own float32 error where float32 cannot resolve 1e-5.
"""
import pytest
import torch

from mmseg_aaf.models.losses import AAFLoss, AffinityLoss

RTOL_FLOAT64 = 1e-4
RTOL_CPU = 1e-5

# name: (N, C, H, W, downsample, label mode). Odd sizes everywhere, so that
# the rings and the 1/8 grid never tile the image evenly.
CASES = {
    'odd-d1': (2, 5, 13, 17, 1, 'blocks'),
    'odd-d8': (2, 19, 61, 45, 8, 'blocks'),
    'large-d8': (1, 19, 97, 129, 8, 'blocks'),
    'all-ignore-d1': (2, 5, 13, 17, 1, 'ignore'),
    'single-class-d1': (2, 5, 13, 17, 1, 'single'),
    'single-class-d8': (1, 7, 41, 33, 8, 'single'),
}


def _problem(n, c, h, w, mode, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64) * 2
    coarse = torch.randint(0, c, (n, (h + 2) // 3, (w + 2) // 3),
                           generator=gen)
    labels = coarse.repeat_interleave(3, 1).repeat_interleave(3, 2)
    labels = labels[:, :h, :w].clone()
    labels[torch.rand(n, h, w, generator=gen) < 0.05] = 255
    if mode == 'ignore':
        labels[:] = 255
    elif mode == 'single':
        labels[labels != 255] = c - 1
    size_logits = torch.randn(2, c, 3, generator=gen, dtype=torch.float64)
    return logits, labels, size_logits


def _value_and_grads(loss_cls, logits, labels, size_logits, downsample,
                     device, dtype):
    loss = loss_cls(logits.shape[1], kernel_sizes=(3, 5, 7),
                    downsample=downsample).to(device, dtype)
    if isinstance(loss, AAFLoss):
        with torch.no_grad():
            loss.edge_size_logits.copy_(size_logits[0])
            loss.nonedge_size_logits.copy_(size_logits[1])
    x = logits.to(device, dtype).clone().requires_grad_()
    value = loss(x, labels.to(device))
    value.backward()
    grads = [x.grad] + [p.grad for p in loss.parameters()]
    return value.detach().cpu().double(), [
        g.cpu().double() for g in grads
    ]


NAMES = ('loss', 'gradient w.r.t. logits',
         'gradient w.r.t. edge_size_logits',
         'gradient w.r.t. nonedge_size_logits')


def _compute(loss_cls, case, device, dtype):
    n, c, h, w, downsample, mode = CASES[case]
    logits, labels, size_logits = _problem(n, c, h, w, mode)
    value, grads = _value_and_grads(loss_cls, logits, labels, size_logits,
                                    downsample, device, dtype)
    assert len(grads) == (3 if loss_cls is AAFLoss else 1)
    return [value] + grads


def _max_error(got, want):
    return (got - want).abs().max().item()


def _check_zeros_and_signal(case, results):
    """All-ignore: exactly zero everywhere. Otherwise every quantity is
    nonzero, except the edge weights' gradient of a single class."""
    mode = CASES[case][-1]
    for name, tensor in zip(NAMES, results):
        if mode == 'ignore' or (mode == 'single' and 'edge_size' in name
                                and 'nonedge' not in name):
            assert not tensor.any(), name
        else:
            assert tensor.any(), name
    return mode != 'ignore'


@pytest.mark.parametrize('loss_cls', [AffinityLoss, AAFLoss])
@pytest.mark.parametrize('case', sorted(CASES))
def test_float32_on_device_matches_float64_on_cpu(device, case, loss_cls):
    want = _compute(loss_cls, case, 'cpu', torch.float64)
    got = _compute(loss_cls, case, device, torch.float32)
    _check_zeros_and_signal(case, want)
    _check_zeros_and_signal(case, got)
    for name, g, w in zip(NAMES, got, want):
        scale = w.abs().max().item()
        err = _max_error(g, w)
        assert err <= RTOL_FLOAT64 * scale, (
            f'{name}: max |difference| {err:.3g} > {RTOL_FLOAT64:g} x '
            f'{scale:.3g}')


@pytest.mark.cuda_only  # the CPU is the reference it is compared with
@pytest.mark.parametrize('loss_cls', [AffinityLoss, AAFLoss])
@pytest.mark.parametrize('case', sorted(CASES))
def test_cuda_matches_cpu(device, case, loss_cls):
    exact = _compute(loss_cls, case, 'cpu', torch.float64)
    cpu = _compute(loss_cls, case, 'cpu', torch.float32)
    cuda = _compute(loss_cls, case, device, torch.float32)
    if not _check_zeros_and_signal(case, cuda):
        return
    for name, g, c, e in zip(NAMES, cuda, cpu, exact):
        scale = c.abs().max().item()
        allowed = max(RTOL_CPU * scale, 2 * _max_error(c, e))
        err = _max_error(g, c)
        assert err <= allowed, (f'{name}: CUDA and CPU differ by {err:.3g}'
                                f' > {allowed:.3g} (scale {scale:.3g})')
