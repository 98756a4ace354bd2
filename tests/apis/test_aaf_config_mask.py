# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Config level: the AAF twins of Mask2Former and MaskFormer (the model
level is in tests/models/decode_heads/test_mask_classification_heads.py)."""
import pytest
from mmengine.config import Config

from mmseg_aaf.apis.aaf_config import RefusedConfig, make_twin
from mmseg_aaf.apis.publish import inference_config

MASK2FORMER = ('mmseg::mask2former/'
               'mask2former_swin-t_8xb2-160k_ade20k-512x512.py')
MASKFORMER = 'mmseg::maskformer/maskformer_r50-d32_8xb2-160k_ade20k-512x512.py'


def _twin(config, tmp_path, **kwargs):
    out = tmp_path / 'twin.py'
    twin = make_twin(config, str(out), **kwargs)
    out.write_text(twin.text)
    return twin, Config.fromfile(str(out), import_custom_modules=False)


def _header(text):
    return ' '.join(line.lstrip('#').strip() for line in text.splitlines()
                    if line.startswith('#'))


@pytest.mark.parametrize('config, head, subclass', [
    (MASK2FORMER, 'Mask2FormerHead', 'AffinityMask2FormerHead'),
    (MASKFORMER, 'MaskFormerHead', 'AffinityMaskFormerHead'),
])
def test_twin_switches_the_head_and_keeps_the_optimizer(
        config, head, subclass, tmp_path):
    upstream = Config.fromfile(_path(config), import_custom_modules=False)
    twin, cfg = _twin(config, tmp_path)
    decode = cfg.model.decode_head
    assert decode.type == subclass
    assert decode.loss_affinity.type == 'AAFLoss'
    assert decode.loss_affinity.num_classes == 150
    assert decode.loss_affinity.downsample == 2  # 8 input px on stride 4
    assert 'loss_decode' not in decode
    assert [(p.place, p.head_type, p.loss_place) for p in twin.placements
            ] == [('decode_head', head, 'decode_head.loss_affinity')]
    # The head's own losses and the AdamW + clip_grad optimizer inherited.
    for key in ('loss_cls', 'loss_mask', 'loss_dice', 'train_cfg'):
        assert decode[key] == upstream.model.decode_head[key]
    assert cfg.optim_wrapper.type == 'AdversarialOptimWrapper'
    assert cfg.optim_wrapper.optimizer == upstream.optim_wrapper.optimizer
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.clip_grad == upstream.optim_wrapper.clip_grad
    header = _header(twin.text)
    assert (f'AAFLoss (num_classes=150) set as the loss_affinity of '
            f'decode_head ({head})') in header
    assert 'decode_head.loss_affinity: lr 0.0001, weight decay 0' in header
    assert 'normalised over classes' in header
    assert 'mmdet.models' in cfg.custom_imports.imports or \
        'mmdet.models' not in str(upstream.get('custom_imports'))
    assert 'mmseg_aaf' in cfg.custom_imports.imports


def _path(config):
    from mmseg_aaf.apis.aaf_config import resolve_config_path
    return resolve_config_path(config)


def test_downsample_counts_mask_cells(tmp_path):
    _, cfg = _twin(MASKFORMER, tmp_path, loss_options=dict(downsample=4))
    assert cfg.model.decode_head.loss_affinity.downsample == 1
    with pytest.raises(RefusedConfig, match='not a multiple of the mask '
                       'stride 4'):
        make_twin(MASKFORMER, str(tmp_path / 'x.py'),
                  loss_options=dict(downsample=6))


def test_a_twin_of_the_twin_is_refused(tmp_path):
    _twin(MASKFORMER, tmp_path)
    with pytest.raises(RefusedConfig, match='already carries a '
                       'loss_affinity'):
        make_twin(str(tmp_path / 'twin.py'), str(tmp_path / 'again.py'))


def test_published_config_is_the_stock_head(tmp_path):
    _, cfg = _twin(MASK2FORMER, tmp_path)
    plain, removed = inference_config(cfg)
    head = plain.model.decode_head
    assert head.type == 'Mask2FormerHead'
    assert 'loss_affinity' not in head
    assert 'decode_head: loss_affinity (AAFLoss)' in removed
    assert 'decode_head: AffinityMask2FormerHead -> Mask2FormerHead' in removed
