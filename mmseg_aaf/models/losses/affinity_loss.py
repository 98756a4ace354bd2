# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Affinity field losses: fixed sizes (``AffinityLoss``) and adaptive (AAF).

Both reduce the affinity field of :mod:`.affinity_field` to a scalar

    loss_weight * decay * sum_k (edge_loss_weight * E_k +
                                 nonedge_loss_weight * NE_k)

where ``E_k`` and ``NE_k`` are the means of the edge and non-edge entries of
kernel size ``k`` over the whole batch (0 when a size has no such entry).
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .affinity_field import (IMPLEMENTATIONS, AffinityFieldTerms,
                             affinity_field_terms, resolve_implementation)

#: (loss class, device type, implementation) already named in the log.
_LOGGED_IMPLEMENTATIONS = set()

#: Attribute that marks a parameter to be ascended rather than descended.
ASCENT_ATTR = '_mmseg_aaf_ascent'


def mark_for_ascent(param: nn.Parameter) -> nn.Parameter:
    """Flag ``param`` so that ``AdversarialOptimWrapper`` ascends it."""
    setattr(param, ASCENT_ATTR, True)
    return param


def is_marked_for_ascent(param: Tensor) -> bool:
    return getattr(param, ASCENT_ATTR, False)


def sample_affinity_grid(cls_score: Tensor, label: Tensor,
                         downsample: int) -> Tuple[Tensor, Tensor]:
    """Resample logits and labels onto the grid the loss compares pixels on.

    mmseg hands losses logits already upsampled to the label size; the
    affinity field of the paper lives on the network's own output grid.
    Both tensors are read at the centre of every ``downsample`` x
    ``downsample`` cell, i.e. rows and columns ``o, o + d, o + 2d, ...`` with
    ``o = d // 2`` (the same positions for both, so pairs stay aligned).
    Labels are therefore taken by nearest sampling, never averaged. With
    ``downsample=1`` the inputs are returned unchanged.

    Args:
        cls_score (Tensor): ``(N, C, H, W)`` logits.
        label (Tensor): ``(N, H, W)`` class ids.
        downsample (int): Cell size ``d`` of the grid.

    Returns:
        tuple[Tensor, Tensor]: ``(N, C, h, w)`` logits and ``(N, h, w)``
        labels with ``h = ceil((H - o) / d)`` and likewise ``w``.
    """
    if downsample == 1:
        return cls_score, label
    height, width = label.shape[-2:]
    if height < downsample or width < downsample:
        raise ValueError(
            f'the label map ({height}x{width}) is smaller than '
            f'downsample={downsample}; lower downsample')
    start = downsample // 2
    return (cls_score[..., start::downsample, start::downsample],
            label[..., start::downsample, start::downsample])


def _check_kernel_sizes(kernel_sizes: Sequence[int]) -> Tuple[int, ...]:
    sizes = tuple(kernel_sizes)
    if not sizes:
        raise ValueError('kernel_sizes must name at least one size')
    for size in sizes:
        if (not isinstance(size, int) or isinstance(size, bool) or size < 3
                or size % 2 == 0):
            raise ValueError(
                f'kernel size {size!r} is invalid: kernel sizes must be odd '
                'integers >= 3 (3, 5, 7, ...)')
    if len(set(sizes)) != len(sizes):
        raise ValueError(f'kernel_sizes {sizes} repeats a size')
    return sizes


