# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The DRIVE recipe's training step with AAF against the same step without.

The committed CPU recipe (``configs/drive/``, UNet-S5-D16 + FCN head, batch
4 of 64x64 crops) as the study trains it: its model and its optim wrapper
built from the config, one ``train_step`` on a batch of random images with
vessel-like labels. Two pairs: CE against CE + AAF (the config tool's twin,
``downsample=1`` as in the study), and CE + Dice against CE + Dice + AAF
(both committed). Steps alternate in ABBA order and each adjacent pair gives
one time ratio; the median of those is reported (see
:func:`.pspnet_step.bench_pspnet` for why).
"""
import os.path as osp
import tempfile
import time
import warnings
from typing import Dict

import torch

from .fused import vessel_labels
from .measure import median

CONFIGS = osp.join(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))), 'configs', 'drive')
CE = osp.join(CONFIGS, 'unet-s5-d16_fcn_ce_drive-64x64-cpu.py')
DICE = osp.join(CONFIGS, 'unet-s5-d16_fcn_ce-1.0-dice-3.0_drive-64x64-cpu.py')
DICE_AAF = osp.join(CONFIGS,
                    'unet-s5-d16_fcn_ce-1.0-dice-3.0_drive-64x64-cpu_aaf.py')


def build(config: str):
    """The config's model (train mode) and optim wrapper."""
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(config)
    torch.manual_seed(0)  # both variants start from the same weights
    with warnings.catch_warnings(), \
            DefaultScope.overwrite_default_scope('mmseg'):
        warnings.simplefilter('ignore')
        model = MODELS.build(cfg.model)
        model.train()
        return model, build_optim_wrapper(model, cfg.optim_wrapper)


def drive_batch(step: int, n: int = 4, size: int = 64):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(step)
    labels = vessel_labels(n, size, size, seed=step)
    inputs, samples = [], []
    for label in labels:
        inputs.append(torch.randint(0, 256, (3, size, size), generator=gen,
                                    dtype=torch.uint8))
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label[None])
        sample.set_metainfo(dict(img_shape=(size, size),
                                 ori_shape=(size, size)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _abba(variants: Dict[str, tuple], pairs: int) -> dict:
    names = list(variants)
    times = {name: [] for name in names}

    def step(name, index):
        model, optim_wrapper = variants[name]
        data = drive_batch(index)
        start = time.perf_counter()
        losses = model.train_step(data, optim_wrapper)
        seconds = time.perf_counter() - start
        assert all(torch.isfinite(v).all() for v in losses.values())
        return seconds, sorted(losses)

    keys = {}
    for name in names:
        for index in range(3):  # warm-up: allocator, optimizer state
            step(name, index)
    for index in range(pairs):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            seconds, keys[name] = step(name, index)
            times[name].append(seconds)
    base, with_aaf = names
    assert any('aaf' in k for k in keys[with_aaf]), keys
    return dict(
        base=median(times[base]), aaf=median(times[with_aaf]),
        ratios=[a / b for a, b in zip(times[with_aaf], times[base])],
        loss_keys=keys[with_aaf])


def bench_drive_step(pairs: int) -> Dict[str, dict]:
    """``{'ce': ..., 'dice': ...}``: each pair's median step seconds and
    per-pair ratios (with AAF / without)."""
    from ..apis.aaf_config import make_twin
    with tempfile.TemporaryDirectory() as folder:
        twin_path = osp.join(folder, 'ce_aaf.py')
        twin = make_twin(CE, twin_path, loss_options=dict(downsample=1))
        with open(twin_path, 'w') as f:
            f.write(twin.text)
        out = dict(ce=_abba(dict(ce=build(CE), aaf=build(twin_path)), pairs))
    out['dice'] = _abba(dict(dice=build(DICE), aaf=build(DICE_AAF)), pairs)
    return out
