# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""A direct transcription of the affinity field, for checks and benchmarks.

It follows the structure of the published TensorFlow loss: stack the eight
shifted copies of the probabilities per size, build boolean edge and
non-edge masks, select the entries with them and take means. It is slow and
memory hungry on purpose; the losses of :mod:`mmseg_aaf.models.losses` must
agree with it.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

_RING = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _shifted(x: Tensor, dy: int, dx: int, pad_value) -> Tensor:
    """``out[..., y, x] = x[..., y + dy, x + dx]``, ``pad_value`` outside."""
    reach = max(abs(dy), abs(dx))
    height, width = x.shape[-2:]
    padded = F.pad(x, (reach, reach, reach, reach), value=pad_value)
    return padded[..., reach + dy:reach + dy + height,
                  reach + dx:reach + dx + width]


def naive_affinity_means(probs: Tensor,
                         labels: Tensor,
                         half_sizes: Sequence[int],
                         margin: float,
                         edge_size_weights: Optional[Tensor] = None,
                         nonedge_size_weights: Optional[Tensor] = None
                         ) -> List[Tuple[Tensor, Tensor, int, int]]:
    """Per-size ``(edge_mean, nonedge_mean, edge_count, nonedge_count)``.

    Args:
        probs (Tensor): ``(N, C, H, W)`` probabilities.
        labels (Tensor): ``(N, H, W)`` int64, negative = ignored.
        half_sizes (Sequence[int]): Ring radii.
        margin (float): Edge hinge margin.
        edge_size_weights, nonedge_size_weights (Tensor, optional):
            ``(C, K)`` size weights, indexed by the centre's class.
    """
    num_classes = probs.shape[1]
    ignored = (labels < 0).float()[:, None]
    onehot = F.one_hot(labels.clamp(min=0), num_classes).permute(0, 3, 1, 2)
    pos = probs.clamp(1e-4, 1.0)
    neg = (1 - probs).clamp(1e-4, 1.0)
    results = []
    for k, half in enumerate(half_sizes):
        shifts = [(dy * half, dx * half) for dy, dx in _RING]
        pair_pos = torch.stack([_shifted(pos, dy, dx, 1e-4)
                                for dy, dx in shifts], dim=-1)
        pair_neg = torch.stack([_shifted(neg, dy, dx, 1e-4)
                                for dy, dx in shifts], dim=-1)
        pair_onehot = torch.stack([_shifted(onehot, dy, dx, 0)
                                   for dy, dx in shifts], dim=-1)
        ahead = torch.stack([_shifted(ignored, dy, dx, 1.0)
                             for dy, dx in shifts], dim=-1)
        behind = torch.stack([_shifted(ignored, -dy, -dx, 1.0)
                              for dy, dx in shifts], dim=-1)
        ignore = (ignored[..., None] + ahead + behind) > 0  # N,1,H,W,8
        kl = (pair_pos * torch.log(pair_pos / pos[..., None]) +
              pair_neg * torch.log(pair_neg / neg[..., None]))
        edge = (pair_onehot != onehot[..., None]) & ~ignore
        nonedge = (pair_onehot == onehot[..., None]) & ~ignore
        edge_terms = torch.clamp(margin - kl, min=0)
        nonedge_terms = kl
        if edge_size_weights is not None:
            centre_class = labels.clamp(min=0)
            w_edge = edge_size_weights[:, k][centre_class][:, None, ..., None]
            w_nonedge = nonedge_size_weights[:, k][centre_class][:, None, ...,
                                                                 None]
            edge_terms = edge_terms * w_edge
            nonedge_terms = nonedge_terms * w_nonedge
        edge_sel = edge_terms[edge.expand_as(edge_terms)]
        nonedge_sel = nonedge_terms[nonedge.expand_as(nonedge_terms)]
        edge_mean = (edge_sel.mean() if edge_sel.numel() else
                     edge_terms.sum() * 0)
        nonedge_mean = (nonedge_sel.mean() if nonedge_sel.numel() else
                        nonedge_terms.sum() * 0)
        results.append(
            (edge_mean, nonedge_mean, edge_sel.numel(), nonedge_sel.numel()))
    return results