@MODELS.register_module()
class AffinityLoss(nn.Module):
    """Affinity field loss with fixed kernel sizes (Ke et al., ECCV 2018).

    Args:
        num_classes (int): Number of classes ``C``.
        kernel_sizes (Sequence[int]): Odd field sizes ``k``; each pairs a
            pixel with its 8 neighbours at distance ``(k - 1) / 2``.
            Default: (3, ).
        margin (float): Margin ``m`` of the edge hinge ``max(0, m - KL)``.
            Default: 3.0.
        edge_loss_weight (float): Weight of the edge means. Default: 1.0.
        nonedge_loss_weight (float): Weight of the non-edge means.
            Default: 1.0.
        downsample (int): Cell size of the grid the field is evaluated on;
            8 compares pixels on the stride-8 output grid of the paper, 1
            on the full label grid. See :func:`sample_affinity_grid`.
            Default: 8.
        loss_weight (float): Weight of the whole loss. Default: 1.0.
        ignore_index (int): Label to ignore; overridden by the
            ``ignore_index`` passed to :meth:`forward`. Default: 255.
        loss_name (str): Name of the loss item; it must start with
            ``loss_`` to be counted in the total. Default: 'loss_affinity'.
        implementation (str): How the field is computed: ``'fused'``, the
            compiled kernel of :mod:`mmseg_aaf.ops` (an error where it is
            not built for the logits' device); ``'torch'``, the reference
            written in torch; ``'auto'``, the fused kernel where it is
            built, else the reference. The log says once which one runs.
            Both give the same loss and gradients. Default: 'auto'.

    The attribute ``decay`` multiplies the loss; it is 1 unless
    ``AffinityLossDecayHook`` sets it during training.

    A pixel sampler's per-pixel ``weight`` (OHEM) is ignored: the loss
    always sees every pair of valid pixels (see :meth:`forward`).
    """

    def __init__(self,
                 num_classes: int,
                 kernel_sizes: Sequence[int] = (3, ),
                 margin: float = 3.0,
                 edge_loss_weight: float = 1.0,
                 nonedge_loss_weight: float = 1.0,
                 downsample: int = 8,
                 loss_weight: float = 1.0,
                 ignore_index: int = 255,
                 loss_name: str = 'loss_affinity',
                 implementation: str = 'auto'):
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                f'num_classes must be a positive int, got {num_classes!r}')
        if (not isinstance(downsample, int) or isinstance(downsample, bool)
                or downsample < 1):
            raise ValueError(
                f'downsample must be an int >= 1, got {downsample!r}')
        if margin < 0:
            raise ValueError(f'margin must be >= 0, got {margin}')
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f'implementation must be one of '
                             f'{IMPLEMENTATIONS}, got {implementation!r}')
        self.implementation = implementation
        self.num_classes = num_classes
        self.kernel_sizes = _check_kernel_sizes(kernel_sizes)
        self.margin = float(margin)
        self.edge_loss_weight = float(edge_loss_weight)
        self.nonedge_loss_weight = float(nonedge_loss_weight)
        self.downsample = downsample
        self.loss_weight = float(loss_weight)
        self.ignore_index = ignore_index
        self._loss_name = loss_name
        self.decay = 1.0

    @property
    def half_sizes(self) -> Tuple[int, ...]:
        return tuple((k - 1) // 2 for k in self.kernel_sizes)

    def size_weight_tables(self) -> Tuple[Optional[Tensor],
                                          Optional[Tensor]]:
        """Per-class weights of the edge and non-edge entries per size,
        ``(C, K)`` each: an entry counts with the row of its centre pixel's
        class. Fixed sizes weigh every entry by 1, which needs no tensor.
        """
        return None, None

    def _implementation_for(self, device_type: str) -> str:
        """What runs on ``device_type``; named in the log once per loss
        class, device and implementation."""
        chosen = resolve_implementation(self.implementation, device_type)
        key = (type(self).__name__, device_type, chosen)
        if key not in _LOGGED_IMPLEMENTATIONS:
            _LOGGED_IMPLEMENTATIONS.add(key)
            from mmengine.logging import print_log
            from mmseg_aaf.ops import unavailable_reason
            if chosen == 'fused':
                what = 'the fused kernel (mmseg_aaf.ops)'
            elif self.implementation == 'auto':
                what = ('the torch implementation: no fused kernel, '
                        f'{unavailable_reason(device_type)}')
            else:
                what = "the torch implementation (implementation='torch')"
            print_log(f'{type(self).__name__}: the affinity field on '
                      f'{device_type} runs {what}', logger='current')
        return chosen

    def affinity_terms(self,
                       cls_score: Tensor,
                       label: Tensor,
                       ignore_index: Optional[int] = None
                       ) -> AffinityFieldTerms:
        """Validated per-size sums and counts for ``cls_score``/``label``.

        Args:
            cls_score (Tensor): ``(N, C, H, W)`` logits of any float dtype;
                the softmax is taken in float32 (float64 stays float64).
            label (Tensor): ``(N, H, W)`` integer class ids.
            ignore_index (int, optional): Overrides ``self.ignore_index``.
        """
        ignore_index = (self.ignore_index
                        if ignore_index is None else ignore_index)
        self._check_inputs(cls_score, label, ignore_index)
        cls_score, label = sample_affinity_grid(cls_score, label,
                                                self.downsample)
        dtype = (torch.float64
                 if cls_score.dtype == torch.float64 else torch.float32)
        probs = F.softmax(cls_score.to(dtype), dim=1)
        label = label.long().masked_fill(label == ignore_index, -1)
        edge_weights, nonedge_weights = self.size_weight_tables()
        if edge_weights is not None:
            edge_weights = edge_weights.to(dtype)
            nonedge_weights = nonedge_weights.to(dtype)
        return affinity_field_terms(
            probs, label, self.half_sizes, self.margin, edge_weights,
            nonedge_weights,
            implementation=self._implementation_for(probs.device.type))

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: Optional[int] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            cls_score (Tensor): ``(N, C, H, W)`` logits: the loss takes their
                softmax over ``C``. A head whose scores are already a
                distribution ``p`` passes ``log p`` (softmax gives back
                ``p`` exactly), as the mask-classification heads do.
            label (Tensor): ``(N, H, W)`` class ids in ``[0, C)`` or the
                ignore index.
            weight (Tensor, optional): Ignored on purpose. mmseg passes the
                per-pixel weights of the head's pixel sampler (OHEM) to
                every loss; they choose pixels for the per-pixel losses and
                have no meaning for pixel pairs, so the affinity field keeps
                every pair of valid (non-ignored) pixels, exactly as without
                a sampler.
            ignore_index (int, optional): Label to ignore.
            reduction_override (str, optional): ``None`` (the loss) or
                ``'none'``: what ``OHEMPixelSampler`` asks for when it ranks
                pixels by their loss (``thresh=None``). A pairwise loss has
                no per-pixel value, so this returns a ``(N, H, W)`` map of
                zeros: the ranking, hence the sampled pixels, is that of
                the per-pixel losses alone.

        Returns:
            Tensor: scalar loss, float32 (float64 for float64 input).
        """
        unsupported = sorted(k for k, v in kwargs.items() if v is not None)
        if unsupported:
            raise TypeError(f'{type(self).__name__}.forward does not support '
                            f'the argument(s) {unsupported}')
        if reduction_override == 'none':
            self._check_inputs(
                cls_score, label,
                self.ignore_index if ignore_index is None else ignore_index)
            return cls_score.new_zeros(label.shape, dtype=torch.float64
                                       if cls_score.dtype == torch.float64
                                       else torch.float32)
        if reduction_override is not None:
            raise TypeError(
                f'{type(self).__name__}.forward: reduction_override must be '
                f"None or 'none' (a per-pixel map of zeros for pixel "
                f'samplers), got {reduction_override!r}')
        terms = self.affinity_terms(cls_score, label, ignore_index)
        per_size = (self.edge_loss_weight * terms.edge_mean() +
                    self.nonedge_loss_weight * terms.nonedge_mean())
        return self.loss_weight * self.decay * per_size.sum()

    def _check_inputs(self, cls_score: Tensor, label: Tensor,
                      ignore_index: int) -> None:
        name = type(self).__name__
        if cls_score.dim() != 4:
            raise ValueError(
                f'{name} is a pairwise loss: it needs dense class logits '
                f'(N, C, H, W) to pair each pixel with its neighbours, got '
                f'cls_score of shape {tuple(cls_score.shape)}. Heads that '
                'train on point-sampled logits (N, C, P), like PointHead, '
                'cannot carry it; put it on a head with dense logits (in '
                "PointRend, the FPNHead at decode_head.0).")
        if not cls_score.is_floating_point():
            raise ValueError(
                f'{name} expects cls_score as float logits (N, C, H, W), '
                f'got {cls_score.dtype}')
        if label.is_floating_point() or label.is_complex() or (
                label.dtype == torch.bool):
            raise TypeError(
                f'{name} expects integer class ids as label, got dtype '
                f'{label.dtype}')
        n, c, h, w = cls_score.shape
        if tuple(label.shape) != (n, h, w):
            raise ValueError(
                f'{name}: label shape {tuple(label.shape)} does not match '
                f'cls_score shape {tuple(cls_score.shape)}; expected '
                f'({n}, {h}, {w})')
        if c != self.num_classes:
            raise ValueError(
                f'{name} was built with num_classes={self.num_classes} but '
                f'cls_score has {c} channels')
        out_of_range = (label != ignore_index) & ((label < 0) | (label >= c))
        if bool(out_of_range.any()):
            bad = torch.unique(label[out_of_range])[:5].tolist()
            raise ValueError(
                f'{name}: label holds class id(s) {bad} outside [0, {c}) '
                f'that are not the ignore index {ignore_index}; check '
                'num_classes and the dataset\'s label conversion')

    @property
    def loss_name(self) -> str:
        """Name of the item in the loss dict; must start with ``loss_``."""
        return self._loss_name

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, '
                f'kernel_sizes={self.kernel_sizes}, margin={self.margin}, '
                f'downsample={self.downsample}, '
                f'loss_weight={self.loss_weight}, '
                f'implementation={self.implementation!r}')


@MODELS.register_module()
class AAFLoss(AffinityLoss):
    """Adaptive affinity fields: per-class, learned mixtures of field sizes.

    For every class there is a softmax over the kernel sizes, separately for
    edge and for non-edge entries. Each entry of size ``k`` is weighted by
    the weight of ``k`` in the row of its centre pixel's ground-truth class.
    The size logits are meant to *ascend* the loss while the network
    descends it (Eq. 6 of the paper): train with ``AdversarialOptimWrapper``.

    Args:
        num_classes (int): Number of classes ``C``.
        kernel_sizes (Sequence[int]): Candidate sizes. Default: (3, 5, 7).
        loss_name (str): Default: 'loss_aaf'.
        Others: see :class:`AffinityLoss`.

    Parameters:
        edge_size_logits (Tensor): ``(C, K)``, initialised to 0.
        nonedge_size_logits (Tensor): ``(C, K)``, initialised to 0.
    """

    def __init__(self,
                 num_classes: int,
                 kernel_sizes: Sequence[int] = (3, 5, 7),
                 margin: float = 3.0,
                 edge_loss_weight: float = 1.0,
                 nonedge_loss_weight: float = 1.0,
                 downsample: int = 8,
                 loss_weight: float = 1.0,
                 ignore_index: int = 255,
                 loss_name: str = 'loss_aaf',
                 implementation: str = 'auto'):
        super().__init__(
            num_classes,
            kernel_sizes=kernel_sizes,
            margin=margin,
            edge_loss_weight=edge_loss_weight,
            nonedge_loss_weight=nonedge_loss_weight,
            downsample=downsample,
            loss_weight=loss_weight,
            ignore_index=ignore_index,
            loss_name=loss_name,
            implementation=implementation)
        shape = (num_classes, len(self.kernel_sizes))
        self.edge_size_logits = mark_for_ascent(
            nn.Parameter(torch.zeros(shape)))
        self.nonedge_size_logits = mark_for_ascent(
            nn.Parameter(torch.zeros(shape)))

    def size_weights(self) -> Tuple[Tensor, Tensor]:
        """Softmax over sizes: edge and non-edge weights, ``(C, K)`` each."""
        return (self.edge_size_logits.softmax(dim=1),
                self.nonedge_size_logits.softmax(dim=1))

    def size_weight_tables(self) -> Tuple[Tensor, Tensor]:
        """The size weights of every class, ``(C, K)`` each."""
        return self.size_weights()

    def effective_kernel_sizes(self) -> Dict[str, Tensor]:
        """Per-class ``sum_k w_k * k`` (the paper's Fig. 4), ``(C,)`` each."""
        sizes = self.edge_size_logits.new_tensor(self.kernel_sizes)
        edge, nonedge = self.size_weights()
        return dict(edge=(edge @ sizes).detach(),
                    nonedge=(nonedge @ sizes).detach())
