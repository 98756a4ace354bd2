# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Mask2Former and MaskFormer heads that also train an affinity field.

mmseg's ``Mask2FormerHead`` and ``MaskFormerHead`` (over mmdet 3.x) train
by mask classification: per decoder layer, class logits ``(B, Q, C+1)``
and mask logits ``(B, Q, h, w)`` on the stride-4 mask grid, matched to the
ground-truth class masks by the Hungarian assigner. There are no per-pixel
class logits to hand a pairwise loss, and the mmdet head swallows unknown
constructor keys, so a ``loss_decode`` appended to it is silently dropped.

These subclasses take the pairwise loss explicitly,
``loss_affinity=dict(type='AAFLoss', num_classes=C, downsample=2, ...)``,
and in :meth:`loss` add it to the parent's (unchanged) losses. It is
computed on the per-pixel class distribution that inference uses:

    S_c(x) = sum_q softmax(cls_q)[c] * sigmoid(mask_q(x))   (c < C)
    p_c(x) = S_c(x) / sum_c' S_c'(x)

at the mask resolution, against the labels sampled (nearest, at the centre
of each mask cell) onto that grid; ignored pixels stay ignored. The loss
takes logits and applies a softmax, so it is given ``log p``, whose softmax
is ``p`` exactly. ``downsample`` counts mask cells here: 2 on the stride-4
grid is the stride-8 grid of the paper and of the other twins. By default
only the last decoder layer (the one inference reads) carries the loss;
``affinity_all_layers=True`` adds it for every layer's prediction, named
``d{i}.<loss_name>`` like mmdet's deep supervision.

Why this distribution, and why normalised:

* The affinity field compares the class distributions of neighbouring
  pixels (KL divergence on edges, a hinge on non-edges); it needs one
  distribution over the ``C`` classes per pixel. ``S`` is what the
  segmentor takes the argmax of, so supervising it shapes exactly the
  segmentation that is evaluated.
* ``S`` does not sum to one (overlapping masks add up, the no-object class
  takes its share). Normalising keeps the argmax (a positive per-pixel
  scale), gives a true distribution for the KL terms and keeps every class
  ratio. Clipping ``S`` to [0, 1] and renormalising would do nothing
  useful where it is below 1 and would kill the gradients wherever the
  clip is active; clipping without renormalising is not a distribution, so
  the KL terms would be meaningless.
* A per-query loss on the sigmoid masks (pairs inside each matched mask)
  would need the Hungarian matching, see only binary mask boundaries of
  single instances and not the class confusion between neighbours that
  AAF is about; and unmatched queries, which still contribute to ``S`` at
  inference, would be left out. On ``p`` the gradients reach both the class
  and the mask embeddings of every query.

