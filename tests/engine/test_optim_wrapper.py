# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The adversarial wrappers: ascent, weight decay, clipping, accumulation.

Tests that take ``device`` run on the CPU and, where present, on CUDA.
"""
import warnings

import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.runner import Runner

import mmseg_aaf  # noqa: F401
from mmseg_aaf.engine import AdversarialAmpOptimWrapper
from mmseg_aaf.models.losses import AAFLoss
from tests.conftest import tiny_config

SGD = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.01)


class TinySegmenter(nn.Module):
    """A 1x1-conv 'network' with an AAF loss, as a decode head holds it."""

    def __init__(self, device='cpu'):
        super().__init__()
        self.head = nn.Conv2d(3, 4, 1)
        self.aaf = AAFLoss(4, downsample=1)
        with torch.no_grad():
            self.aaf.edge_size_logits.normal_()
            self.aaf.nonedge_size_logits.normal_()
        self.device = device
        self.to(device)

    def loss(self, seed=0):
        gen = torch.Generator().manual_seed(seed)
        image = torch.randn(2, 3, 12, 12, generator=gen)
        label = torch.randint(0, 4, (2, 3, 3), generator=gen)
        label = label.repeat_interleave(4, 1).repeat_interleave(4, 2)
        return self.aaf(
            self.head(image.to(self.device)), label.to(self.device))


def _grads(model, seeds, scale=1.0):
    """Mean gradient of ``model.loss`` over ``seeds`` (no step)."""
    model.zero_grad()
    for seed in seeds:
        (model.loss(seed) * scale / len(seeds)).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    return grads


def _snapshot(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _build(model, **wrapper_kwargs):
    return build_optim_wrapper(
        model,
        dict(type='AdversarialOptimWrapper', optimizer=dict(SGD),
             **wrapper_kwargs))


def _assert_one_sgd_step(model, before, grads):
    """Size logits moved by exactly +lr * grad (no weight decay), the
    rest by SGD's -lr * (grad + wd * param) (first step: no momentum)."""
    for name, param in model.named_parameters():
        step = param.detach() - before[name]
        if 'size_logits' in name:
            torch.testing.assert_close(step, 0.1 * grads[name])
        else:
            torch.testing.assert_close(
                step, -0.1 * (grads[name] + 0.01 * before[name]))


def test_size_logits_ascend_and_network_descends(device):
    model = TinySegmenter(device)
    wrapper = _build(model)
    grads, before = _grads(model, [0]), _snapshot(model)
    wrapper.update_params(model.loss(0))
    _assert_one_sgd_step(model, before, grads)


def test_groups_keep_lr_and_drop_weight_decay(device):
    model = TinySegmenter(device)
    wrapper = _build(model)
    groups = wrapper.optimizer.param_groups
    assert len(groups) == 2
    ascent = [g for g in groups
              if any(p is model.aaf.edge_size_logits for p in g['params'])]
    assert len(ascent) == 1 and len(ascent[0]['params']) == 2
    assert ascent[0]['weight_decay'] == 0
    assert ascent[0]['lr'] == groups[0]['lr'] == 0.1
    assert ascent[0]['momentum'] == 0.9
    assert groups[0]['weight_decay'] == 0.01


def test_gradients_are_restored_after_the_step(device):
    model = TinySegmenter(device)
    wrapper = _build(model)
    loss = model.loss(0)
    wrapper.backward(loss)
    grad = model.aaf.edge_size_logits.grad.clone()
    wrapper.step()
    torch.testing.assert_close(model.aaf.edge_size_logits.grad, grad)


def test_guard_is_armed_again_after_the_step(device):
    # The wrapper lets the guard through only during its own step; a bare
    # optimizer.step() afterwards would descend the size logits.
    model = TinySegmenter(device)
    wrapper = _build(model)
    wrapper.update_params(model.loss(0))
    model.loss(1).backward()
    with pytest.raises(RuntimeError, match='AdversarialOptimWrapper'):
        wrapper.optimizer.step()


def test_clip_grad_clips_the_ascent_too(device):
    model = TinySegmenter(device)
    wrapper = _build(model, clip_grad=dict(max_norm=1e-3))
    grads, before = _grads(model, [0]), _snapshot(model)
    norm = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(g) for g in grads.values()]))
    assert norm > 1e-3
    coef = 1e-3 / (norm + 1e-6)
    wrapper.update_params(model.loss(0))
    step = model.aaf.nonedge_size_logits.detach() - before[
        'aaf.nonedge_size_logits']
    torch.testing.assert_close(step,
                               0.1 * coef * grads['aaf.nonedge_size_logits'])


def test_accumulation_flips_once_per_step(device):
    model = TinySegmenter(device)
    wrapper = _build(model, accumulative_counts=2)
    grads, before = _grads(model, [0, 1]), _snapshot(model)
    wrapper.update_params(model.loss(0))
    assert torch.equal(model.aaf.edge_size_logits, before[
        'aaf.edge_size_logits'])  # accumulating, no step yet
    wrapper.update_params(model.loss(1))
    step = model.aaf.edge_size_logits.detach() - before[
        'aaf.edge_size_logits']
    torch.testing.assert_close(step, 0.1 * grads['aaf.edge_size_logits'])


