# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""AAF twins of configs whose carrying head has an OHEM pixel sampler.

The sampler keeps choosing the pixels of the per-pixel losses exactly as
before; the pairwise loss ignores its weights and sees every valid pair.
Both kinds of OHEM in the zoo: by loss ranking (``thresh=None``, DeepLabV3
``-mg124``, where the sampler also asks every loss for a per-pixel map) and
by probability threshold (``thresh=0.7``, STDC).
"""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmseg_aaf  # noqa: F401
from mmseg_aaf.apis.aaf_config import make_twin

CONFIGS = {
    'ranking': 'mmseg::deeplabv3/'
    'deeplabv3_r101-d16-mg124_4xb2-40k_cityscapes-512x1024.py',
    'threshold': 'mmseg::stdc/stdc1_4xb12-80k_cityscapes-512x1024.py',
}
SIZE = 64


def _twin(kind, tmp_path):
    out = tmp_path / 'twin.py'
    twin = make_twin(CONFIGS[kind], str(out))
    out.write_text(twin.text)
    return twin, Config.fromfile(str(out))


def _head(head_cfg, losses=None, sampler='keep', min_kept=200):
    """The decode head alone (BN, random init, seed 0)."""
    cfg = copy.deepcopy(head_cfg)
    cfg.norm_cfg = dict(type='BN', requires_grad=True)
    if losses is not None:
        cfg.loss_decode = losses
    if sampler is None:
        cfg.sampler = None
    else:
        # Fewer kept pixels than the batch has and, for the threshold kind,
        # a threshold random-init probabilities (about 1/19) straddle: the
        # sampler drops some valid pixels.
        cfg.sampler.min_kept = min_kept
        if cfg.sampler.get('thresh') is not None:
            cfg.sampler.thresh = 1 / 19
    torch.manual_seed(0)
    head = MODELS.build(cfg)
    head.train()
    return head


def _batch(head, seed=0):
    gen = torch.Generator().manual_seed(seed)
    channels = head.in_channels
    channels = channels if isinstance(channels, (list, tuple)) else [channels]
    index = head.in_index if isinstance(head.in_index, int) else None
    # Features at 1/8 of the input; the head picks its input by in_index.
    feats = [torch.randn(2, 8, SIZE // 8, SIZE // 8, generator=gen)] * 8
    if index is not None:
        feats = list(feats)
        feats[index] = torch.randn(
            2, channels[0], SIZE // 8, SIZE // 8, generator=gen)
    blocks = torch.randint(0, 19, (2, SIZE // 8, SIZE // 8), generator=gen)
    labels = blocks.repeat_interleave(8, 1).repeat_interleave(8, 2)
    labels[torch.rand(labels.shape, generator=gen) < 0.05] = 255
    samples = []
    for label in labels:
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label[None])
        samples.append(sample)
    return feats, samples, labels


@pytest.mark.parametrize('kind', sorted(CONFIGS))
def test_the_twin_keeps_the_sampler_and_says_so(kind, tmp_path):
    twin, cfg = _twin(kind, tmp_path)
    head = cfg.model.decode_head
    assert head.sampler.type == 'OHEMPixelSampler'
    assert head.loss_decode[-1].type == 'AAFLoss'
    header = ' '.join(
        line.lstrip('#').strip() for line in twin.text.splitlines()
        if line.startswith('#'))
    assert ('pixel sampler (OHEMPixelSampler) still chooses the pixels of '
            'the per-pixel losses as before') in header
    assert "ignores the sampler's weights and keeps every valid pixel " \
        'pair' in header


@pytest.mark.parametrize('kind', sorted(CONFIGS))
def test_ce_is_unchanged_and_aaf_sees_all_pairs(kind, tmp_path):
    _, cfg = _twin(kind, tmp_path)
    head_cfg = cfg.model.decode_head
    twin_head = _head(head_cfg)
    ce_only = list(head_cfg.loss_decode)[:-1]
    plain_head = _head(head_cfg, losses=ce_only)
    no_sampler = _head(head_cfg, losses=ce_only, sampler=None)
    plain_head.load_state_dict(twin_head.state_dict(), strict=False)
    no_sampler.load_state_dict(twin_head.state_dict(), strict=False)
    feats, samples, labels = _batch(twin_head)

    aaf = twin_head.loss_decode[-1]
    seen = []
    aaf.register_forward_pre_hook(
        lambda _m, args, kwargs: seen.append(kwargs), with_kwargs=True)

    def forward(head):  # the same dropout masks for every head
        torch.manual_seed(1)
        return head.forward(feats)

    logits = forward(twin_head)
    losses = twin_head.loss_by_feat(logits, samples)
    with torch.no_grad():
        plain = plain_head.loss_by_feat(forward(plain_head), samples)
        unsampled = no_sampler.loss_by_feat(forward(no_sampler), samples)
    # CE: bit for bit what the head gives without AAF, and the sampler
    # still drives it (without the sampler it is another value).
    ce_keys = [k for k in plain if k.startswith('loss_')]
    assert ce_keys
    for key in ce_keys:
        assert torch.equal(losses[key].detach(), plain[key]), key
    assert any(not torch.equal(plain[k], unsampled[k]) for k in ce_keys)

    # AAF got the sampler's weights (zeros for dropped pixels) and ignored
    # them: its value is the one computed without any weight.
    weights = [kw['weight'] for kw in seen
               if kw.get('reduction_override') is None]
    assert len(weights) == 1 and weights[0] is not None
    assert bool((weights[0] == 0).any()) and bool((weights[0] == 1).any())
    calls = [kw.get('reduction_override') for kw in seen]
    full = resize(logits, size=labels.shape[1:], mode='bilinear',
                  align_corners=twin_head.align_corners)
    with torch.no_grad():
        unweighted = aaf(full, labels, ignore_index=255)
    assert torch.equal(losses['loss_aaf'].detach(), unweighted)
    assert losses['loss_aaf'] > 0 and losses['loss_aaf'].requires_grad
    if kind == 'ranking':
        # The sampler ranked pixels with the per-pixel map, all zeros.
        assert calls == ['none', None]
    else:
        assert calls == [None]
