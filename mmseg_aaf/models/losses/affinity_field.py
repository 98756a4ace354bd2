# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The neighbour-pair math of affinity fields, shared by every loss here.

For a half-size ``s`` every centre pixel ``i`` is paired with its eight
neighbours ``j = i + d``, ``d`` in ``{-s, 0, s}^2 \\ {(0, 0)}`` (a dilated 3x3
ring). A pair is *valid* when ``i``, ``i + d`` and ``i - d`` all lie inside the
image and none of them is ignored. On every class channel ``c`` a valid pair
contributes the Bernoulli divergence

    KL(i, d, c) = q log(q / r) + (1 - q) log((1 - q) / (1 - r)),
    q = p(i + d, c),  r = p(i, c),

with ``q, r, 1 - q, 1 - r`` each clipped to ``[1e-4, 1]``. The entry is an
*edge* entry when the one-hot labels of ``i`` and ``i + d`` differ on ``c``
(only the two channels of the two labels, and only when the labels differ),
otherwise a *non-edge* entry. Edge entries contribute ``max(0, m - KL)``,
non-edge entries ``KL``; both may be scaled by a weight of the centre pixel.

Why this is not written as "stack eight shifted copies and mask": that
layout keeps ``8 * len(sizes)`` full ``(N, C, H, W)`` tensors alive for
backward and does not fit in memory at full resolution. Instead the work is
split by what it depends on:

* Label-only work (which pairs are valid, which are edge pairs) is done
  once, for all offsets of a size at a time, as ``(8, N, H, W)`` boolean
  masks. They are saved for backward, which therefore never looks at the
  labels' neighbourhoods again.
* Dense work: summed over channels, the divergence of a pair splits into a
  term of the neighbour alone and a channel dot product,
  ``sum_c KL = h(j) - <[p, 1-p](j), [log p, log(1-p)](i)>``. The forward
  pass accumulates the neighbours' ``[p, 1-p]`` into one buffer per size (an
  in-place multiply-add per offset, the only per-offset work) and takes one
  dot product per size; ``h`` is a per-pixel map read at the neighbours.
* Edge work: only the two label channels of a pair with different labels
  can be edge entries. These pairs are listed (with ``nonzero``) and all of
  them, over every size and offset, are handled by one batch of gathers and
  element-wise ops: their divergences give the hinge and are removed from
  the dense non-edge sum. Backward scatters their gradients with one
  ``index_add_``.
* Backward recomputes the clipped stack and accumulates gradients in place,
  so nothing of size ``(N, C, H, W)`` is saved between the passes.

Large inputs are processed a few images at a time and edge pairs in slabs,
so the extra memory stays a handful of ``(C, H, W)`` buffers per image. The
result is exact: the same sums as the direct definition, up to float
rounding.

