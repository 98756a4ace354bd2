# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Test-only head: a registered FCNHead that computes its own losses.

Its ``loss_by_feat`` calls only ``loss_decode[0]``, as some custom heads
do, so a loss appended to its list would be built and never called;
``tools/aaf_config.py`` must refuse it.
"""
from mmseg.models.decode_heads import FCNHead
from mmseg.registry import MODELS


@MODELS.register_module()
class CustomLossFCNHead(FCNHead):

    def loss_by_feat(self, seg_logits, batch_data_samples) -> dict:
        losses = super().loss_by_feat(seg_logits, batch_data_samples)
        first = self.loss_decode[0] if hasattr(
            self.loss_decode, '__getitem__') else self.loss_decode
        return {first.loss_name: losses[first.loss_name]}
