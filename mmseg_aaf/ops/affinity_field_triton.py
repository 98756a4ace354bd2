# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The affinity field as Triton kernels: the CUDA implementation of the
operators of :mod:`.affinity_field`.

Why Triton rather than CUDA C++: the same source compiles at first use on
whatever GPU torch runs on, with no toolkit at install time (CUDA torch
brings Triton), and Triton's interpreter (``TRITON_INTERPRET=1``) runs these
very kernels on CPU tensors, which is how the tests check them on machines
without a GPU.

One program handles ``BLOCK`` pixels of one image row:

* forward: every pair it is the centre of, all sizes and channels; the
  per-pixel sums are reduced per centre class into a row of partial sums
  per program, added up by torch afterwards (deterministic, no atomics);
* backward: the gradient of its pixels, gathered from the pairs they are
  the centre of and the pairs they are the neighbour of, so every output
  element is written once.

The probabilities' logs are recomputed where they are read instead of
stored: on a GPU the arithmetic is cheaper than the memory traffic.
"""
from typing import Sequence, Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor

PROB_FLOOR = 1e-4
BLOCK = 128


@triton.jit
def _clipped(p, floor):
    q = tl.minimum(tl.maximum(p, floor), 1.0)
    qb = tl.minimum(tl.maximum(1.0 - p, floor), 1.0)
    return q, qb, tl.log(q), tl.log(qb)


@triton.jit
def _label(labels, n, y, x, H, W, inside):
    """The label at (y, x) of image n, -1 outside the image or ``inside``."""
    row = y + tl.zeros_like(x)  # a block, so that every mask is one
    ok = inside & (row >= 0) & (row < H) & (x >= 0) & (x < W)
    return tl.load(labels + (n * H + y) * W + x, mask=ok, other=-1)


@triton.jit
def _coefficient(grad_edge, grad_nonedge, centre, neighbour, c, valid, kl,
                 margin, k, K):
    """The gradient of the loss w.r.t. channel c's divergence of the pairs
    (centre class, neighbour class): the class's non-edge gradient, or for
    an edge entry minus its edge gradient inside the margin; 0 where the
    pair is not valid."""
    is_edge = valid & (centre != neighbour) & ((centre == c) |
                                              (neighbour == c))
    row = tl.where(valid, centre, 0) * K + k
    edge = tl.load(grad_edge + row, mask=valid, other=0.0)
    nonedge = tl.load(grad_nonedge + row, mask=valid, other=0.0)
    coef = tl.where(is_edge, -tl.where(kl < margin, edge, 0.0), nonedge)
    return tl.where(valid, coef, 0.0)


@triton.jit
def _forward_kernel(probs, labels, halves, partial, counts, margin, floor, C,
                    H, W, K, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    n = row // H
    y = row % H
    xs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    in_row = xs < W
    a = _label(labels, n, y, xs, H, W, in_row)
    program = row * tl.num_programs(1) + tl.program_id(1)
    for k in range(K):
        s = tl.load(halves + k)
        edge_px = tl.zeros((BLOCK, ), dtype=probs.dtype.element_ty)
        nonedge_px = tl.zeros((BLOCK, ), dtype=probs.dtype.element_ty)
        valid_count = 0
        edge_count = 0
        for d in tl.static_range(8):
            # Ring offset d of the 3x3 cells, the centre (cell 4) skipped.
            cell: tl.constexpr = d + (d >= 4)
            dy: tl.constexpr = cell // 3 - 1
            dx: tl.constexpr = cell % 3 - 1
            b = _label(labels, n, y + dy * s, xs + dx * s, H, W, in_row)
            o = _label(labels, n, y - dy * s, xs - dx * s, H, W, in_row)
            valid = (a >= 0) & (b >= 0) & (o >= 0)
            edge_pair = valid & (a != b)
            valid_count += tl.sum(valid.to(tl.int32))
            edge_count += tl.sum(edge_pair.to(tl.int32))
            for c in range(C):
                base = (n * C + c) * H
                p_i = tl.load(probs + (base + y) * W + xs, mask=valid,
                              other=0.5)
                p_j = tl.load(probs + (base + y + dy * s) * W + xs + dx * s,
                              mask=valid, other=0.5)
                _, _, lr, lrb = _clipped(p_i, floor)
                q, qb, lq, lqb = _clipped(p_j, floor)
                kl = q * (lq - lr) + qb * (lqb - lrb)
                is_edge = edge_pair & ((a == c) | (b == c))
                nonedge_px += tl.where(valid & ~is_edge, kl, 0.0)
                edge_px += tl.where(is_edge, tl.maximum(margin - kl, 0.0),
                                    0.0)
        # Per centre class: this program's row of the (C, K) tables.
        for c in range(C):
            mine = a == c
            out = ((program * 2) * C + c) * K + k
            tl.store(partial + out, tl.sum(tl.where(mine, edge_px, 0.0)))
            tl.store(partial + out + C * K,
                     tl.sum(tl.where(mine, nonedge_px, 0.0)))
        tl.store(counts + (program * 2) * K + k, valid_count)
        tl.store(counts + (program * 2 + 1) * K + k, edge_count)


@triton.jit
def _backward_kernel(grad_edge, grad_nonedge, probs, labels, halves, grad,
                     margin, floor, C, H, W, K, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    n = row // H
    y = row % H
    xs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    in_row = xs < W
    a = _label(labels, n, y, xs, H, W, in_row)
    for c in range(C):
        base = (n * C + c) * H
        p_x = tl.load(probs + (base + y) * W + xs, mask=in_row, other=0.5)
        q_x, qb_x, lq_x, lqb_x = _clipped(p_x, floor)
        # The clamps pass gradient only inside their bounds.
        pass_p = ((p_x >= floor) & (p_x <= 1.0)).to(p_x.dtype)
        pass_c = ((1.0 - p_x >= floor) & (1.0 - p_x <= 1.0)).to(p_x.dtype)
        total = tl.zeros((BLOCK, ), dtype=p_x.dtype)
        for k in range(K):
            s = tl.load(halves + k)
            for d in tl.static_range(8):
                cell: tl.constexpr = d + (d >= 4)
                dy: tl.constexpr = cell // 3 - 1
                dx: tl.constexpr = cell % 3 - 1
                # (y, x) as the centre of (x, x + d s): p(x) enters as r.
                b = _label(labels, n, y + dy * s, xs + dx * s, H, W, in_row)
                o = _label(labels, n, y - dy * s, xs - dx * s, H, W, in_row)
                valid = (a >= 0) & (b >= 0) & (o >= 0)
                p_j = tl.load(probs + (base + y + dy * s) * W + xs + dx * s,
                              mask=valid, other=0.5)
                q, qb, lq, lqb = _clipped(p_j, floor)
                kl = q * (lq - lq_x) + qb * (lqb - lqb_x)
                coef = _coefficient(grad_edge, grad_nonedge, a, b, c, valid,
                                    kl, margin, k, K)
                total += coef * (-q / q_x * pass_p + qb / qb_x * pass_c)
                # (y, x) as the neighbour of (x - d s, x): p(x) enters as p.
                yi = y - dy * s
                xi = xs - dx * s
                ai = _label(labels, n, yi, xi, H, W, in_row)
                oi = _label(labels, n, yi - dy * s, xi - dx * s, H, W, in_row)
                valid = (ai >= 0) & (a >= 0) & (oi >= 0)
                p_i = tl.load(probs + (base + yi) * W + xi, mask=valid,
                              other=0.5)
                _, _, lr, lrb = _clipped(p_i, floor)
                dlog = lq_x - lr
                dlogb = lqb_x - lrb
                kl = q_x * dlog + qb_x * dlogb
                coef = _coefficient(grad_edge, grad_nonedge, ai, a, c, valid,
                                    kl, margin, k, K)
                total += coef * ((dlog + 1.0) * pass_p -
                                 (dlogb + 1.0) * pass_c)
        tl.store(grad + (base + y) * W + xs, total, mask=in_row)


def _inputs(probs: Tensor, labels: Tensor, half_sizes: Sequence[int]):
    if probs.dim() != 4 or labels.shape != (probs.shape[0], ) + tuple(
            probs.shape[2:]):
        raise ValueError('affinity_field: probs (N, C, H, W) and labels '
                         '(N, H, W) expected')
    if probs.dtype not in (torch.float32, torch.float64):
        probs = probs.float()
    probs = probs.detach().contiguous()
    labels = labels.to(torch.int32).contiguous()
    halves = torch.tensor([int(s) for s in half_sizes], dtype=torch.int32,
                          device=probs.device)
    n, c, h, w = probs.shape
    grid = (n * h, triton.cdiv(w, BLOCK))
    return probs, labels, halves, grid


def forward(probs: Tensor, labels: Tensor, half_sizes: Sequence[int],
            margin: float) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """The forward operator on CUDA tensors (or CPU tensors under
    ``TRITON_INTERPRET=1``); outputs as the operator's."""
    dtype = probs.dtype
    probs, labels32, halves, grid = _inputs(probs, labels, half_sizes)
    n, c, h, w = probs.shape
    k = len(half_sizes)
    programs = grid[0] * grid[1]
    partial = probs.new_empty((programs, 2, c, k))
    counts = torch.empty((programs, 2, k), dtype=torch.int32,
                         device=probs.device)
    _forward_kernel[grid](probs, labels32, halves, partial, counts,
                          float(margin), PROB_FLOOR, c, h, w, k, BLOCK=BLOCK)
    sums = partial.double().sum(0)
    pairs, edges = counts.long().sum(0)
    edge_count = (2 * edges).to(dtype)
    nonedge_count = (c * pairs - 2 * edges).to(dtype)
    return (sums[0].to(dtype), sums[1].to(dtype), edge_count, nonedge_count)


def backward(grad_edge: Tensor, grad_nonedge: Tensor, probs: Tensor,
             labels: Tensor, half_sizes: Sequence[int],
             margin: float) -> Tensor:
    """The backward operator: the gradient w.r.t. ``probs``."""
    dtype = probs.dtype
    probs, labels32, halves, grid = _inputs(probs, labels, half_sizes)
    n, c, h, w = probs.shape
    out = torch.empty_like(probs)
    _backward_kernel[grid](grad_edge.to(probs.dtype).contiguous(),
                           grad_nonedge.to(probs.dtype).contiguous(), probs,
                           labels32, halves, out, float(margin), PROB_FLOOR,
                           c, h, w, len(half_sizes), BLOCK=BLOCK)
    return out.to(dtype)