The scores are computed in float32 (float64 stays float64), with the
einsum so that no ``(B, Q, C, h, w)`` tensor is formed; a score below the
smallest normal float is clamped to it before the log, so a pixel where
every mask underflows gets a uniform distribution instead of NaN.
"""
import inspect
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.models.decode_heads import mask2former_head, maskformer_head
from mmseg.models.decode_heads import Mask2FormerHead, MaskFormerHead
from mmseg.registry import MODELS
from torch import Tensor

#: Keys mmseg's own zoo configs pass that the mmdet heads ignore
#: (``strides`` in Mask2Former's, ``in_index`` in MaskFormer's); accepted
#: so the zoo builds, and ignored as upstream does.
UPSTREAM_IGNORED_KEYS = ('strides', 'in_index')


def mask_class_distribution(cls_score: Tensor, mask_pred: Tensor) -> Tensor:
    """``log p``: the normalised per-pixel class distribution of inference.

    Args:
        cls_score (Tensor): ``(B, Q, C + 1)`` class logits (the last is the
            no-object class).
        mask_pred (Tensor): ``(B, Q, h, w)`` mask logits.

    Returns:
        Tensor: ``(B, C, h, w)`` log-probabilities, float32 (float64 for
        float64 input); ``exp`` of it sums to one over ``C`` and its argmax
        is that of ``einsum(softmax(cls)[..., :-1], sigmoid(mask))``.
    """
    dtype = (torch.float64
             if cls_score.dtype == torch.float64 else torch.float32)
    probs = F.softmax(cls_score.to(dtype), dim=-1)[..., :-1]
    masks = mask_pred.to(dtype).sigmoid()
    scores = torch.einsum('bqc,bqhw->bchw', probs, masks)
    log_scores = scores.clamp_min(torch.finfo(dtype).tiny).log()
    return log_scores - log_scores.logsumexp(dim=1, keepdim=True)


def labels_on_grid(label: Tensor, size: Sequence[int]) -> Tensor:
    """``(N, H, W)`` labels read at the centre of each cell of an
    ``(h, w)`` grid over the same image (nearest, never averaged)."""
    height, width = label.shape[-2:]
    rows = ((torch.arange(size[0], device=label.device) + 0.5) * height /
            size[0]).floor().long().clamp_(max=height - 1)
    cols = ((torch.arange(size[1], device=label.device) + 0.5) * width /
            size[1]).floor().long().clamp_(max=width - 1)
    return label[..., rows[:, None], cols[None, :]]


def _named_args(func) -> set:
    return {
        name
        for name, param in inspect.signature(func).parameters.items()
        if param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL)
        and name != 'self'
    }


class _AffinityMaskClassificationMixin:
    """``loss_affinity`` on the normalised class distribution."""

    #: The mmseg head this subclasses, and the mmdet head under it.
    _mmseg_head = None
    _mmdet_module = None
    _mmdet_attr = ''

    def __init__(self,
                 *args,
                 loss_affinity: Optional[dict] = None,
                 affinity_all_layers: bool = False,
                 **kwargs):
        name = type(self).__name__
        mmdet_head = getattr(self._mmdet_module, self._mmdet_attr)
        if mmdet_head is BaseModule:  # mmseg's fallback without mmdet
            raise ImportError(
                f'{name} needs mmdet, which is not installed: '
                f'{self._mmseg_head.__name__} is built on mmdet\'s '
                f'{self._mmdet_attr}. Install it with '
                "pip install 'mmdet==3.3.0' (and pycocotools, shapely, "
                'terminaltables, which mmdet.models imports)')
        known = (_named_args(self._mmseg_head.__init__)
                 | _named_args(mmdet_head.__init__)
                 | set(UPSTREAM_IGNORED_KEYS))
        unknown = sorted(set(kwargs) - known)
        if unknown:
            hint = (' The pairwise loss goes in loss_affinity=dict(type='
                    "'AAFLoss', ...), not loss_decode." if 'loss_decode'
                    in unknown else '')
            raise TypeError(
                f'{name} got unknown argument(s) {unknown}: '
                f'{self._mmseg_head.__name__} would silently ignore them.'
                + hint)
        if loss_affinity is None:
            raise TypeError(
                f"{name} needs loss_affinity=dict(type='AAFLoss', "
                f'num_classes=..., ...); without a pairwise loss use '
                f'{self._mmseg_head.__name__}')
        super().__init__(*args, **kwargs)
        self.loss_affinity = MODELS.build(loss_affinity)
        if getattr(self.loss_affinity, 'num_classes',
                   self.num_classes) != self.num_classes:
            raise ValueError(
                f'{name}: loss_affinity has num_classes='
                f'{self.loss_affinity.num_classes}, the head '
                f'{self.num_classes}')
        self.affinity_all_layers = bool(affinity_all_layers)

    def loss(self, x: Tuple[Tensor], batch_data_samples,
             train_cfg) -> Dict[str, Tensor]:
        """The parent's losses plus ``loss_affinity``.

        The same steps as the parent's ``loss`` (which cannot hand out the
        decoder's predictions), then :meth:`affinity_losses` on them.
        """
        batch_gt_instances, batch_img_metas = self._seg_data_to_instance_data(
            batch_data_samples)
        all_cls_scores, all_mask_preds = self(x, batch_data_samples)
        losses = self.loss_by_feat(all_cls_scores, all_mask_preds,
                                   batch_gt_instances, batch_img_metas)
        losses.update(
            self.affinity_losses(all_cls_scores, all_mask_preds,
                                 batch_data_samples))
        return losses

    def affinity_losses(self, all_cls_scores, all_mask_preds,
                        batch_data_samples) -> Dict[str, Tensor]:
        """``{loss_name: last layer}`` and, with ``affinity_all_layers``,
        ``{'d{i}.' + loss_name: layer i}`` for the earlier layers.

        Args:
            all_cls_scores: per decoder layer ``(B, Q, C + 1)`` (a list, or
                a stacked ``(L, B, Q, C + 1)`` tensor for MaskFormer).
            all_mask_preds: per decoder layer ``(B, Q, h, w)``.
            batch_data_samples: with ``gt_sem_seg``.
        """
        layers = list(range(len(all_cls_scores)))
        if not self.affinity_all_layers:
            layers = layers[-1:]
        label = torch.stack(
            [sample.gt_sem_seg.data for sample in batch_data_samples],
            dim=0).squeeze(1)
        grid_label = labels_on_grid(label, all_mask_preds[-1].shape[-2:])
        name = self.loss_affinity.loss_name
        last = len(all_cls_scores) - 1
        losses = {}
        for i in layers:
            log_probs = mask_class_distribution(all_cls_scores[i],
                                                all_mask_preds[i])
            key = name if i == last else f'd{i}.{name}'
            losses[key] = self.loss_affinity(
                log_probs, grid_label, ignore_index=self.ignore_index)
        return losses

    def decoder_outputs(self, x: Tuple[Tensor], batch_data_samples):
        """The decoder's per-layer ``(cls_scores, mask_preds)``.

        Sets ``batch_input_shape`` to ``img_shape`` where a sample lacks it,
        as MaskFormer's own ``loss`` and ``predict`` do before its forward.
        """
        for sample in batch_data_samples:
            if 'batch_input_shape' not in sample.metainfo:
                sample.set_metainfo(
                    dict(batch_input_shape=sample.metainfo['img_shape']))
        return self(x, batch_data_samples)

    def class_distribution(self, x: Tuple[Tensor],
                           batch_data_samples) -> List[Tensor]:
        """``log p`` of every decoder layer (for inspection and tests)."""
        all_cls_scores, all_mask_preds = self.decoder_outputs(
            x, batch_data_samples)
        return [
            mask_class_distribution(c, m)
            for c, m in zip(all_cls_scores, all_mask_preds)
        ]


@MODELS.register_module()
class AffinityMask2FormerHead(_AffinityMaskClassificationMixin,
                              Mask2FormerHead):
    """``Mask2FormerHead`` with ``loss_affinity`` on the class distribution.

    Args:
        loss_affinity (dict): The pairwise loss, e.g.
            ``dict(type='AAFLoss', num_classes=150, downsample=2)``;
            ``downsample`` counts cells of the stride-4 mask grid.
        affinity_all_layers (bool): Also apply it to every earlier decoder
            layer's prediction (``d{i}.loss_aaf``). Default: False.
        Others: those of ``Mask2FormerHead``; unknown keys raise TypeError
            (the parent would drop them silently).
    """
    _mmseg_head = Mask2FormerHead
    _mmdet_module = mask2former_head
    _mmdet_attr = 'MMDET_Mask2FormerHead'


@MODELS.register_module()
class AffinityMaskFormerHead(_AffinityMaskClassificationMixin,
                             MaskFormerHead):
    """``MaskFormerHead`` with ``loss_affinity`` on the class distribution.

    Args: as :class:`AffinityMask2FormerHead`, over ``MaskFormerHead``.
    """
    _mmseg_head = MaskFormerHead
    _mmdet_module = maskformer_head
    _mmdet_attr = 'MMDET_MaskFormerHead'