This torch code is the readable reference. :func:`affinity_field_terms`
also runs the same sums as one fused kernel per pass (:mod:`mmseg_aaf.ops`:
C++ on the CPU, Triton on CUDA), chosen by its ``implementation`` argument;
tests/ops holds the kernel to this reference.
"""
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

#: Clipping bounds of the probabilities, as in the published loss.
PROB_FLOOR = 1e-4
PROB_CEIL = 1.0

_RING = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))

#: Images are processed together while a chunk holds at most this many
#: ``C x H x W`` elements; larger batches go image by image so that the
#: per-chunk buffers (two 4-plane stacks) stay small.
_CHUNK_ELEMENTS = 1 << 22
#: Edge pairs are listed from at most this many mask entries at a time,
#: which bounds the per-pair index and value tensors (~250 bytes a pair).
_PAIR_SLAB = 1 << 20


class AffinityFieldTerms(NamedTuple):
    """Per-size sums and counts of the affinity field.

    All fields have shape ``(K,)`` for ``K`` half-sizes. The sums carry the
    centre-pixel weights when weights were given; the counts never do.
    """
    edge_sum: Tensor
    nonedge_sum: Tensor
    edge_count: Tensor
    nonedge_count: Tensor

    def edge_mean(self) -> Tensor:
        """Mean edge term per size; 0 where a size has no edge entries."""
        return self.edge_sum / self.edge_count.clamp(min=1)

    def nonedge_mean(self) -> Tensor:
        """Mean non-edge term per size; 0 where a size has no entries."""
        return self.nonedge_sum / self.nonedge_count.clamp(min=1)


def _axis_slices(offset: int,
                 length: int) -> Optional[Tuple[slice, slice, slice]]:
    """Slices of the centres, their neighbours and their opposites.

    Along one axis: centres ``i`` whose neighbour ``i + offset`` and
    opposite ``i - offset`` are both inside (a valid pair needs both), then
    ``i + offset`` and ``i - offset`` for those centres. Returns None when
    no such centre exists.
    """
    reach = abs(offset)
    if length <= 2 * reach:
        return None
    centre = slice(reach, length - reach)
    neighbour = slice(reach + offset, length - reach + offset)
    opposite = slice(reach - offset, length - reach - offset)
    return centre, neighbour, opposite


def _pair_regions(half_size: int, height: int,
                  width: int) -> List[Tuple[int, tuple, tuple, tuple]]:
    """``(ring index, centre, neighbour, opposite)`` for one size's offsets.

    ``centre``, ``neighbour`` and ``opposite`` are ``(rows, cols)`` slices
    over ``(H, W)``; offsets without any valid centre are left out.
    """
    regions = []
    for d, (dy, dx) in enumerate(_RING):
        rows = _axis_slices(dy * half_size, height)
        cols = _axis_slices(dx * half_size, width)
        if rows is not None and cols is not None:
            regions.append((d, ) + tuple(zip(rows, cols)))
    return regions


def _pair_masks(labels: Tensor,
                half_sizes: Sequence[int]) -> Tuple[Tensor, Tensor]:
    """Valid pairs and edge pairs, two ``(K, 8, N, H, W)`` bool masks.

    Entry ``[k, d, n, y, x]`` is the pair of centre ``(y, x)`` of image
    ``n`` with its ``d``-th ring neighbour at half-size ``half_sizes[k]``.
    Both are written in place, offset by offset, on the centres whose
    neighbour and opposite are inside; all other entries stay False.
    """
    n, height, width = labels.shape
    shape = (len(half_sizes), len(_RING), n, height, width)
    valid = torch.zeros(shape, dtype=torch.bool, device=labels.device)
    edge = torch.zeros_like(valid)
    known = labels >= 0
    every_image = slice(None)
    for k, half in enumerate(half_sizes):
        for d, centre, neighbour, opposite in _pair_regions(
                half, height, width):
            centre, neighbour, opposite = ((every_image, ) + region
                                           for region in (centre, neighbour,
                                                          opposite))
            ok = valid[k, d][centre]
            torch.logical_and(known[centre], known[neighbour], out=ok)
            ok &= known[opposite]
            torch.logical_and(
                ok, labels[centre] != labels[neighbour],
                out=edge[k, d][centre])
    return valid, edge


def _clipped_stack(probs: Tensor) -> Tensor:
    """``(4, N, C, H, W)``: clipped ``p``, ``1 - p``, and their logs."""
    stack = probs.new_empty((4, ) + probs.shape)
    torch.clamp(probs, PROB_FLOOR, PROB_CEIL, out=stack[0])
    torch.clamp(torch.sub(1, probs, out=stack[1]), PROB_FLOOR, PROB_CEIL,
                out=stack[1])
    torch.log(stack[:2], out=stack[2:])
    return stack


class _Chunk:
    """A group of images and what forward and backward share about it.

    ``stack`` is the clipped ``(4, m, C, H, W)`` stack of the images
    ``first:first + m``; ``valid``/``edge`` their ``(K, 8, m, H, W)`` pair
    masks.
    """

    def __init__(self, probs: Tensor, labels: Tensor, valid: Tensor,
                 edge: Tensor, first: int, count: int,
                 half_sizes: Sequence[int]):
        images = slice(first, first + count)
        self.images = images
        self.first = first
        self.probs = probs[images]
        self.stack = _clipped_stack(self.probs)
        self.labels = labels[images]
        self.valid = valid[:, :, images]
        self.edge = edge[:, :, images]
        self.half_sizes = tuple(half_sizes)
        self.batch = probs.shape[0]

    def edge_pairs(self) -> Iterator[Tuple[Tensor, Tensor]]:
        """Yield ``(centre, index)`` for slabs of the chunk's edge pairs.

        ``centre`` indexes the flattened ``(K, N, H, W)`` per-pixel maps at
        the pair's centre and size. ``index`` is ``(2, 2, E)``: flat indices
        into one plane of ``stack`` for (centre label ``a``, neighbour
        label ``b``) x (centre ``i``, neighbour ``j``).
        """
        m, channels, height, width = self.probs.shape
        hw = height * width
        mhw = m * hw
        device = self.labels.device
        # Per (size, offset): flat step from centre to neighbour, and the
        # start of that size's rows in the (K, N, H, W) maps.
        jump = torch.tensor([(dy * width + dx) * half
                             for half in self.half_sizes for dy, dx in _RING],
                            device=device)
        map_start = torch.tensor(
            [(k * self.batch + self.first) * hw
             for k in range(len(self.half_sizes)) for _ in _RING],
            device=device)
        labels = self.labels.reshape(-1).clamp(min=0)
        flat = self.edge.reshape(-1)
        for start in range(0, flat.numel(), _PAIR_SLAB):
            entries = flat[start:start + _PAIR_SLAB].nonzero().squeeze(1)
            if entries.numel() == 0:
                continue
            if start:
                entries += start
            size_offset = entries.div(mhw, rounding_mode='floor')
            centre = entries - size_offset * mhw  # pixel within the chunk
            pixels = torch.stack((centre, centre + jump[size_offset]))
            image = centre.div(hw, rounding_mode='floor')
            # Plane row (image, class) of each pair's two label channels.
            rows = (labels[pixels] + image * (channels - 1)) * hw
            index = rows[:, None] + pixels[None]
            yield centre + map_start[size_offset], index

    def edge_divergences(self, index: Tensor):
        """Neighbour stack, log-ratios and ``KL_a, KL_b`` of edge pairs.

        Returns ``(neighbour (4, 2, E), log_ratio (2, 2, E), kl (2, E))``;
        the middle axis is the channel (``a`` then ``b``).
        """
        values = self.stack.view(4, -1).index_select(1, index.view(-1))
        values = values.view((4, ) + index.shape)
        centre, neighbour = values[:, :, 0], values[:, :, 1]
        log_ratio = neighbour[2:] - centre[2:]
        kl = (neighbour[:2] * log_ratio).sum(0)
        return neighbour, log_ratio, kl


def _image_chunks(probs: Tensor) -> Iterator[Tuple[int, int]]:
    batch = probs.shape[0]
    per_image = max(1, probs[0].numel())
    step = max(1, min(batch, _CHUNK_ELEMENTS // per_image))
    for first in range(0, batch, step):
        yield first, min(step, batch - first)


class _AffinityField(torch.autograd.Function):
    """Sums of the affinity field with a recomputing backward.

    Inputs are probabilities ``(N, C, H, W)``, labels ``(N, H, W)`` int64
    with negative values for ignored pixels, and optional per-pixel weights
    ``(N, K, H, W)`` for the edge and non-edge terms.
    """

    @staticmethod
    def forward(ctx, probs, labels, edge_weights, nonedge_weights,
                half_sizes, margin):
        half_sizes = tuple(half_sizes)
        num_classes = probs.shape[1]
        valid, edge = _pair_masks(labels, half_sizes)
        # Per-pixel sums of each size: the weights multiply them at the end
        # and their gradient is these maps.
        edge_px = probs.new_zeros((len(half_sizes), ) + labels.shape)
        nonedge_px = torch.zeros_like(edge_px)
        for first, count in _image_chunks(probs):
            chunk = _Chunk(probs, labels, valid, edge, first, count,
                           half_sizes)
            _dense_forward(chunk, nonedge_px[:, chunk.images])
            for centre, index in chunk.edge_pairs():
                _, _, kl = chunk.edge_divergences(index)
                edge_px.view(-1).index_add_(
                    0, centre, (margin - kl).clamp_(min=0).sum(0))
                # These two channels were counted as non-edge entries.
                nonedge_px.view(-1).index_add_(0, centre, kl.sum(0),
                                               alpha=-1)
            del chunk

        # count_nonzero reads the bools as they are; sum() would first
        # widen the whole (K, 8, N, H, W) masks to int64.
        sizes = len(half_sizes)
        pair_count = torch.count_nonzero(valid.view(sizes, -1), dim=1)
        edge_count = 2 * torch.count_nonzero(edge.view(sizes, -1), dim=1)
        nonedge_count = (num_classes * pair_count - edge_count).to(probs.dtype)
        edge_count = edge_count.to(probs.dtype)

        if edge_weights is not None:
            edge_sum = (edge_px * edge_weights.movedim(1, 0)).sum(
                dim=(1, 2, 3))
            nonedge_sum = (nonedge_px * nonedge_weights.movedim(1, 0)).sum(
                dim=(1, 2, 3))
        else:
            edge_sum = edge_px.sum(dim=(1, 2, 3))
            nonedge_sum = nonedge_px.sum(dim=(1, 2, 3))

        ctx.half_sizes = half_sizes
        ctx.margin = margin
        ctx.has_weights = edge_weights is not None
        ctx.save_for_backward(probs, labels, valid, edge, edge_weights,
                              nonedge_weights, edge_px, nonedge_px)
        ctx.mark_non_differentiable(edge_count, nonedge_count)
        return edge_sum, nonedge_sum, edge_count, nonedge_count

    @staticmethod
    def backward(ctx, grad_edge, grad_nonedge, _grad_ec, _grad_nc):
        (probs, labels, valid, edge, edge_weights, nonedge_weights, edge_px,
         nonedge_px) = ctx.saved_tensors
        sizes = len(ctx.half_sizes)
        # Gradient of the total w.r.t. each entry's term, per centre pixel:
        # (K, N, H, W), contiguous so that edge pairs can index it flat.
        if ctx.has_weights:
            coef_edge = edge_weights.movedim(1, 0) * grad_edge.view(
                sizes, 1, 1, 1)
            coef_nonedge = nonedge_weights.movedim(1, 0) * grad_nonedge.view(
                sizes, 1, 1, 1)
        else:
            coef_edge = grad_edge.view(sizes, 1, 1, 1).expand_as(edge_px)
            coef_nonedge = grad_nonedge.view(sizes, 1, 1,
                                             1).expand_as(edge_px)
        coef_edge = coef_edge.contiguous()
        coef_nonedge = coef_nonedge.contiguous()

        grad_probs = None
        if ctx.needs_input_grad[0]:
            grad_probs = torch.empty_like(probs)
            for first, count in _image_chunks(probs):
                chunk = _Chunk(probs, labels, valid, edge, first, count,
                               ctx.half_sizes)
                grad_stack = _dense_backward(chunk,
                                             coef_nonedge[:, chunk.images])
                for centre, index in chunk.edge_pairs():
                    _edge_backward(chunk, grad_stack, centre, index,
                                   coef_edge, coef_nonedge, ctx.margin)
                _stack_to_probs(chunk, grad_stack,
                                out=grad_probs[chunk.images])
                del chunk, grad_stack

        grad_edge_w = grad_nonedge_w = None
        if ctx.has_weights:
            grad_edge_w = (edge_px * grad_edge.view(sizes, 1, 1, 1)).movedim(
                0, 1)
            grad_nonedge_w = (nonedge_px *
                              grad_nonedge.view(sizes, 1, 1, 1)).movedim(0, 1)
        return grad_probs, None, grad_edge_w, grad_nonedge_w, None, None


def _dense_forward(chunk: _Chunk, nonedge_px: Tensor) -> None:
    """Write the all-channel divergence sums of valid pairs per centre.

    ``nonedge_px`` is the chunk's ``(K, m, H, W)`` slice of the maps.
    """
    stack = chunk.stack
    pq, logs = stack[:2], stack[2:]
    height, width = stack.shape[-2:]
    gathered = torch.empty_like(pq)
    # h(j) = sum_c p log p + (1-p) log(1-p): the neighbour-only part. The
    # product goes through the buffer the sizes reuse below.
    neighbour_only = torch.mul(pq, logs, out=gathered).sum(dim=(0, 2))
    every_image = (slice(None), )
    for k, half in enumerate(chunk.half_sizes):
        ok = chunk.valid[k].to(stack.dtype)
        gathered.zero_()
        sums = nonedge_px[k]
        sums.zero_()
        for d, c_idx, n_idx, _ in _pair_regions(half, height, width):
            gathered[(Ellipsis, ) + c_idx].addcmul_(
                ok[d][(slice(None), None) + c_idx],
                pq[(Ellipsis, ) + n_idx])
            sums[every_image + c_idx].addcmul_(ok[d][every_image + c_idx],
                                               neighbour_only[every_image +
                                                              n_idx])
        # The channel dot product of the split divergence, once a size.
        cross = gathered.mul_(logs)
        sums.sub_(cross[0].add_(cross[1]).sum(1))


def _dense_backward(chunk: _Chunk, coef_nonedge: Tensor) -> Tensor:
    """Gradient of the dense sums w.r.t. the chunk's stack.

    ``coef_nonedge`` is the chunk's ``(K, m, H, W)`` slice of the non-edge
    gradient per centre.
    """
    stack = chunk.stack
    pq, logs = stack[:2], stack[2:]
    m, _, height, width = chunk.probs.shape
    every_image = (slice(None), )
    coefs = [
        chunk.valid[k].to(stack.dtype).mul_(coef_nonedge[k])
        for k in range(len(chunk.half_sizes))
    ]
    # Total pair weight each pixel receives as a neighbour: the gradient of
    # the neighbour-only term h. It initialises the gradient, so the big
    # buffer is written once instead of zeroed and then accumulated.
    neighbour_weight = stack.new_zeros((m, height, width))
    for coef, half in zip(coefs, chunk.half_sizes):
        for d, c_idx, n_idx, _ in _pair_regions(half, height, width):
            neighbour_weight[every_image + n_idx] += coef[d][every_image +
                                                            c_idx]
    grad = torch.empty_like(stack)
    grad_pq, grad_logs = grad[:2], grad[2:]
    weight = neighbour_weight[None, :, None]
    torch.mul(weight, logs, out=grad_pq)
    torch.mul(weight, pq, out=grad_logs)
    for coef, half in zip(coefs, chunk.half_sizes):
        for d, c_idx, n_idx, _ in _pair_regions(half, height, width):
            pair = coef[d][(slice(None), None) + c_idx]
            # d/d[p, 1-p](j) of -<[p,1-p](j), L(i)>, and d/dL(i).
            grad_pq[(Ellipsis, ) + n_idx].addcmul_(
                pair, logs[(Ellipsis, ) + c_idx], value=-1)
            grad_logs[(Ellipsis, ) + c_idx].addcmul_(
                pair, pq[(Ellipsis, ) + n_idx], value=-1)
    return grad


def _edge_backward(chunk: _Chunk, grad_stack: Tensor, centre: Tensor,
                   index: Tensor, coef_edge: Tensor, coef_nonedge: Tensor,
                   margin: float) -> None:
    """Scatter the gradients of a slab of edge pairs into ``grad_stack``."""
    neighbour, log_ratio, kl = chunk.edge_divergences(index)
    # An edge channel leaves the non-edge sum and, inside the margin,
    # lowers the hinge: the coefficient of its divergence, (2, E).
    coef = -(coef_nonedge.view(-1)[centre] +
             coef_edge.view(-1)[centre] * (kl < margin).to(kl.dtype))
    grad = kl.new_empty((4, 2, 2) + kl.shape[1:])
    # Neighbour side: dKL/d[p, 1-p] = log ratios, dKL/d[log p, ...] = [p..].
    torch.mul(log_ratio, coef, out=grad[:2, :, 1])
    torch.mul(neighbour[:2], coef, out=grad[2:, :, 1])
    # Centre side: only the logs appear, with the opposite sign.
    grad[:2, :, 0] = 0
    torch.neg(grad[2:, :, 1], out=grad[2:, :, 0])
    grad_stack.view(4, -1).index_add_(1, index.view(-1), grad.view(4, -1))


def _stack_to_probs(chunk: _Chunk, grad_stack: Tensor, out: Tensor) -> None:
    """Chain the stack's gradient through the logs and the clamps."""
    probs = chunk.probs
    pos, neg = chunk.stack[0], chunk.stack[1]
    grad_pos = grad_stack[0].addcdiv_(grad_stack[2], pos)
    grad_neg = grad_stack[1].addcdiv_(grad_stack[3], neg)
    # The clamp passes gradient only inside its bounds.
    grad_pos.masked_fill_((probs < PROB_FLOOR) | (probs > PROB_CEIL), 0)
    # The log planes of the gradient are consumed; one holds 1 - p.
    complement = torch.sub(1, probs, out=grad_stack[2])
    grad_neg.masked_fill_(
        (complement < PROB_FLOOR) | (complement > PROB_CEIL), 0)
    torch.sub(grad_pos, grad_neg, out=out)


