# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""DDRNet and PIDNet heads that also apply appended losses.

mmseg's ``DDRHead`` and ``PIDHead`` call ``loss_decode[0]``,
``loss_decode[1]``, ... by position, each on its own branch (and PIDNet's
third on the boundary map): a loss appended to their list is built but
never called. These subclasses keep that behaviour exactly and apply every
loss after the positional ones to the head's *main* output, the logits it
predicts at inference (DDRNet's context branch, PIDNet's integral branch),
upsampled to the label size like the others.
"""
from typing import Tuple

import torch
import torch.nn as nn
from mmseg.models.decode_heads import DDRHead, PIDHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor


class _AppendedLossesMixin:
    """Apply ``loss_decode[num_positional:]`` to the main logits."""

    #: How many losses the parent head calls by position.
    num_positional = 0
    #: Index of the main (inference) logits in the training outputs.
    main_output = 0

    def appended_losses(self):
        if not isinstance(self.loss_decode, nn.ModuleList):
            return []
        return list(self.loss_decode)[self.num_positional:]

    def loss_by_feat(self, seg_logits: Tuple[Tensor],
                     batch_data_samples) -> dict:
        """The parent's losses plus the appended ones on the main logits."""
        losses = super().loss_by_feat(seg_logits, batch_data_samples)
        appended = self.appended_losses()
        if not appended:
            return losses
        label = self._semantic_label(batch_data_samples)
        logits = resize(
            seg_logits[self.main_output],
            size=label.shape[1:],
            mode='bilinear',
            align_corners=self.align_corners)
        for loss in appended:
            value = loss(logits, label, ignore_index=self.ignore_index)
            name = loss.loss_name
            losses[name] = losses[name] + value if name in losses else value
        return losses

    @staticmethod
    def _semantic_label(batch_data_samples) -> Tensor:
        """``(N, H, W)`` class ids of the batch."""
        return torch.stack(
            [sample.gt_sem_seg.data for sample in batch_data_samples],
            dim=0).squeeze(1)


@MODELS.register_module()
class AffinityDDRHead(_AppendedLossesMixin, DDRHead):
    """``DDRHead`` that applies ``loss_decode[2:]`` to the context logits.

    ``loss_decode[0]`` and ``[1]`` stay the context and spatial losses.
    """
    num_positional = 2
    main_output = 0


@MODELS.register_module()
class AffinityPIDHead(_AppendedLossesMixin, PIDHead):
    """``PIDHead`` that applies ``loss_decode[4:]`` to the integral logits.

    ``loss_decode[0:4]`` stay the P-branch, I-branch, boundary and
    boundary-aware losses.
    """
    num_positional = 4
    main_output = 1
