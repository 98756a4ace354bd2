# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""No silent no-op: switching AAF on gives AAF, a loud warning or an error.

Real upstream models (DDRNet, PSPNet), the real optimizer-wrapper builder
and real ``train_step`` calls on generated batches.
"""
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

import mmseg_aaf  # noqa: F401
from mmseg_aaf.engine.hooks import AffinityLossDecayHook
from mmseg_aaf.models.losses import AAFLoss
from mmseg_aaf.testing import upstream_config_path
from mmseg_aaf.testing.model_zoo import (build_cpu_model, captured_log,
                                         generated_batch)

DDRNET = 'ddrnet/ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes-1024x1024.py'
PSPNET = 'pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'
AAF = dict(type='AAFLoss', num_classes=19)
SGD = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4)


def _model(relative, size=64, edit=None):
    cfg = Config.fromfile(
        upstream_config_path(relative), import_custom_modules=False)
    return build_cpu_model(cfg, size, edit)


def _wrapper(model):
    return build_optim_wrapper(
        model, dict(type='AdversarialOptimWrapper', optimizer=SGD))


def _append_aaf(model_cfg):
    """What a user does by hand: append AAFLoss to the head's list."""
    losses = model_cfg.decode_head.loss_decode
    losses = list(losses) if isinstance(losses, (list, tuple)) else [losses]
    model_cfg.decode_head.loss_decode = losses + [AAF]


def test_ddrnet_with_appended_aaf_raises_at_the_first_step():
    """DDRHead calls its losses by position: the AAFLoss is never called."""
    model = _model(DDRNET, edit=_append_aaf)
    wrapper = _wrapper(model)
    before = model.decode_head.loss_decode[2].edge_size_logits.clone()
    with pytest.raises(RuntimeError) as info:
        model.train_step(generated_batch(19, 64), wrapper)
    message = str(info.value)
    assert 'decode_head.loss_decode.2' in message
    assert 'DDRHead' in message and 'never called' in message
    assert torch.equal(
        model.decode_head.loss_decode[2].edge_size_logits, before)


def test_affinity_ddr_head_calls_the_appended_loss():
    """The plugin's subclass applies it, to the context (main) logits."""

    def edit(model_cfg):
        _append_aaf(model_cfg)
        model_cfg.decode_head.type = 'AffinityDDRHead'

    model = _model(DDRNET, edit=edit)
    wrapper = _wrapper(model)
    aaf = model.decode_head.loss_decode[2]
    before = aaf.edge_size_logits.detach().clone()
    log_vars = model.train_step(generated_batch(19, 64), wrapper)
    assert torch.isfinite(log_vars['decode.loss_aaf'])
    assert {'decode.loss_context', 'decode.loss_spatial'} <= set(log_vars)
    assert not torch.equal(aaf.edge_size_logits, before)


def test_adversarial_wrapper_without_affinity_loss_warns():
    """A model without any affinity loss: WARNING that AAF is not active.

    This is what Mask2Former gives: its head drops ``loss_decode``, so an
    AAFLoss put there is never built and the model has none.
    """
    model = _model(PSPNET)
    wrapper = _wrapper(model)
    with captured_log() as warnings:
        model.train_step(generated_batch(19, 64), wrapper)
    assert any('AAF is NOT active' in w for w in warnings), warnings


def test_adversarial_wrapper_with_aaf_does_not_warn():
    model = _model(PSPNET, edit=_append_aaf)
    wrapper = _wrapper(model)
    with captured_log() as warnings:
        log_vars = model.train_step(generated_batch(19, 64), wrapper)
    assert not any('NOT active' in w for w in warnings), warnings
    assert torch.isfinite(log_vars['decode.loss_aaf'])


def test_decay_hook_without_affinity_loss_warns():
    runner = SimpleNamespace(model=nn.Sequential(nn.Conv2d(3, 4, 1)))
    with captured_log() as warnings:
        AffinityLossDecayHook().before_train(runner)
    assert any('AAF is NOT active' in w for w in warnings), warnings
    runner.model.add_module('aaf', AAFLoss(4))
    with captured_log() as warnings:
        AffinityLossDecayHook().before_train(runner)
    assert not warnings


@pytest.mark.parametrize('shape', [(2, 19, 64), (2, 19, 8, 8, 2), (19, 64,
                                                                    64)])
def test_non_dense_logits_are_refused_with_the_reason(shape):
    loss = AAFLoss(19, downsample=1)
    label = torch.zeros(2, 64, dtype=torch.long)
    with pytest.raises(ValueError) as info:
        loss(torch.randn(*shape), label)
    message = str(info.value)
    assert 'dense class logits (N, C, H, W)' in message
    assert 'PointHead' in message


class _RecordingLoss(nn.Module):
    """Records the logits it is called on; adds nothing to the loss."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, logits, label, ignore_index=255, **kwargs):
        self.seen.append(logits)
        return 0 * logits.sum()

    @property
    def loss_name(self):
        return 'loss_recorded_issue22'


def test_affinity_pid_head_applies_appended_losses_to_the_integral_logits():
    """Not to the P-branch (nor D-branch): the I-branch is what PIDNet
    predicts at inference."""
    from mmengine.structures import PixelData
    from mmseg.models.utils import resize
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample

    MODELS.register_module(
        name='RecordingLossIssue22', module=_RecordingLoss, force=True)
    head = MODELS.build(
        dict(
            type='AffinityPIDHead',
            in_channels=8,
            channels=4,
            num_classes=3,
            loss_decode=[
                dict(type='CrossEntropyLoss', loss_weight=0.4),
                dict(type='OhemCrossEntropy', thres=0.9, min_kept=16),
                dict(type='BoundaryLoss', loss_weight=20.0),
                dict(type='OhemCrossEntropy', thres=0.9, min_kept=16),
                dict(type='RecordingLossIssue22'),
            ]))
    recorder = head.loss_decode[4]
    torch.manual_seed(0)
    p_logit = torch.randn(2, 3, 4, 4)
    i_logit = torch.randn(2, 3, 4, 4)
    d_logit = torch.randn(2, 1, 4, 4)
    samples = []
    for _ in range(2):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 3, (1, 8, 8), dtype=torch.long))
        sample.gt_edge_map = PixelData(
            data=torch.randint(0, 2, (1, 8, 8), dtype=torch.long))
        samples.append(sample)
    losses = head.loss_by_feat((p_logit, i_logit, d_logit), samples)
    assert 'loss_recorded_issue22' in losses
    [seen] = recorder.seen

    def upsampled(logits):
        return resize(
            logits, size=(8, 8), mode='bilinear',
            align_corners=head.align_corners)

    assert seen.shape == (2, 3, 8, 8)
    assert torch.equal(seen, upsampled(i_logit))
    assert not torch.equal(seen, upsampled(p_logit))
