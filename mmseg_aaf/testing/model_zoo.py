# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Build upstream mmseg models on the CPU and feed them generated batches.

Used by the tests that run one real ``train_step`` through a model of each
decode-head type: random initialisation (no downloads), SyncBN as BN,
inputs small enough for two cores.
"""
import copy
import logging
from contextlib import contextmanager
from typing import Iterator, List, Tuple

import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import MMLogger
from mmengine.structures import PixelData

from ..utils.dist import replace_gpu_only_norms

#: Backbone arguments that tie the architecture to the input size.
_SIZE_ARGS = ('img_size', 'pretrain_img_size')


def cpu_model_config(cfg: Config, size: int) -> ConfigDict:
    """``cfg.model`` ready to build offline on the CPU for ``size`` inputs.

    Drops pretrained weights and checkpoint initialisers (random init),
    turns SyncBN into BN and pads inputs to ``size`` x ``size`` instead of
    the training crop.
    """
    model = copy.deepcopy(cfg.model)
    model.pop('pretrained', None)
    _drop_checkpoint_inits(model)
    replace_gpu_only_norms(model)
    preprocessor = model.get('data_preprocessor') or {}
    if preprocessor.get('size') is not None:
        preprocessor['size'] = (size, size)
    backbone = model.get('backbone', {})
    for arg in _SIZE_ARGS:
        if arg in backbone and isinstance(backbone[arg], (int, tuple, list)):
            backbone[arg] = size if isinstance(backbone[arg], int) else (
                size, size)
    return model


def build_cpu_model(cfg: Config, size: int, edit=None, seed: int = 0):
    """Build and initialise ``cfg.model`` for the CPU (see
    :func:`cpu_model_config`); ``edit(model_cfg)`` may change it first."""
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    model_cfg = cpu_model_config(cfg, size)
    if edit is not None:
        edit(model_cfg)
    torch.manual_seed(seed)
    logger = MMLogger.get_current_instance()
    level = logger.level
    # init_weights logs a line per parameter: seconds for a big model.
    logger.setLevel(logging.WARNING)
    try:
        with DefaultScope.overwrite_default_scope('mmseg'):
            model = MODELS.build(model_cfg)
            model.init_weights()
    finally:
        logger.setLevel(level)
    return model


def _drop_checkpoint_inits(node) -> None:
    if isinstance(node, dict):
        init = node.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            node['init_cfg'] = None
        elif isinstance(init, (list, tuple)):
            node['init_cfg'] = [
                i for i in init
                if not (isinstance(i, dict) and i.get('type') == 'Pretrained')
            ] or None
        for key in ('pretrained', 'checkpoint'):
            if isinstance(node.get(key), str):
                node[key] = None
        for value in node.values():
            _drop_checkpoint_inits(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _drop_checkpoint_inits(value)


def generated_batch(num_classes: int,
                    size: int,
                    batch: int = 2,
                    seed: int = 0,
                    edge_maps: bool = False,
                    ignored: float = 0.05) -> dict:
    """A ``train_step`` batch of blocky label maps and matching images.

    Labels are 8x8 blocks of random classes with a fraction ``ignored`` of
    pixels set to 255, so there are edge and non-edge pairs at every field
    size; images are the
    class colours plus noise. ``edge_maps`` adds ``gt_edge_map`` (the
    label boundaries), which PIDNet's head trains on.
    """
    from mmseg.structures import SegDataSample
    rng = np.random.default_rng(seed)
    inputs, samples = [], []
    colours = rng.integers(0, 256, (num_classes, 3))
    for _ in range(batch):
        blocks = rng.integers(0, num_classes, (size // 8 + 1, size // 8 + 1))
        label = np.kron(blocks, np.ones((8, 8), np.int64))[:size, :size]
        image = colours[label] + rng.normal(0, 10, (size, size, 3))
        label[rng.random((size, size)) < ignored] = 255
        inputs.append(
            torch.from_numpy(
                np.clip(image, 0, 255).astype(np.uint8).transpose(2, 0, 1)))
        sample = SegDataSample(
            metainfo=dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                pad_shape=(size, size)))
        sample.gt_sem_seg = PixelData(data=torch.from_numpy(label)[None])
        if edge_maps:
            edge = np.zeros_like(label)
            edge[:, 1:] |= label[:, 1:] != label[:, :-1]
            edge[1:, :] |= label[1:, :] != label[:-1, :]
            sample.gt_edge_map = PixelData(data=torch.from_numpy(edge)[None])
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@contextmanager
def captured_log(level: int = logging.WARNING) -> Iterator[List[str]]:
    """Messages of ``level`` and above that mmengine's logger emits."""
    records: List[str] = []

    class _Collect(logging.Handler):

        def emit(self, record):
            records.append(record.getMessage())

    logger = MMLogger.get_current_instance()
    handler = _Collect(level)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


@contextmanager
def recorded_loss_inputs(module: torch.nn.Module
                         ) -> Iterator[List[Tuple[torch.Tensor, ...]]]:
    """Detached ``(cls_score, label)`` of every call of ``module``."""
    calls: List[Tuple[torch.Tensor, ...]] = []

    def hook(_module, args, _output):
        calls.append(tuple(a.detach().clone() for a in args[:2]))

    handle = module.register_forward_hook(hook)
    try:
        yield calls
    finally:
        handle.remove()


#: Head types whose zoo models are too big for a CPU test step, and what
#: :func:`shrink_mask_classification` makes of them.
MASK_CLASSIFICATION_HEAD_TYPES = ('Mask2FormerHead', 'MaskFormerHead',
                                  'AffinityMask2FormerHead',
                                  'AffinityMaskFormerHead')


def shrink_mask_classification(model_cfg: ConfigDict,
                               num_queries: int = 4,
                               decoder_layers: int = 2,
                               width: int = 32) -> None:
    """Make a ResNet Mask2Former / MaskFormer model config test-sized, in
    place: ResNet-18 backbone, ``width`` channels everywhere in the head
    (4 attention heads, 8 GN groups), ``num_queries`` queries,
    ``decoder_layers`` decoder and 1 pixel-decoder encoder layers, 256
    sampled mask points. The architecture and the losses stay the zoo's.
    """
    model_cfg.backbone.depth = 18
    head = model_cfg.decode_head
    head.in_channels = [64, 128, 256, 512]
    head.num_queries = num_queries
    head.transformer_decoder.num_layers = decoder_layers
    encoder = head.pixel_decoder.get('encoder')
    if encoder is not None:
        encoder.num_layers = 1
    if head.get('train_cfg', {}).get('num_points'):
        head.train_cfg.num_points = 256

    def visit(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ('feat_channels', 'out_channels', 'embed_dims'):
                    node[key] = width
                elif key == 'feedforward_channels':
                    node[key] = 2 * width
                elif key == 'num_heads':
                    node[key] = 4
                elif key == 'num_feats':
                    node[key] = width // 2
                elif key == 'num_groups':
                    node[key] = 8
                else:
                    visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(head)
