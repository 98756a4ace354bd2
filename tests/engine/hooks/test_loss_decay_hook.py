# Copyright (c) mmseg_aaf contributors. All rights reserved.
import math

import pytest
from mmengine.runner import Runner

from mmseg_aaf.engine import AffinityLossDecayHook
from tests.conftest import tiny_config


def _recorded_decays(runner):
    """Train ``runner`` and return the loss's ``decay`` at every forward."""
    loss = runner.model.decode_head.loss_decode[1]
    seen = []
    original = type(loss).forward

    def recording_forward(self, *args, **kwargs):
        seen.append(self.decay)
        return original(self, *args, **kwargs)

    type(loss).forward = recording_forward
    try:
        runner.train()
    finally:
        type(loss).forward = original
    return seen


@pytest.mark.parametrize('base', [10.0, 1.0])
def test_decay_follows_the_iteration(tiny_data_root, tmp_path, base):
    cfg = tiny_config(
        tiny_data_root, tmp_path, f'decay{base}',
        custom_hooks=[dict(type='AffinityLossDecayHook', base=base)],
        train_cfg=dict(max_iters=4, val_interval=100))
    cfg.default_hooks.checkpoint.interval = 100
    seen = _recorded_decays(Runner.from_cfg(cfg))
    assert seen == pytest.approx([base**(-i / 4) for i in range(4)])


def test_decay_follows_the_run_across_epochs(tiny_data_root, tmp_path):
    # Epoch-based: the batch index restarts every epoch, the run's
    # iteration does not. 4 images in batches of 2: 2 iterations an epoch.
    cfg = tiny_config(tiny_data_root, tmp_path, 'decay_epochs')
    cfg.train_cfg = dict(
        type='EpochBasedTrainLoop', max_epochs=2, val_interval=100)
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    runner = Runner.from_cfg(cfg)
    seen = _recorded_decays(runner)
    assert runner.max_iters == 4
    assert seen == pytest.approx([10.0**(-i / 4) for i in range(4)])


def test_decay_resumes_where_the_run_stopped(tiny_data_root, tmp_path):
    # Stop a run at iteration 2 (its last checkpoint), resume it up to 4.
    cfg = tiny_config(tiny_data_root, tmp_path / 'first', 'decay_first',
                      train_cfg=dict(max_iters=2, val_interval=100))
    Runner.from_cfg(cfg).train()
    checkpoint = tmp_path / 'first' / 'iter_2.pth'
    assert checkpoint.is_file()
    cfg = tiny_config(tiny_data_root, tmp_path / 'resumed', 'decay_resumed',
                      train_cfg=dict(max_iters=4, val_interval=100))
    cfg.resume = True
    cfg.load_from = str(checkpoint)
    cfg.default_hooks.checkpoint.interval = 100
    seen = _recorded_decays(Runner.from_cfg(cfg))
    assert seen == pytest.approx([10.0**(-i / 4) for i in (2, 3)])


def test_without_the_hook_the_factor_is_one(tiny_data_root, tmp_path):
    cfg = tiny_config(tiny_data_root, tmp_path, 'nodecay',
                      train_cfg=dict(max_iters=1, val_interval=100))
    cfg.custom_hooks = []
    cfg.default_hooks.checkpoint.interval = 100
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.model.decode_head.loss_decode[1].decay == 1.0


@pytest.mark.parametrize('base', [0.5, 0, -10, math.nan])
def test_bad_base(base):
    with pytest.raises(ValueError, match='base'):
        AffinityLossDecayHook(base=base)
