# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The losses at the edges of their settings, against the naive
transcription: float64 input, ``margin=0``, the label id ``num_classes``."""
import pytest
import torch

from mmseg_aaf.models.losses import AAFLoss, AffinityLoss
from mmseg_aaf.testing.naive_affinity import naive_affinity_means

LOSSES = [AffinityLoss, AAFLoss]


def _inputs(dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 4, 16, 16, generator=gen).to(dtype)
    labels = torch.randint(0, 4, (2, 4, 4), generator=gen)
    return logits, labels.repeat_interleave(4, 1).repeat_interleave(4, 2)


def _naive_loss(loss, logits, labels):
    """The loss by the naive transcription, in the dtype of ``logits``."""
    probs = torch.softmax(logits, dim=1)
    weights = (None, None)
    if isinstance(loss, AAFLoss):
        weights = tuple(w.detach().to(logits.dtype)
                        for w in loss.size_weights())
    means = naive_affinity_means(probs, labels, loss.half_sizes, loss.margin,
                                 *weights)
    return loss.loss_weight * sum(
        loss.edge_loss_weight * edge + loss.nonedge_loss_weight * nonedge
        for edge, nonedge, _, _ in means)


@pytest.mark.parametrize('loss_cls', LOSSES)
def test_float64_input_is_computed_in_float64(loss_cls):
    logits, labels = _inputs()
    loss = loss_cls(4, downsample=1)
    value = loss(logits, labels)
    assert value.dtype == torch.float64
    # float32 arithmetic would be off by about 1e-7 relative.
    torch.testing.assert_close(
        value, _naive_loss(loss, logits, labels), rtol=1e-12, atol=0)


@pytest.mark.parametrize('loss_cls', LOSSES)
def test_margin_zero_leaves_only_the_nonedge_term(loss_cls):
    logits, labels = _inputs()
    loss = loss_cls(4, margin=0, downsample=1)
    terms = loss.affinity_terms(logits, labels)
    assert terms.edge_count.all()  # there are edges, and they cost 0
    value = loss(logits, labels)
    assert value > 0
    torch.testing.assert_close(value, _naive_loss(loss, logits, labels))
    for edge_weight in (0.0, 7.0):
        weighted = loss_cls(4, margin=0, downsample=1,
                            edge_loss_weight=edge_weight)
        torch.testing.assert_close(weighted(logits, labels), value)


@pytest.mark.parametrize('loss_cls', LOSSES)
def test_label_equal_to_num_classes_is_refused(loss_cls):
    # The first id past the classes, the one an off-by-one lets through
    # (the loss would then read it as an edge against every class).
    logits, labels = _inputs()
    labels[1, 5, 5] = 4
    with pytest.raises(ValueError, match=r'class id\(s\) \[4\]'):
        loss_cls(4, downsample=1)(logits, labels)
    labels[1, 5, 5] = 3
    loss_cls(4, downsample=1)(logits, labels)
