# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""A PSPNet-R101 training step with CE + AAF against CE alone.

mmseg's Cityscapes PSPNet-R101 config (BN instead of SyncBN, no pretrained
weights) trained through the plugin's ``AdversarialOptimWrapper`` (or
``AdversarialAmpOptimWrapper``) on random images with blocky labels; the
CE + AAF variant adds ``AAFLoss(downsample=8)`` to the decode head.
"""
import gc
import time
import warnings
from typing import Dict

import torch

from ..models.losses import AAFLoss
from .cases import IGNORE_INDEX, NUM_CLASSES, blocky_labels
from .measure import median, peak_rss_since_reset, reset_peak_rss

PSPNET_CONFIG = 'pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py'
PSPNET_INPUT = (256, 512)


def build_pspnet(with_aaf: bool, input_size=PSPNET_INPUT, amp=False):
    """PSPNet-R101 in train mode and its adversarial optim wrapper.

    ``amp`` selects ``AdversarialAmpOptimWrapper`` (fp16 autocast, dynamic
    loss scale), which mmengine allows only on an accelerator.
    """
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    from ..testing import upstream_config_path
    register_all_modules()
    cfg = Config.fromfile(upstream_config_path(PSPNET_CONFIG))
    model_cfg = cfg.model
    model_cfg.pretrained = None
    model_cfg.backbone.init_cfg = None
    bn = dict(type='BN', requires_grad=True)
    model_cfg.backbone.norm_cfg = bn
    model_cfg.decode_head.norm_cfg = bn
    model_cfg.auxiliary_head.norm_cfg = bn
    # The config pads every batch to its 512x1024 crop; keep the input's.
    model_cfg.data_preprocessor.size = tuple(input_size)
    if with_aaf:
        model_cfg.decode_head.loss_decode = [
            dict(model_cfg.decode_head.loss_decode),
            dict(type='AAFLoss', num_classes=NUM_CLASSES, downsample=8)
        ]
    torch.manual_seed(0)  # both variants start from the same weights
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = MODELS.build(model_cfg)
    model.train()
    wrapper = dict(
        type='AdversarialOptimWrapper',
        optimizer=dict(type='SGD', lr=0.01, momentum=0.9,
                       weight_decay=0.0005))
    if amp:
        wrapper.update(type='AdversarialAmpOptimWrapper',
                       loss_scale='dynamic')
    optim_wrapper = build_optim_wrapper(model, wrapper)
    return model, optim_wrapper


def pspnet_batch(input_size=PSPNET_INPUT):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    height, width = input_size
    gen = torch.Generator().manual_seed(2)
    inputs, samples = [], []
    for _ in range(2):
        inputs.append(
            torch.randint(0, 256, (3, height, width), generator=gen,
                          dtype=torch.uint8))
        label = blocky_labels(gen, 1, height, width, 32)
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label)
        sample.set_metainfo(dict(img_shape=tuple(input_size),
                                 ori_shape=tuple(input_size)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def bench_pspnet(pairs: int, device: str, input_size=PSPNET_INPUT,
                 amp: bool = False, count_flops: bool = False
                 ) -> Dict[str, dict]:
    """Training steps of both variants: time and peak memory.

    With ``count_flops`` one more, untimed CE + AAF step counts its
    floating-point operations (convolutions and matmuls, forward and
    backward) into ``out['flops']``.

    One step of a 2-core CPU takes seconds and drifts by +-15% with the
    load of a shared machine, far more than the 2% to be resolved. So the
    variants run in ABBA order (CE, AAF, AAF, CE, ...) and each adjacent
    pair gives one ratio; the reported ratio is the median of those.
    """
    variants = {name: build_pspnet(name == 'ce+aaf', input_size, amp)
                for name in ('ce', 'ce+aaf')}
    for name, (model, _) in variants.items():
        model.to(device)
    sync = (torch.cuda.synchronize if device.startswith('cuda') else
            (lambda: None))

    def step(name):
        model, optim_wrapper = variants[name]
        data = pspnet_batch(input_size)
        gc.collect()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
        else:
            before = reset_peak_rss()
        start = time.perf_counter()
        losses = model.train_step(data, optim_wrapper)
        sync()
        seconds = time.perf_counter() - start
        if device.startswith('cuda'):
            extra = torch.cuda.max_memory_allocated() - before
        else:
            extra = peak_rss_since_reset() - before
        assert all(torch.isfinite(v).all() for v in losses.values())
        return seconds, extra, sorted(losses)

    for name in variants:
        step(name)  # warm-up: lazy buffers, optimizer state
    flops = None
    if count_flops:
        from torch.utils.flop_counter import FlopCounterMode
        counter = FlopCounterMode(display=False)
        model, optim_wrapper = variants['ce+aaf']
        with counter:
            model.train_step(pspnet_batch(input_size), optim_wrapper)
        flops = counter.get_total_flops()
    runs = {name: [] for name in variants}
    keys = {}
    for index in range(pairs):
        order = ('ce', 'ce+aaf') if index % 2 == 0 else ('ce+aaf', 'ce')
        for name in order:
            seconds, extra, keys[name] = step(name)
            runs[name].append((seconds, extra))
    assert 'loss_aaf' in ' '.join(keys['ce+aaf']), keys
    out = {name: dict(total=median([s for s, _ in r]),
                      memory=median([m for _, m in r]),
                      loss_keys=keys[name])
           for name, r in runs.items()}
    out['pair_time_ratios'] = [a[0] / c[0] for a, c in
                               zip(runs['ce+aaf'], runs['ce'])]
    out['pair_memory_ratios'] = [a[1] / c[1] for a, c in
                                 zip(runs['ce+aaf'], runs['ce'])]
    out['flops'] = flops
    return out


def pspnet_loss_alone(repeats: int, device: str) -> float:
    """Median fwd+bwd seconds of the step's AAFLoss call by itself.

    The decode head hands the loss 2x19x256x512 logits (upsampled to the
    label size) and it compares pixels on their stride-8 grid.
    """
    gen = torch.Generator().manual_seed(3)
    height, width = PSPNET_INPUT
    logits = torch.randn((2, NUM_CLASSES, height, width), generator=gen)
    logits = logits.to(device).requires_grad_()
    label = blocky_labels(gen, 2, height, width, 32).to(device)
    loss = AAFLoss(NUM_CLASSES, downsample=8).to(device)
    sync = (torch.cuda.synchronize if device.startswith('cuda') else
            (lambda: None))
    times = []
    for _ in range(repeats + 1):
        logits.grad = None
        sync()
        start = time.perf_counter()
        loss(logits, label, ignore_index=IGNORE_INDEX).backward()
        sync()
        times.append(time.perf_counter() - start)
    return median(times[1:])
