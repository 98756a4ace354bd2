# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The floors the GPU targets are shown beside, measured on the machine.

A loss's floor is the bytes any fwd + bwd must move (:func:`loss_floor_bytes`)
over the copy bandwidth (:func:`measure_copy_bandwidth`); a training
step's is its FLOPs over the matmul rate (:func:`measure_matmul_rate`).
"""
import torch

from .cases import NUM_CLASSES, SHAPES
from .measure import median_seconds


def measure_copy_bandwidth(device: str, num_bytes: int) -> float:
    """Bytes moved per second (read + written) by a large tensor copy."""
    src = torch.empty(num_bytes // 4, dtype=torch.float32, device=device)
    src.fill_(1.0)
    dst = torch.empty_like(src)
    seconds = median_seconds(lambda: dst.copy_(src), device, 10)
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
        seconds = median_seconds(lambda: a @ b, device, 10)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
    return 2 * size**3 / seconds


def loss_floor_bytes(shape_name: str) -> int:
    """Bytes any fwd + bwd of a loss on these logits must move: read the
    float32 logits and int64 labels, write the logits' gradient."""
    n, height, width, _ = SHAPES[shape_name]
    return n * height * width * (2 * NUM_CLASSES * 4 + 8)
