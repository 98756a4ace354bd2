# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The AAF twin of every config in mmseg's own zoo, and a real train step
with one model of each decode-head type that carries the loss."""
import collections
import functools
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

import mmseg_aaf  # noqa: F401
from mmseg_aaf.apis.aaf_config import (RefusedConfig, make_twin,
                                       mmseg_config_root)
from mmseg_aaf.models.losses import AAFLoss
from mmseg_aaf.testing.model_zoo import (build_cpu_model, generated_batch,
                                         recorded_loss_inputs)
from tests.apis.zoo_cases import (HEAD_TYPE_CASES, INPUT_SIZES,
                                  MODEL_EDITS, NO_IGNORED_PIXELS)

pytestmark = pytest.mark.integration

#: Why configs may be refused: the head types that cannot carry a pairwise
#: loss (SAN: frozen CLIP encoders downloaded at init, a loss_by_feat that
#: asserts on unknown loss names; VPD: depth).
REFUSAL_KINDS = {
    'SideAdapterCLIPHead': 'mask classification against CLIP',
    'VPDDepthHead': 'depth',
}
#: mmseg 1.2.2's zoo: what is written and what is refused, by kind.
EXPECTED_COUNTS = {
    'written': 673,
    'refused (mask classification against CLIP)': 6,
    'refused (depth)': 2,
}
#: Mask-classification heads -> the plugin's subclass, with the loss under
#: loss_affinity instead of loss_decode.
MASK_HEADS = {
    'Mask2FormerHead': 'AffinityMask2FormerHead',
    'MaskFormerHead': 'AffinityMaskFormerHead',
}
#: Where each wrapper type goes.
WRAPPERS = {
    'OptimWrapper': 'AdversarialOptimWrapper',
    'AmpOptimWrapper': 'AdversarialAmpOptimWrapper',
}
SIZE = 64


def _zoo():
    root = mmseg_config_root()
    return sorted(
        'mmseg::' + osp.relpath(path, root)
        for path in glob.glob(osp.join(root, '**', '*.py'), recursive=True)
        if '/_base_/' not in path)


def _loss_list(head):
    losses = head.get('loss_decode', [])
    return list(losses) if isinstance(losses, (list, tuple)) else [losses]


def _expected_places(model):
    """Where the loss belongs, worked out from the upstream model alone:
    the decode head; in a cascade the last stage other than a PointHead;
    K-Net's kernel generator; never the auxiliary heads (no --aux)."""
    head = model.decode_head
    if isinstance(head, (list, tuple)):
        last = max(i for i, h in enumerate(head) if h.type != 'PointHead')
        return {f'decode_head.{last}': head[last]}
    if head.type == 'IterativeDecodeHead':
        return {
            'decode_head.kernel_generate_head': head.kernel_generate_head
        }
    return {'decode_head': head}


def _head_at(model, place):
    node = model
    for part in place.split('.'):
        node = node[int(part)] if part.isdigit() else node[part]
    return node


def _all_heads(model):
    """Every (place, head) of a model config, nested K-Net heads too."""
    out = []
    for key in ('decode_head', 'auxiliary_head'):
        heads = model.get(key)
        if heads is None:
            continue
        if isinstance(heads, (list, tuple)):
            out += [(f'{key}.{i}', h) for i, h in enumerate(heads)]
        else:
            out.append((key, heads))
            if heads.get('kernel_generate_head'):
                out.append((f'{key}.kernel_generate_head',
                            heads.kernel_generate_head))
    return out


def _check_twin(config, upstream, twin_cfg):
    expected = _expected_places(upstream.model)
    for place, head in _all_heads(twin_cfg.model):
        upstream_type = _head_at(upstream.model, place).type
        if upstream_type in MASK_HEADS:
            assert place in expected, config
            assert head.type == MASK_HEADS[upstream_type], config
            assert head.loss_affinity.type == 'AAFLoss', config
            assert head.loss_affinity.num_classes == head.num_classes
            assert head.loss_affinity.downsample == 2, config
            assert 'loss_decode' not in head, config
            continue
        losses = _loss_list(head)
        carries = [l for l in losses if l['type'] == 'AAFLoss']
        if place not in expected:
            assert not carries, f'{config}: AAF on {place}'
            continue
        old = _loss_list(_head_at(upstream.model, place))
        assert losses[:len(old)] == old, f'{config}: {place} lost a loss'
        assert len(carries) == 1 and losses[-1] is carries[0], config
        classes = expected[place].get('num_classes')
        assert carries[0]['num_classes'] == classes, config
    wrapper = upstream.get('optim_wrapper', {})
    assert twin_cfg.optim_wrapper.type == WRAPPERS[wrapper.get(
        'type', 'OptimWrapper')], config
    for key, value in wrapper.items():  # optimizer, paramwise_cfg, ...
        if key != 'type':
            assert twin_cfg.optim_wrapper[key] == value, (config, key)
    hooks = twin_cfg.custom_hooks
    assert hooks[:-1] == upstream.get('custom_hooks', []), config
    assert hooks[-1]['type'] == 'AffinityLossDecayHook', config


def _refusal_kind(config, upstream, exc):
    if exc.head_type in REFUSAL_KINDS:
        return REFUSAL_KINDS[exc.head_type]
    raise AssertionError(f'{config} refused for an unexpected reason: {exc}')