#: What ``implementation`` may be (see :func:`affinity_field_terms`).
IMPLEMENTATIONS = ('auto', 'fused', 'torch')


def resolve_implementation(implementation: str, device_type: str) -> str:
    """``'fused'`` or ``'torch'``: what ``implementation`` runs on tensors
    of ``device_type``.

    Raises:
        ValueError: an unknown implementation.
        RuntimeError: ``'fused'`` where the fused kernel is not built for
            ``device_type``.
    """
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f'implementation must be one of {IMPLEMENTATIONS}, '
                         f'got {implementation!r}')
    if implementation == 'torch':
        return 'torch'
    from mmseg_aaf.ops import fused_available, unavailable_reason
    if fused_available(device_type):
        return 'fused'
    if implementation == 'fused':
        raise RuntimeError(
            f"implementation='fused': no fused affinity-field kernel for "
            f'{device_type} tensors: {unavailable_reason(device_type)}. '
            "Use implementation='auto' or 'torch'.")
    return 'torch'


def _fused_terms(probs: Tensor, labels: Tensor, half_sizes: Sequence[int],
                 margin: float, edge_weights: Optional[Tensor],
                 nonedge_weights: Optional[Tensor]) -> AffinityFieldTerms:
    from mmseg_aaf.ops import affinity_field_class_sums
    edge, nonedge, edge_count, nonedge_count = affinity_field_class_sums(
        probs, labels, half_sizes, margin)
    if edge_weights is not None:
        # Autograd differentiates the weights here: their gradient is the
        # per-class sums.
        edge = edge * edge_weights.to(edge.dtype)
        nonedge = nonedge * nonedge_weights.to(nonedge.dtype)
    return AffinityFieldTerms(edge.sum(0), nonedge.sum(0), edge_count,
                              nonedge_count)


