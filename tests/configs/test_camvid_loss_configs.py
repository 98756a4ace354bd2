# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""What mmseg's LovaszLoss and DiceLoss compute on CamVid's void pixels,
as configs/camvid/_base_/{lovasz,dice}_loss.py configure them (taken from
the PSPNet configs that use them; the DeepLabV3+ ones hold the same dicts,
tests/configs/test_camvid_configs.py), called the way mmseg's decode head
calls every loss_decode entry."""
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

import mmseg_aaf  # noqa: F401
from tests.conftest import REPO_ROOT

IGNORE = 255
NUM_CLASSES = 11


def configured_loss(method):
    cfg = Config.fromfile(
        str(REPO_ROOT / 'configs' / 'camvid' /
            f'pspnet_r18_{method}_camvid-cpu.py'))
    return MODELS.build(cfg.model.decode_head.loss_decode[1])


def logits_and_labels(seed=0, shape=(2, 12, 16)):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn((shape[0], NUM_CLASSES) + shape[1:],
                         generator=generator)  # float32, as training
    labels = torch.randint(0, NUM_CLASSES, shape, generator=generator)
    labels[:, :3] = IGNORE  # a void band, as along CamVid's contours
    labels[0, 5:7, 4:9] = IGNORE
    return logits, labels


def call(loss, logits, labels):
    # mmseg's BaseDecodeHead.loss_by_feat: weight=None without a pixel
    # sampler, ignore_index of the head.
    return loss(logits, labels, weight=None, ignore_index=IGNORE)


def with_other_void_logits(logits, labels):
    changed = logits.clone()
    void = (labels == IGNORE).unsqueeze(1).expand_as(logits)
    changed[void] = torch.randn(int(void.sum()), dtype=logits.dtype) * 5
    return changed


def lovasz_softmax_transcription(probs, labels):
    """Berman et al.'s Lovász-softmax over the valid pixels of the batch,
    averaged over the classes present in the labels."""
    valid = labels != IGNORE
    probs = probs.permute(0, 2, 3, 1)[valid]  # (P, C)
    labels = labels[valid]
    losses = []
    for cls in labels.unique():
        fg = (labels == cls).to(probs.dtype)
        errors = (fg - probs[:, cls]).abs()
        order = torch.argsort(errors, descending=True)
        errors, fg = errors[order], fg[order]
        intersection = fg.sum() - fg.cumsum(0)
        union = fg.sum() + (1 - fg).cumsum(0)
        jaccard = 1 - intersection / union
        jaccard[1:] = jaccard[1:] - jaccard[:-1]
        losses.append((errors * jaccard).sum())
    return torch.stack(losses).mean()


def test_lovasz_removes_void_pixels():
    loss = configured_loss('lovasz')
    logits, labels = logits_and_labels()
    value = call(loss, logits, labels)
    assert value.ndim == 0
    assert torch.allclose(value,
                          lovasz_softmax_transcription(
                              logits.softmax(1), labels), atol=1e-5)
    # Whatever the network predicts on void, the loss does not change.
    assert torch.allclose(
        call(loss, with_other_void_logits(logits, labels), labels), value,
        atol=1e-6)


def dice_transcription(probs, labels):
    """1 - 2 sum(p t) / (sum p^2 + sum t^2) per image over all classes
    and pixels, with an all-zero target at void; mean over the batch."""
    target = torch.zeros_like(probs)
    valid = labels != IGNORE
    target.permute(0, 2, 3, 1)[valid] = torch.nn.functional.one_hot(
        labels[valid], NUM_CLASSES).to(probs.dtype)
    eps = 1e-3
    a = (probs * target).flatten(1).sum(1)
    b = (probs * probs).flatten(1).sum(1) + eps
    c = (target * target).flatten(1).sum(1) + eps
    return (1 - 2 * a / (b + c)).mean()


def test_dice_is_one_score_over_all_classes_and_keeps_void_pixels():
    loss = configured_loss('dice')
    logits, labels = logits_and_labels()
    value = call(loss, logits, labels)
    # Softmax over the classes (use_sigmoid=False), void in the
    # denominator: the transcription of what the config's comment says.
    assert torch.allclose(value, dice_transcription(logits.softmax(1),
                                                    labels), atol=1e-5)
    # A sigmoid (mmseg's default) would give another value.
    assert not torch.allclose(
        value, dice_transcription(logits.sigmoid(), labels), atol=1e-3)
    # Void pixels are not removed: other predictions there change the loss.
    changed = call(loss, with_other_void_logits(logits, labels), labels)
    assert not torch.allclose(changed, value, atol=1e-4)


@pytest.mark.parametrize('method', ['lovasz', 'dice'])
def test_gradients_reach_the_logits(method):
    loss = configured_loss(method)
    logits, labels = logits_and_labels(seed=1)
    logits.requires_grad_(True)
    call(loss, logits, labels).backward()
    grad = logits.grad.abs().sum(1)
    assert torch.isfinite(logits.grad).all()
    assert grad[labels != IGNORE].sum() > 0
    void_grad = grad[labels == IGNORE].sum()
    # Lovász gives void pixels no gradient; Dice does.
    assert (void_grad == 0) if method == 'lovasz' else (void_grad > 0)
