# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The loss modules: edge cases, bad input, resampling, mmseg integration.

Tests that take ``device`` run on the CPU and, where present, on CUDA.
"""
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

from mmseg_aaf.models.losses import (AAFLoss, AffinityLoss,
                                     sample_affinity_grid)
from mmseg_aaf.testing import upstream_config_path

register_all_modules()


def _inputs(n=2, c=4, h=16, w=16, seed=0, dtype=torch.float32,
            device='cpu'):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, h, w, generator=gen).to(device, dtype)
    labels = torch.randint(0, c, (n, h // 4, w // 4), generator=gen)
    labels = labels.repeat_interleave(4, 1).repeat_interleave(4, 2)
    return logits, labels.to(device)


def _loss_and_grads(loss, logits, labels):
    logits = logits.clone().requires_grad_()
    value = loss(logits, labels)
    value.backward()
    return value, logits.grad


@pytest.mark.parametrize('loss_cls', [AffinityLoss, AAFLoss])
class TestEdgeCases:

    def test_all_ignore_is_zero_and_finite(self, loss_cls, device):
        logits, labels = _inputs(device=device)
        labels[:] = 255
        loss = loss_cls(4, downsample=1).to(device)
        value, grad = _loss_and_grads(loss, logits, labels)
        assert value.item() == 0
        assert torch.isfinite(grad).all() and not grad.any()

    def test_single_class_has_no_edges(self, loss_cls, device):
        logits, labels = _inputs(device=device)
        labels[:] = 2
        loss = loss_cls(4, downsample=1).to(device)
        terms = loss.affinity_terms(logits, labels)
        assert not terms.edge_count.any()
        assert (terms.nonedge_count > 0).all()
        value, grad = _loss_and_grads(loss, logits, labels)
        assert torch.isfinite(value) and value > 0
        assert torch.isfinite(grad).all()

    def test_saturated_logits_stay_finite(self, loss_cls, device):
        logits, labels = _inputs(device=device)
        logits = logits.sign() * 1e4
        loss = loss_cls(4, downsample=1).to(device)
        value, grad = _loss_and_grads(loss, logits, labels)
        assert torch.isfinite(value) and torch.isfinite(grad).all()
        if loss_cls is AAFLoss:
            assert torch.isfinite(loss.edge_size_logits.grad).all()

    @pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
    def test_half_input_is_computed_in_float32(self, loss_cls, device,
                                               dtype):
        # What autocast hands the loss: half logits. Softmax and the field
        # run in float32, the gradient comes back in the input's dtype and
        # equals the float32 gradient rounded to it.
        logits, labels = _inputs(device=device)
        half = logits.to(dtype)
        loss = loss_cls(4, downsample=1).to(device)
        value, grad = _loss_and_grads(loss, half, labels)
        reference, ref_grad = _loss_and_grads(loss, half.float(), labels)
        assert value.dtype == torch.float32 and grad.dtype == dtype
        assert torch.isfinite(grad.float()).all() and grad.any()
        torch.testing.assert_close(value, reference)
        torch.testing.assert_close(grad, ref_grad.to(dtype))


@pytest.mark.parametrize('loss_cls', [AffinityLoss, AAFLoss])
def test_ignore_index_argument_overrides_the_default(loss_cls, device):
    # mmseg's decode head passes its own ignore_index to every loss; pixels
    # of that label must drop out exactly as the default ignore label does.
    logits, labels = _inputs(seed=5, device=device)
    assert (labels == 3).any()
    loss = loss_cls(4, downsample=1).to(device)
    relabelled = labels.masked_fill(labels == 3, 255)
    want = loss(logits, relabelled)
    assert not torch.allclose(want, loss(logits, labels))
    torch.testing.assert_close(loss(logits, labels, ignore_index=3), want)
    torch.testing.assert_close(
        loss_cls(4, downsample=1, ignore_index=3).to(device)(logits, labels),
        want)


def test_fixed_sizes_equal_uniform_aaf_times_sizes():
    # With zero size logits every weight is 1/K, so AAF is 1/K of the
    # fixed-size loss over the same sizes.
    logits, labels = _inputs(seed=1)
    fixed = AffinityLoss(4, kernel_sizes=(3, 5, 7), downsample=1)
    adaptive = AAFLoss(4, kernel_sizes=(3, 5, 7), downsample=1)
    torch.testing.assert_close(adaptive(logits, labels) * 3,
                               fixed(logits, labels))


def test_weights_scale_the_loss():
    logits, labels = _inputs(seed=2)
    base = AffinityLoss(4, downsample=1)(logits, labels)
    weighted = AffinityLoss(4, downsample=1, loss_weight=0.5)
    weighted.decay = 0.1
    torch.testing.assert_close(weighted(logits, labels), base * 0.05)
    only_edges = AffinityLoss(4, downsample=1, nonedge_loss_weight=0.)
    terms = only_edges.affinity_terms(logits, labels)
    torch.testing.assert_close(
        only_edges(logits, labels), terms.edge_mean().sum())


def test_effective_kernel_sizes():
    loss = AAFLoss(3, kernel_sizes=(3, 5, 7))
    sizes = loss.effective_kernel_sizes()
    torch.testing.assert_close(sizes['edge'], torch.full((3, ), 5.))
    with torch.no_grad():
        loss.nonedge_size_logits[1] = torch.tensor([0., 0., 50.])
        loss.edge_size_logits[1] = torch.tensor([50., 0., 0.])
    sizes = loss.effective_kernel_sizes()
    # Each key follows its own logits: edge row 1 favours 3, non-edge 7.
    assert sizes['nonedge'][1].item() == pytest.approx(7., abs=1e-6)
    assert sizes['edge'][1].item() == pytest.approx(3., abs=1e-6)
    torch.testing.assert_close(sizes['edge'][[0, 2]], torch.full((2, ), 5.))


def test_unsorted_kernel_sizes_are_the_same_loss():
    """Sizes (7, 3, 5) are accepted and kept in that order, each logits
    column with its size: the loss, its gradient and the effective sizes
    are those of (3, 5, 7) with the columns in the same order."""
    logits, labels = _inputs(seed=5)
    ordered = AAFLoss(4, kernel_sizes=(3, 5, 7), downsample=1)
    unsorted = AAFLoss(4, kernel_sizes=(7, 3, 5), downsample=1)
    assert unsorted.kernel_sizes == (7, 3, 5)
    gen = torch.Generator().manual_seed(6)
    with torch.no_grad():
        for name in ('edge_size_logits', 'nonedge_size_logits'):
            columns = torch.randn(4, 3, generator=gen)
            getattr(ordered, name).copy_(columns)
            getattr(unsorted, name).copy_(columns[:, [2, 0, 1]])
    value, grad = _loss_and_grads(ordered, logits, labels)
    unsorted_value, unsorted_grad = _loss_and_grads(unsorted, logits, labels)
    torch.testing.assert_close(unsorted_value, value)
    torch.testing.assert_close(unsorted_grad, grad)
    for kind, sizes in ordered.effective_kernel_sizes().items():
        torch.testing.assert_close(unsorted.effective_kernel_sizes()[kind],
                                   sizes)


class TestResampling:

    def test_labels_are_read_at_cell_centres(self):
        labels = torch.arange(16 * 16).reshape(1, 16, 16)
        logits = torch.randn(1, 2, 16, 16)
        small_logits, small_labels = sample_affinity_grid(logits, labels, 8)
        assert small_labels.tolist() == [[[4 * 16 + 4, 4 * 16 + 12],
                                          [12 * 16 + 4, 12 * 16 + 12]]]
        assert torch.equal(small_logits, logits[..., 4::8, 4::8])

    def test_labels_are_never_averaged(self):
        # Stripes of classes 0 and 2: averaging would produce class 1.
        labels = torch.zeros(1, 32, 32, dtype=torch.long)
        labels[..., ::2] = 2
        _, small = sample_affinity_grid(torch.zeros(1, 3, 32, 32), labels, 4)
        assert set(small.unique().tolist()) <= {0, 2}

    def test_downsample_equals_full_grid_on_sampled_arrays(self):
        logits, labels = _inputs(h=48, w=40, seed=3)
        coarse = AAFLoss(4, downsample=8)(logits, labels)
        fine = AAFLoss(4, downsample=1)(logits[..., 4::8, 4::8],
                                        labels[..., 4::8, 4::8])
        torch.testing.assert_close(coarse, fine)

    def test_gradient_reaches_only_sampled_pixels(self):
        logits, labels = _inputs(h=32, w=32, seed=4)
        _, grad = _loss_and_grads(AffinityLoss(4, downsample=8), logits,
                                  labels)
        mask = torch.zeros(32, 32, dtype=torch.bool)
        mask[4::8, 4::8] = True
        assert grad[..., ~mask].abs().sum() == 0
        assert grad[..., mask].abs().sum() > 0


class TestBadInput:
    """Errors name the problem, on every device."""

    def test_label_out_of_range(self, device):
        logits, labels = _inputs(device=device)
        labels[0, 0, 0] = 7
        with pytest.raises(ValueError, match=r'class id\(s\) \[7\].*num_cl'):
            AffinityLoss(4, downsample=1).to(device)(logits, labels)

    def test_negative_label(self, device):
        logits, labels = _inputs(device=device)
        labels[0, 0, 0] = -3
        with pytest.raises(ValueError, match=r'\[-3\]'):
            AffinityLoss(4, downsample=1).to(device)(logits, labels)

    def test_num_classes_mismatch(self, device):
        logits, labels = _inputs(device=device)
        with pytest.raises(ValueError, match='num_classes=5.*4 channels'):
            AffinityLoss(5, downsample=1).to(device)(logits, labels)

    def test_shape_mismatch(self, device):
        logits, labels = _inputs(device=device)
        with pytest.raises(ValueError, match='does not match'):
            AffinityLoss(4, downsample=1).to(device)(logits, labels[:, :-1])
        with pytest.raises(ValueError, match='does not match'):
            AffinityLoss(4, downsample=1).to(device)(logits, labels[:, None])
        with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
            AffinityLoss(4, downsample=1).to(device)(logits[0], labels)

    def test_float_labels(self, device):
        logits, labels = _inputs(device=device)
        with pytest.raises(TypeError, match='integer class ids'):
            AffinityLoss(4, downsample=1).to(device)(logits, labels.float())

    @pytest.mark.parametrize('sizes', [(4, ), (1, ), (3, 6), (), (3, 3),
                                       (3.0, )])
    def test_bad_kernel_sizes(self, sizes):
        with pytest.raises(ValueError, match='kernel'):
            AAFLoss(4, kernel_sizes=sizes)

    @pytest.mark.parametrize('margin', [-1e-3, -0.5, -3.0])
    def test_negative_margin(self, margin):
        with pytest.raises(ValueError, match='margin must be >= 0'):
            AffinityLoss(4, margin=margin)

    @pytest.mark.parametrize('downsample', [0, -8, 2.5])
    def test_bad_downsample(self, downsample):
        with pytest.raises(ValueError, match='downsample'):
            AffinityLoss(4, downsample=downsample)

    def test_label_map_smaller_than_downsample(self, device):
        logits, labels = _inputs(h=4, w=4, device=device)
        with pytest.raises(ValueError, match='smaller than downsample=8'):
            AffinityLoss(4).to(device)(logits, labels)

    def test_pixel_weight_is_ignored(self, device):
        """A pixel sampler's weights do not touch the pairwise loss."""
        logits, labels = _inputs(device=device)
        loss = AffinityLoss(4).to(device)
        weight = torch.zeros(2, 16, 16, device=device)
        weight[:, :4] = 1.
        assert torch.equal(loss(logits, labels, weight=weight),
                           loss(logits, labels))

    def test_per_pixel_reduction_is_zero(self, device):
        """What OHEM's loss ranking asks for: zeros, so the ranking is
        the per-pixel losses'."""
        logits, labels = _inputs(device=device)
        values = AAFLoss(4).to(device)(logits, labels,
                                       reduction_override='none')
        assert values.shape == labels.shape and not values.any()
        with pytest.raises(TypeError, match='reduction_override'):
            AAFLoss(4).to(device)(logits, labels, reduction_override='sum')

    def test_unknown_arguments_are_refused(self, device):
        logits, labels = _inputs(device=device)
        with pytest.raises(TypeError, match='avg_factor'):
            AffinityLoss(4).to(device)(logits, labels, avg_factor=3.)