def affinity_field_terms(probs: Tensor,
                         labels: Tensor,
                         half_sizes: Sequence[int],
                         margin: float,
                         edge_weights: Optional[Tensor] = None,
                         nonedge_weights: Optional[Tensor] = None,
                         implementation: str = 'auto'
                         ) -> AffinityFieldTerms:
    """Edge and non-edge sums of the affinity field for several sizes.

    Args:
        probs (Tensor): Class probabilities, shape ``(N, C, H, W)``,
            floating point. Gradients flow to them.
        labels (Tensor): Class ids, shape ``(N, H, W)``, int64, with every
            ignored pixel set to a negative value.
        half_sizes (Sequence[int]): Ring radii ``s = (k - 1) / 2``.
        margin (float): Hinge margin of the edge term.
        edge_weights (Tensor, optional): Per-class size weights of the edge
            entries, shape ``(C, K)``: an entry of size ``k`` whose centre
            pixel has class ``c`` is weighted by ``edge_weights[c, k]``.
            Gradients flow to it. Must be given together with
            ``nonedge_weights``.
        nonedge_weights (Tensor, optional): The same for non-edge entries.
        implementation (str): ``'torch'``, the readable reference in this
            module; ``'fused'``, one kernel for forward and one for backward
            (:mod:`mmseg_aaf.ops`: C++ on the CPU, Triton on CUDA), an error
            where it is not built; ``'auto'`` (default), the fused kernel
            where it is built for ``probs``' device, else the reference.
            Both compute the same sums.

    Returns:
        AffinityFieldTerms: sums and counts of shape ``(K,)``.
    """
    if (edge_weights is None) != (nonedge_weights is None):
        raise ValueError('edge_weights and nonedge_weights must be given '
                         'together')
    if resolve_implementation(implementation, probs.device.type) == 'fused':
        return _fused_terms(probs, labels, half_sizes, margin, edge_weights,
                            nonedge_weights)
    edge_maps = nonedge_maps = None
    if edge_weights is not None:
        # The weight of each centre pixel's entries: its class's row.
        safe = labels.clamp(min=0)
        edge_maps, nonedge_maps = (
            F.embedding(safe, weights).permute(0, 3, 1, 2)
            for weights in (edge_weights, nonedge_weights))
    return AffinityFieldTerms(*_AffinityField.apply(
        probs, labels, edge_maps, nonedge_maps, tuple(half_sizes),
        float(margin)))