@pytest.fixture
def cached_package_lookup(monkeypatch):
    """Parse mmseg's metafiles once.

    mmengine resolves each ``mmseg::`` path by parsing every
    ``metafile.yaml`` of the package (0.3 s a lookup); the twins name
    their base that way, and the files do not change within the test.
    """
    import mmengine.config.utils as config_utils
    parse = functools.lru_cache(maxsize=None)(config_utils.load)
    monkeypatch.setattr(config_utils, 'load', lambda path: parse(path))


@pytest.mark.usefixtures('cached_package_lookup')
def test_every_zoo_config_gets_a_twin_or_a_reason(tmp_path, capsys):
    """Config level: the twin loads and has the loss exactly where it
    belongs, with the inherited optimizer; or the refusal has a reason
    from the known list. ``HEAD_TYPE_CASES`` (the train-step cases) covers
    every (place, head type) that carries the loss."""
    configs = _zoo()
    assert len(configs) >= 600  # mmseg 1.2.2 ships 681
    counts = collections.Counter()
    families = set()
    carrying = set()
    for config in configs:
        upstream = Config.fromfile(
            osp.join(mmseg_config_root(), config[len('mmseg::'):]),
            import_custom_modules=False)
        out = tmp_path / 'twin.py'
        try:
            twin = make_twin(config, str(out), loaded=upstream)
        except RefusedConfig as exc:
            counts[f'refused ({_refusal_kind(config, upstream, exc)})'] += 1
            continue
        out.write_text(twin.text)
        assert str(tmp_path) not in twin.text
        _check_twin(config, upstream,
                    Config.fromfile(str(out), import_custom_modules=False))
        counts['written'] += 1
        families.add(config.split('/')[0])
        carrying |= {(p.place, p.head_type) for p in twin.placements}
    with capsys.disabled():
        print(f'\nzoo: {len(configs)} configs; written for '
              f'{len(families)} families: ' +
              ', '.join(f'{k} {v}' for k, v in sorted(counts.items())))
    assert sum(counts.values()) == len(configs)
    assert dict(counts) == EXPECTED_COUNTS
    assert carrying == set(HEAD_TYPE_CASES)


def _cpu_wrapper(cfg):
    """The twin's wrapper; AMP needs CUDA, so on CPU its non-AMP twin."""
    wrapper = cfg.optim_wrapper.to_dict()
    if wrapper['type'] == 'AdversarialAmpOptimWrapper':
        wrapper.update(type='AdversarialOptimWrapper')
        wrapper.pop('loss_scale', None)
        wrapper.pop('dtype', None)
    return wrapper


def _aaf_value(module, calls, logits=None):
    """The AAF loss of recorded calls in float64, with ``logits`` as the
    size logits (edge, non-edge) if given."""
    saved = (module.edge_size_logits.detach().clone(),
             module.nonedge_size_logits.detach().clone())
    with torch.no_grad():
        if logits is not None:
            module.edge_size_logits.copy_(logits[0])
            module.nonedge_size_logits.copy_(logits[1])
        value = sum(
            module(score.double(), label).item() for score, label in calls)
        module.edge_size_logits.copy_(saved[0])
        module.nonedge_size_logits.copy_(saved[1])
    return value


@pytest.mark.parametrize(
    'place, head_type', sorted(HEAD_TYPE_CASES),
    ids=[f'{t}@{p}' for p, t in sorted(HEAD_TYPE_CASES)])
def test_one_train_step_of_each_head_type(place, head_type, tmp_path):
    """Random init, 2 generated images (64x64 where the model allows), one
    real ``train_step``
    through the built wrapper: the AAF loss is in the log and finite, and
    the size logits moved uphill (the loss on the same logits went up)."""
    config = 'mmseg::' + HEAD_TYPE_CASES[(place, head_type)]
    out = tmp_path / 'twin.py'
    twin = make_twin(config, str(out))
    out.write_text(twin.text)
    assert [(p.place, p.head_type) for p in twin.placements] == [(place,
                                                                   head_type)]
    cfg = Config.fromfile(str(out))
    size = INPUT_SIZES.get(head_type, SIZE)
    model = build_cpu_model(cfg, size, MODEL_EDITS.get(head_type))
    model.train()
    wrapper = build_optim_wrapper(model, _cpu_wrapper(cfg))
    aaf = dict(
        (name, module) for name, module in model.named_modules()
        if isinstance(module, AAFLoss))
    assert list(aaf) == [twin.placements[0].loss_place]
    module = aaf[twin.placements[0].loss_place]
    before = (module.edge_size_logits.detach().clone(),
              module.nonedge_size_logits.detach().clone())
    batch = generated_batch(
        _head_at(cfg.model, place).num_classes,
        size,
        edge_maps=head_type == 'PIDHead',
        ignored=0 if head_type in NO_IGNORED_PIXELS else 0.05)
    with recorded_loss_inputs(module) as calls:
        log_vars = model.train_step(batch, wrapper)
    keys = [k for k in log_vars if k.endswith('loss_aaf') or 'loss_aaf' in k]
    assert keys, sorted(log_vars)
    assert all(torch.isfinite(log_vars[k]) for k in keys)
    assert calls and all(score.dim() == 4 for score, _ in calls)
    assert not torch.equal(module.edge_size_logits, before[0])
    assert _aaf_value(module, calls) > _aaf_value(module, calls, before)