def _pspnet_cfg(tmp_path):
    cfg = Config.fromfile(
        upstream_config_path(
            'pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'))
    cfg.merge_from_dict(
        dict(custom_imports=dict(imports=['mmseg_aaf'])))
    cfg.model.pretrained = None
    cfg.model.decode_head.loss_decode = [
        dict(type='CrossEntropyLoss', loss_weight=1.0),
        dict(type='AAFLoss', num_classes=19, downsample=8)
    ]
    return cfg


def test_size_logits_live_on_the_decode_head(tmp_path):
    cfg = _pspnet_cfg(tmp_path)
    cfg.model.backbone.norm_cfg = cfg.model.decode_head.norm_cfg = dict(
        type='BN', requires_grad=True)
    cfg.model.auxiliary_head.norm_cfg = cfg.model.backbone.norm_cfg
    model = MODELS.build(cfg.model)
    names = dict(model.named_parameters())
    assert names['decode_head.loss_decode.1.edge_size_logits'].shape == (19,
                                                                         3)
    assert 'decode_head.loss_decode.1.nonedge_size_logits' in names
    # The loss dict of the real decode head carries the AAF term.
    feats = [torch.randn(2, c, 8, 8) for c in (64, 128, 256, 512)]
    seg_logits = model.decode_head.forward(feats)
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(
        data=torch.randint(0, 19, (1, 64, 64)))
    losses = model.decode_head.loss_by_feat(seg_logits, [sample, sample])
    assert set(losses) == {'loss_ce', 'loss_aaf', 'acc_seg'}
    assert losses['loss_aaf'].requires_grad