def test_user_paramwise_cfg_is_kept():
    model = TinySegmenter()
    wrapper = _build(
        model,
        paramwise_cfg=dict(custom_keys={'aaf': dict(lr_mult=10.)}))
    # Every parameter has a group of its own here; the ones the size logits
    # left are dropped, not kept empty.
    assert all(group['params'] for group in wrapper.optimizer.param_groups)
    for group in wrapper.optimizer.param_groups:
        marked = [p for p in group['params']
                  if p is model.aaf.edge_size_logits]
        if marked:
            assert group['lr'] == pytest.approx(1.0)
            assert group['weight_decay'] == 0
    grads, before = _grads(model, [0]), _snapshot(model)
    wrapper.update_params(model.loss(0))
    step = model.aaf.edge_size_logits.detach() - before[
        'aaf.edge_size_logits']
    torch.testing.assert_close(step, 1.0 * grads['aaf.edge_size_logits'])


def test_plain_wrapper_refuses_to_descend_size_logits(device):
    model = TinySegmenter(device)
    wrapper = build_optim_wrapper(
        model, dict(type='OptimWrapper', optimizer=dict(SGD)))
    assert type(wrapper) is OptimWrapper
    with pytest.raises(RuntimeError, match='AdversarialOptimWrapper'):
        wrapper.update_params(model.loss(0))


def _amp_wrapper(model, device, monkeypatch, init_scale=2.**10):
    """``AdversarialAmpOptimWrapper`` with a working ``GradScaler``.

    On CUDA it is the wrapper's own scaler, built from the config. Without
    CUDA mmengine refuses AMP and its scaler (the CUDA one) disables itself,
    so the wrapper is built with CUDA pretended and then given torch's CPU
    ``GradScaler``: the same class doing the same scaling, unscaling and
    inf checks on CPU tensors.
    """
    from mmengine.optim.optimizer import amp_optimizer_wrapper
    if device == 'cpu':
        monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                            lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the disabled CUDA scaler on CPU
        wrapper = build_optim_wrapper(
            model,
            dict(type='AdversarialAmpOptimWrapper', optimizer=dict(SGD),
                 loss_scale=dict(init_scale=init_scale)))
    assert isinstance(wrapper, AdversarialAmpOptimWrapper)
    if device == 'cpu':
        wrapper.loss_scaler = torch.amp.GradScaler('cpu',
                                                   init_scale=init_scale)
    assert wrapper.loss_scaler.is_enabled()
    return wrapper


def test_amp_variant_ascends(device, monkeypatch):
    model = TinySegmenter(device)
    wrapper = _amp_wrapper(model, device, monkeypatch)
    grads, before = _grads(model, [0]), _snapshot(model)
    wrapper.update_params(model.loss(0))
    # The scaler unscaled the gradients before the step: the step is the
    # unscaled one, ascending for the size logits, descending elsewhere.
    assert wrapper.loss_scaler.get_scale() == 2.**10
    _assert_one_sgd_step(model, before, grads)


def test_amp_step_is_skipped_on_inf_and_the_next_one_ascends(
        device, monkeypatch):
    model = TinySegmenter(device)
    wrapper = _amp_wrapper(model, device, monkeypatch)
    before = _snapshot(model)
    # An fp16 overflow: one infinite gradient entry in the network.
    wrapper.backward(model.loss(0))
    model.head.weight.grad[0, 0, 0, 0] = float('inf')
    size_grad = model.aaf.edge_size_logits.grad.clone()
    wrapper.step()  # must neither step nor trip the descent guard
    wrapper.zero_grad()
    for name, param in model.named_parameters():
        assert torch.equal(param.detach(), before[name]), name
    assert wrapper.loss_scaler.get_scale() == 2.**9  # backed off
    # The flip was undone although the optimizer never ran.
    assert not any(getattr(p, '_mmseg_aaf_ascending', False)
                   for p in wrapper.ascent_params)
    assert torch.isfinite(size_grad).all()
    # The next, finite step ascends by the unscaled gradient.
    grads = _grads(model, [1])
    wrapper.update_params(model.loss(1))
    step = model.aaf.edge_size_logits.detach() - before[
        'aaf.edge_size_logits']
    torch.testing.assert_close(step, 0.1 * grads['aaf.edge_size_logits'])


def test_one_runner_iteration_ascends(tiny_data_root, tmp_path):
    cfg = tiny_config(
        tiny_data_root, tmp_path, 'ascent',
        train_cfg=dict(max_iters=1, val_interval=100))
    cfg.default_hooks.checkpoint.interval = 100
    runner = Runner.from_cfg(cfg)
    aaf = runner.model.decode_head.loss_decode[1]
    with torch.no_grad():
        aaf.edge_size_logits.normal_()
        aaf.nonedge_size_logits.normal_()
    before = {n: p.detach().clone() for n, p in aaf.named_parameters()}
    seen = {}
    for name, param in aaf.named_parameters():
        param.register_hook(
            lambda g, name=name: seen.__setitem__(name, g.clone()))
    runner.train()
    lr = cfg.optim_wrapper.optimizer.lr
    for name, param in aaf.named_parameters():
        step = param.detach() - before[name]
        assert seen[name].abs().sum() > 0
        # Ascent along the loss gradient, and no weight decay.
        torch.testing.assert_close(step, lr * seen[name])
