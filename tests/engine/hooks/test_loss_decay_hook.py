# Copyright (c) mmseg_aaf contributors. All rights reserved.
import math

import pytest
from mmengine.runner import Runner

from mmseg_aaf.engine import AffinityLossDecayHook
from tests.conftest import tiny_config


@pytest.mark.parametrize('base', [10.0, 1.0])
def test_decay_follows_the_iteration(tiny_data_root, tmp_path, base):
    cfg = tiny_config(
        tiny_data_root, tmp_path, f'decay{base}',
        custom_hooks=[dict(type='AffinityLossDecayHook', base=base)],
        train_cfg=dict(max_iters=4, val_interval=100))
    cfg.default_hooks.checkpoint.interval = 100
    runner = Runner.from_cfg(cfg)
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
    assert seen == pytest.approx([base**(-i / 4) for i in range(4)])


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
