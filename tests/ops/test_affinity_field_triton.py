# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The CUDA kernel (Triton) against the CPU kernel.

Where there is no GPU, Triton's interpreter runs the very kernels on CPU
tensors (``TRITON_INTERPRET=1``, set here before the kernels are defined);
it is slow, so the problems are tiny. On a GPU (``make gpu-check``) the
kernels are compiled and run on CUDA tensors, at larger sizes too.
"""
import os

import pytest
import torch

ON_GPU = torch.cuda.is_available()
if not ON_GPU:
    # Before the module below is imported: triton.jit reads it then.
    os.environ['TRITON_INTERPRET'] = '1'

from mmseg_aaf.ops import affinity_field  # noqa: E402,F401  (the operators)
from mmseg_aaf.ops import affinity_field_triton as triton_kernels  # noqa: E402

DEVICE = 'cuda' if ON_GPU else 'cpu'


def tiny_problem(n, c, h, w, seed, k=2, dtype=torch.float64,
                 ignore_frac=0.15):
    gen = torch.Generator().manual_seed(seed)
    probs = (torch.randn(n, c, h, w, generator=gen, dtype=dtype) *
             4).softmax(1)
    coarse = torch.randint(0, c, (n, -(-h // 3), -(-w // 3)), generator=gen)
    labels = coarse.repeat_interleave(3, 1).repeat_interleave(3, 2)
    labels = labels[:, :h, :w].clone()
    labels[torch.rand(n, h, w, generator=gen) < ignore_frac] = -1
    grads = torch.rand(2, c, k, generator=gen, dtype=dtype)
    return probs, labels, grads


def assert_kernels_agree(probs, labels, grads, half_sizes, rtol):
    cpu = torch.ops.mmseg_aaf.affinity_field_forward(probs, labels,
                                                     half_sizes, 3.0)
    cpu_grad = torch.ops.mmseg_aaf.affinity_field_backward(
        grads[0], grads[1], probs, labels, half_sizes, 3.0)
    moved = [t.to(DEVICE) for t in (probs, labels, grads)]
    out = triton_kernels.forward(moved[0], moved[1], half_sizes, 3.0)
    grad = triton_kernels.backward(moved[2][0], moved[2][1], moved[0],
                                   moved[1], half_sizes, 3.0)
    for got, want in zip(out, cpu):
        assert got.dtype == want.dtype
        torch.testing.assert_close(got.cpu(), want, rtol=rtol,
                                   atol=rtol * want.abs().max().item())
    scale = cpu_grad.abs().max().item()
    torch.testing.assert_close(grad.cpu(), cpu_grad, rtol=rtol,
                               atol=rtol * scale)


@pytest.mark.integration
def test_float64_equals_the_cpu_kernel():
    probs, labels, grads = tiny_problem(1, 3, 7, 6, seed=0)
    assert (labels == -1).any() and (labels[:, :, 1:] != labels[:, :, :-1]
                                      ).any()
    assert_kernels_agree(probs, labels, grads, [1, 2], rtol=1e-10)


@pytest.mark.integration
def test_float32_two_images_one_class_ignored():
    probs, labels, grads = tiny_problem(2, 2, 5, 4, seed=1, k=1,
                                        dtype=torch.float32)
    labels[1] = -1  # the second image says nothing
    assert_kernels_agree(probs, labels, grads, [1], rtol=1e-5)


@pytest.mark.cuda_only
@pytest.mark.parametrize('shape, sizes', [((2, 19, 97, 97), [1, 2, 3]),
                                          ((1, 150, 64, 80), [1, 3, 4, 5]),
                                          ((4, 2, 64, 64), [1, 2, 3])])
def test_cuda_kernel_equals_the_cpu_kernel_at_real_sizes(shape, sizes,
                                                         device):
    # The compiled kernel on CUDA (make gpu-check); the device fixture skips
    # it, saying so, where there is no GPU.
    probs, labels, grads = tiny_problem(*shape, seed=2, k=len(sizes))
    assert_kernels_agree(probs, labels, grads, sizes, rtol=1e-9)
