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
backward and does not fit in memory at full resolution. Instead:

* Summed over channels, the divergence of a pair splits into a term of the
  neighbour alone and a channel dot product,
  ``sum_c KL = h(j) - <[p, 1-p](j), [log p, log(1-p)](i)>``, so the forward
  pass only accumulates the neighbours' ``[p, 1-p]`` into one buffer per size
  (an in-place multiply-add per offset) and takes one dot product per size.
* Only two channels of a pair can be edge channels, so they are read with a
  gather over the label channel and their non-edge contribution is removed
  again; these tensors are ``C`` times smaller than the dense ones.
* Backward recomputes everything from the probabilities and accumulates the
  gradient in place, so nothing per offset is ever saved.

The result is exact (the same sums as the direct definition, up to float
rounding) and its extra memory is a handful of ``(N, C, H, W)`` buffers,
independent of the number of offsets.
"""
from typing import NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor

#: Clipping bounds of the probabilities, as in the published loss.
PROB_FLOOR = 1e-4
PROB_CEIL = 1.0

_RING = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


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


def _axis_slices(offset: int, length: int) -> Optional[Tuple[slice, slice]]:
    """Slices of the centres and of their neighbours along one axis.

    A centre ``i`` is kept only when ``i + offset`` and ``i - offset`` are
    both inside, which is the authors' symmetric mask restricted to the
    image border. Returns None when no centre survives.
    """
    reach = abs(offset)
    if length <= 2 * reach:
        return None
    centre = slice(reach, length - reach)
    neighbour = slice(reach + offset, length - reach + offset)
    return centre, neighbour


def _pair_regions(half_size: int, height: int, width: int):
    """Yield ``(centre, neighbour, behind)`` index tuples for the 8 offsets.

    Each is a pair of slices over ``(H, W)``; ``behind`` addresses
    ``i - d``, whose ignore status also invalidates the pair.
    """
    for dy, dx in _RING:
        rows = _axis_slices(dy * half_size, height)
        cols = _axis_slices(dx * half_size, width)
        if rows is None or cols is None:
            continue
        behind_rows = _axis_slices(-dy * half_size, height)[1]
        behind_cols = _axis_slices(-dx * half_size, width)[1]
        yield ((rows[0], cols[0]), (rows[1], cols[1]),
               (behind_rows, behind_cols))


def _clipped_stack(probs: Tensor) -> Tensor:
    """``(N, 4, C, H, W)``: clipped ``p``, ``1 - p``, and their logs."""
    pos = probs.clamp(PROB_FLOOR, PROB_CEIL)
    neg = (1 - probs).clamp(PROB_FLOOR, PROB_CEIL)
    return torch.stack((pos, neg, pos.log(), neg.log()), dim=1)


def _edge_divergences(stack_c: Tensor, stack_n: Tensor, own_c: Tensor,
                      own_n: Tensor, label_c: Tensor, label_n: Tensor):
    """Divergences on the two label channels of every pair in a region.

    ``a`` is the centre's label channel and ``b`` the neighbour's. Returns
    the four gathered ``(N, 4, h, w)`` stacks and ``KL_a``, ``KL_b``.
    """
    # The centre's channel read at the neighbour, and vice versa.
    n_at_a = stack_n.gather(2, label_c[:, None, None].expand(
        -1, 4, 1, -1, -1)).squeeze(2)
    c_at_b = stack_c.gather(2, label_n[:, None, None].expand(
        -1, 4, 1, -1, -1)).squeeze(2)
    kl_a = _pair_divergence(neighbour=n_at_a, centre=own_c)
    kl_b = _pair_divergence(neighbour=own_n, centre=c_at_b)
    return n_at_a, c_at_b, kl_a, kl_b


def _pair_divergence(neighbour: Tensor, centre: Tensor) -> Tensor:
    """KL(neighbour || centre) from ``(N, 4, ...)`` stacks."""
    return (neighbour[:, 0] * (neighbour[:, 2] - centre[:, 2]) +
            neighbour[:, 1] * (neighbour[:, 3] - centre[:, 3]))


class _AffinityField(torch.autograd.Function):
    """Sums of the affinity field with a recomputing backward.

    Inputs are probabilities ``(N, C, H, W)``, labels ``(N, H, W)`` int64
    with ``-1`` for ignored pixels, and optional per-pixel weights
    ``(N, K, H, W)`` for the edge and non-edge terms.
    """

    @staticmethod
    def forward(ctx, probs, labels, edge_weights, nonedge_weights,
                half_sizes, margin):
        num_classes = probs.shape[1]
        height, width = probs.shape[-2:]
        valid_px = labels >= 0
        safe_labels = labels.clamp(min=0)
        stack = _clipped_stack(probs)
        own = stack.gather(2, safe_labels[:, None, None].expand(
            -1, 4, 1, -1, -1)).squeeze(2)
        # h(j) = sum_c p log p + (1-p) log(1-p): the neighbour-only part.
        self_term = (stack[:, :2] * stack[:, 2:]).sum(dim=(1, 2))

        dtype = probs.dtype
        sizes = len(half_sizes)
        edge_sum = probs.new_zeros(sizes)
        nonedge_sum = probs.new_zeros(sizes)
        edge_count = probs.new_zeros(sizes)
        nonedge_count = probs.new_zeros(sizes)
        edge_px = probs.new_zeros((sizes, ) + labels.shape)
        nonedge_px = probs.new_zeros((sizes, ) + labels.shape)
        neighbour_sum = torch.empty_like(stack[:, :2])
        for k, half in enumerate(half_sizes):
            neighbour_sum.zero_()
            self_sum = edge_px[k]  # reused as scratch below
            nonedge = nonedge_px[k]
            for c_idx, n_idx, b_idx in _pair_regions(half, height, width):
                pair_ok = (valid_px[(slice(None), ) + c_idx]
                           & valid_px[(slice(None), ) + n_idx]
                           & valid_px[(slice(None), ) + b_idx])
                lab_c = safe_labels[(slice(None), ) + c_idx]
                lab_n = safe_labels[(slice(None), ) + n_idx]
                differ = pair_ok & (lab_c != lab_n)
                ok_f = pair_ok.to(dtype)
                nonedge_count[k] += ok_f.sum()
                edge_count[k] += 2 * differ.sum()

                region = (Ellipsis, ) + c_idx
                neighbour_sum[region].addcmul_(
                    ok_f[:, None, None], stack[(Ellipsis, ) + n_idx][:, :2])
                nonedge[(slice(None), ) + c_idx].addcmul_(
                    ok_f, self_term[(slice(None), ) + n_idx])

                _, _, kl_a, kl_b = _edge_divergences(
                    stack[region], stack[(Ellipsis, ) + n_idx],
                    own[region], own[(Ellipsis, ) + n_idx], lab_c, lab_n)
                differ_f = differ.to(dtype)
                hinge = ((margin - kl_a).clamp(min=0) +
                         (margin - kl_b).clamp(min=0))
                self_sum[(slice(None), ) + c_idx].addcmul_(differ_f, hinge)
                nonedge[(slice(None), ) + c_idx].addcmul_(
                    differ_f, kl_a + kl_b, value=-1)
            # The channel dot product of the split divergence, once a size.
            nonedge.sub_((stack[:, 2:] * neighbour_sum).sum(dim=(1, 2)))
        nonedge_count.mul_(num_classes).sub_(edge_count)

        if edge_weights is not None:
            edge_sum = (edge_px * edge_weights.movedim(1, 0)).sum(
                dim=(1, 2, 3))
            nonedge_sum = (nonedge_px * nonedge_weights.movedim(1, 0)).sum(
                dim=(1, 2, 3))
        else:
            edge_sum = edge_px.sum(dim=(1, 2, 3))
            nonedge_sum = nonedge_px.sum(dim=(1, 2, 3))

        ctx.half_sizes = tuple(half_sizes)
        ctx.margin = margin
        ctx.has_weights = edge_weights is not None
        ctx.save_for_backward(probs, labels, edge_weights, nonedge_weights,
                              edge_px, nonedge_px)
        ctx.mark_non_differentiable(edge_count, nonedge_count)
        return edge_sum, nonedge_sum, edge_count, nonedge_count

    @staticmethod
    def backward(ctx, grad_edge, grad_nonedge, _grad_ec, _grad_nc):
        (probs, labels, edge_weights, nonedge_weights, edge_px,
         nonedge_px) = ctx.saved_tensors
        height, width = probs.shape[-2:]
        dtype = probs.dtype
        valid_px = labels >= 0
        safe_labels = labels.clamp(min=0)
        stack = _clipped_stack(probs)
        own = stack.gather(2, safe_labels[:, None, None].expand(
            -1, 4, 1, -1, -1)).squeeze(2)

        # Gradients w.r.t. the four stacked quantities (p, 1-p, logs).
        grad_stack = torch.zeros_like(stack)
        grad_own = torch.zeros_like(own)
        # Sum over offsets of the dense pair weight, seen from the neighbour.
        neighbour_weight = probs.new_zeros(labels.shape)

        for k, half in enumerate(ctx.half_sizes):
            g_edge = grad_edge[k]
            g_nonedge = grad_nonedge[k]
            if ctx.has_weights:
                w_edge = edge_weights[:, k]
                w_nonedge = nonedge_weights[:, k]
            for c_idx, n_idx, b_idx in _pair_regions(half, height, width):
                px_c = (slice(None), ) + c_idx
                px_n = (slice(None), ) + n_idx
                pair_ok = (valid_px[px_c] & valid_px[px_n]
                           & valid_px[(slice(None), ) + b_idx])
                lab_c = safe_labels[px_c]
                lab_n = safe_labels[px_n]
                differ = (pair_ok & (lab_c != lab_n)).to(dtype)
                dense = pair_ok.to(dtype) * g_nonedge
                if ctx.has_weights:
                    dense = dense * w_nonedge[px_c]
                # d/d[p, 1-p](j) of -<[p,1-p](j), L(i)>, and d/dL(i).
                region = (Ellipsis, ) + c_idx
                n_region = (Ellipsis, ) + n_idx
                grad_stack[n_region][:, :2].addcmul_(
                    dense[:, None, None], stack[region][:, 2:], value=-1)
                grad_stack[region][:, 2:].addcmul_(
                    dense[:, None, None], stack[n_region][:, :2], value=-1)
                neighbour_weight[px_n].add_(dense)

                n_at_a, c_at_b, kl_a, kl_b = _edge_divergences(
                    stack[region], stack[n_region], own[region],
                    own[n_region], lab_c, lab_n)
                # An edge channel leaves the non-edge sum and may enter the
                # hinge; this is the coefficient of its divergence.
                base = -g_nonedge * differ
                hinge = -g_edge * differ
                if ctx.has_weights:
                    base = base * w_nonedge[px_c]
                    hinge = hinge * w_edge[px_c]
                coef_a = base + hinge * (kl_a < ctx.margin).to(dtype)
                coef_b = base + hinge * (kl_b < ctx.margin).to(dtype)

                # KL_a: neighbour read on the centre's channel (scattered),
                # centre on its own channel (accumulated in grad_own).
                g_n_at_a = _divergence_grad_neighbour(n_at_a, own[region],
                                                      coef_a)
                grad_stack[n_region].scatter_add_(
                    2, lab_c[:, None, None].expand(-1, 4, 1, -1, -1),
                    g_n_at_a[:, :, None])
                grad_own[region][:, 2:].addcmul_(
                    coef_a[:, None], n_at_a[:, :2], value=-1)
                # KL_b: neighbour on its own channel, centre read on the
                # neighbour's channel (scattered).
                grad_own[n_region].add_(
                    _divergence_grad_neighbour(own[n_region], c_at_b,
                                               coef_b))
                g_c_at_b = torch.zeros_like(c_at_b)
                g_c_at_b[:, 2:] = -coef_b[:, None] * own[n_region][:, :2]
                grad_stack[region].scatter_add_(
                    2, lab_n[:, None, None].expand(-1, 4, 1, -1, -1),
                    g_c_at_b[:, :, None])

        grad_stack.scatter_add_(
            2, safe_labels[:, None, None].expand(-1, 4, 1, -1, -1),
            grad_own[:, :, None])
        # The neighbour-only term h(j) = sum p log p + (1-p) log(1-p).
        nw = neighbour_weight[:, None, None]
        grad_stack[:, :2].addcmul_(nw, stack[:, 2:])
        grad_stack[:, 2:].addcmul_(nw, stack[:, :2])

        grad_probs = None
        if ctx.needs_input_grad[0]:
            pos, neg = stack[:, 0], stack[:, 1]
            grad_pos = grad_stack[:, 0].addcdiv_(grad_stack[:, 2], pos)
            grad_neg = grad_stack[:, 1].addcdiv_(grad_stack[:, 3], neg)
            # The clamp passes gradient only inside its bounds.
            grad_pos.mul_(((probs >= PROB_FLOOR) & (probs <= PROB_CEIL)))
            grad_neg.mul_(((1 - probs >= PROB_FLOOR) &
                           (1 - probs <= PROB_CEIL)))
            grad_probs = grad_pos.sub_(grad_neg)

        grad_edge_w = grad_nonedge_w = None
        if ctx.has_weights:
            grad_edge_w = (edge_px * grad_edge[:, None, None, None]).movedim(
                0, 1)
            grad_nonedge_w = (nonedge_px *
                              grad_nonedge[:, None, None, None]).movedim(0, 1)
        return grad_probs, None, grad_edge_w, grad_nonedge_w, None, None


def _divergence_grad_neighbour(neighbour: Tensor, centre: Tensor,
                               coef: Tensor) -> Tensor:
    """``coef * dKL/d(neighbour stack)`` as an ``(N, 4, h, w)`` stack."""
    return torch.stack((coef * (neighbour[:, 2] - centre[:, 2]),
                        coef * (neighbour[:, 3] - centre[:, 3]),
                        coef * neighbour[:, 0], coef * neighbour[:, 1]),
                       dim=1)


def affinity_field_terms(probs: Tensor,
                         labels: Tensor,
                         half_sizes: Sequence[int],
                         margin: float,
                         edge_weights: Optional[Tensor] = None,
                         nonedge_weights: Optional[Tensor] = None
                         ) -> AffinityFieldTerms:
    """Edge and non-edge sums of the affinity field for several sizes.

    Args:
        probs (Tensor): Class probabilities, shape ``(N, C, H, W)``,
            floating point. Gradients flow to them.
        labels (Tensor): Class ids, shape ``(N, H, W)``, int64, with every
            ignored pixel set to a negative value.
        half_sizes (Sequence[int]): Ring radii ``s = (k - 1) / 2``.
        margin (float): Hinge margin of the edge term.
        edge_weights (Tensor, optional): Weight of each centre pixel's edge
            entries per size, shape ``(N, K, H, W)``. Gradients flow to it.
            Must be given together with ``nonedge_weights``.
        nonedge_weights (Tensor, optional): The same for non-edge entries.

    Returns:
        AffinityFieldTerms: sums and counts of shape ``(K,)``.
    """
    if (edge_weights is None) != (nonedge_weights is None):
        raise ValueError('edge_weights and nonedge_weights must be given '
                         'together')
    return AffinityFieldTerms(*_AffinityField.apply(
        probs, labels, edge_weights, nonedge_weights, tuple(half_sizes),
        float(margin)))
