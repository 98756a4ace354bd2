# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Every config in configs/aaf/: what it changes, that its model builds,
and a 2-iteration run of tools/train.py and tools/test.py on miniature
data in the dataset's real layout.

The runs override nothing but the crop size, the number of iterations, the
norm type and the test-time Resize scale (to keep ResNet-101 fast on CPU);
data roots, pretrained weights (served offline from a pre-filled torch hub
cache), batch sizes and schedules are the configs' own.
"""
import copy
import math
import shutil
import sys

import pytest
import torch
from mmengine.config import Config

import mmseg_aaf  # noqa: F401  (registers the plugin; weights-only loads)
from tests.conftest import REPO_ROOT, run_tool
from tests.configs.config_runs import (changed_keys, covered,
                                      eval_scale_options, metrics_json,
                                      scalars, small_run_options)

pytestmark = pytest.mark.integration

CONFIG_DIR = REPO_ROOT / 'configs' / 'aaf'
ALL_CONFIGS = sorted(p.name for p in CONFIG_DIR.glob('*.py'))
GTA5_CONFIGS = [c for c in ALL_CONFIGS if c.endswith('_test-gta5.py')]
PAPER_RECIPES = [c for c in ALL_CONFIGS if c.endswith('_paper-recipe.py')]
TRAIN_CONFIGS = [c for c in ALL_CONFIGS if c not in GTA5_CONFIGS]
METHOD_CONFIGS = [c for c in TRAIN_CONFIGS if c not in PAPER_RECIPES]

UPSTREAM = {
    ('pspnet', 'cityscapes'):
    'pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py',
    ('pspnet', 'voc12aug'):
    'pspnet/pspnet_r101-d8_4xb4-40k_voc12aug-512x512.py',
    ('fcn', 'cityscapes'): 'fcn/fcn_r101-d8_4xb2-80k_cityscapes-512x1024.py',
    ('fcn', 'voc12aug'): 'fcn/fcn_r101-d8_4xb4-40k_voc12aug-512x512.py',
}
NUM_CLASSES = {'cityscapes': 19, 'voc12aug': 21}
LOSS = {
    'affinity': dict(type='AffinityLoss', kernel_sizes=(3, ),
                     name='loss_affinity'),
    'aaf': dict(type='AAFLoss', kernel_sizes=(3, 5, 7), name='loss_aaf'),
}
#: The training whose checkpoint each GTA5 test config evaluates. The
#: affinity model has exactly the parameters of plain PSPNet (the loss has
#: none), so it stands in for a trained baseline.
GTA5_CHECKPOINT_FROM = {
    'pspnet_r101_cityscapes_test-gta5.py':
    'pspnet_r101_affinity_cityscapes.py',
    'pspnet_r101_affinity_cityscapes_test-gta5.py':
    'pspnet_r101_affinity_cityscapes.py',
    'pspnet_r101_aaf_cityscapes_test-gta5.py': 'pspnet_r101_aaf_cityscapes.py',
}
#: Trained with tools/dist_train.sh and N processes, as
#: docs/user_guides/3_train_test.md shows.
DIST_TRAINED = {'pspnet_r101_aaf_cityscapes.py': 2}


def parse_name(name):
    """('pspnet', 'aaf', 'cityscapes') from pspnet_r101_aaf_cityscapes*.py"""
    net, _, method, dataset = name[:-3].split('_')[:4]
    return net, method, dataset.split('-')[0].split('.')[0]


def load(name) -> Config:
    return Config.fromfile(str(CONFIG_DIR / name))


def load_upstream(path, tmp_path) -> Config:
    wrapper = tmp_path / 'upstream.py'
    wrapper.write_text(f"_base_ = 'mmseg::{path}'\n")
    return Config.fromfile(str(wrapper))


def test_the_documented_configs_exist():
    required = {
        f'{net}_r101_{method}_{dataset}.py'
        for net in ('pspnet', 'fcn') for method in ('affinity', 'aaf')
        for dataset in ('cityscapes', 'voc12aug')
    } | set(GTA5_CHECKPOINT_FROM)
    assert required <= set(ALL_CONFIGS)
    assert set(GTA5_CONFIGS) == set(GTA5_CHECKPOINT_FROM)


@pytest.mark.parametrize('name', METHOD_CONFIGS)
def test_config_changes_only_what_the_method_needs(name, tmp_path):
    net, method, dataset = parse_name(name)
    cfg = load(name)
    upstream = load_upstream(UPSTREAM[net, dataset], tmp_path)
    allowed = {
        'model.decode_head.loss_decode', 'custom_imports', 'custom_hooks',
        # loss templates of configs/aaf/_base_/affinity_fields.py
        'ce_loss', 'affinity_loss', 'aaf_loss'
    }
    if method == 'aaf':
        allowed.add('optim_wrapper.type')
    assert covered(changed_keys(cfg, upstream), allowed) == set()

    head = cfg.model.decode_head
    ce, affinity = head.loss_decode
    assert ce == dict(type='CrossEntropyLoss', use_sigmoid=False,
                      loss_weight=1.0)
    expected = LOSS[method]
    assert affinity.type == expected['type']
    assert tuple(affinity.kernel_sizes) == expected['kernel_sizes']
    assert affinity.num_classes == head.num_classes == NUM_CLASSES[dataset]
    assert (affinity.margin, affinity.edge_loss_weight,
            affinity.nonedge_loss_weight) == (3.0, 1.0, 1.0)
    # The auxiliary head keeps upstream's plain cross-entropy.
    assert cfg.model.auxiliary_head == upstream.model.auxiliary_head
    assert cfg.model.auxiliary_head.loss_decode.type == 'CrossEntropyLoss'
    wrapper = 'AdversarialOptimWrapper' if method == 'aaf' else 'OptimWrapper'
    assert cfg.optim_wrapper.type == wrapper
    assert cfg.optim_wrapper.optimizer == upstream.optim_wrapper.optimizer
    assert cfg.custom_hooks == [dict(type='AffinityLossDecayHook', base=10.0)]
    assert cfg.custom_imports == dict(imports=['mmseg_aaf'],
                                      allow_failed_imports=False)
    assert cfg.model.pretrained == 'open-mmlab://resnet101_v1c'


@pytest.mark.parametrize('name', PAPER_RECIPES)
def test_paper_recipe_variant(name):
    cfg = load(name)
    parent = load(name.replace('_paper-recipe', ''))
    allowed = {
        'crop_size', 'max_iters', 'train_pipeline', 'model.data_preprocessor',
        'train_dataloader.dataset.pipeline', 'optim_wrapper.optimizer.lr',
        'param_scheduler', 'train_cfg.max_iters', 'train_cfg.val_interval',
        'default_hooks.checkpoint.interval'
    }
    assert covered(changed_keys(cfg, parent), allowed) == set()
    crops = [
        t['crop_size'] for t in cfg.train_dataloader.dataset.pipeline
        if t['type'] == 'RandomCrop'
    ]
    assert crops == [(720, 720)]
    assert cfg.model.data_preprocessor.size == (720, 720)
    # batch 8 = 4 GPUs x 2 images
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.train_cfg.max_iters == 90000
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    assert cfg.optim_wrapper.type == parent.optim_wrapper.type
    [poly] = cfg.param_scheduler
    assert (poly.type, poly.power, poly.end) == ('PolyLR', 0.9, 90000)


@pytest.mark.parametrize('name', GTA5_CONFIGS)
def test_gta5_test_config(name, tmp_path):
    cfg = load(name)
    if name == 'pspnet_r101_cityscapes_test-gta5.py':
        parent = load_upstream(UPSTREAM['pspnet', 'cityscapes'], tmp_path)
        allowed = {'custom_imports'}
    else:
        parent = load(GTA5_CHECKPOINT_FROM[name])
        allowed = set()
    allowed |= {'test_dataloader', 'test_evaluator'}
    changed = covered(changed_keys(cfg, parent), allowed)
    assert {k.split('.')[0] for k in changed} <= {
        'gta5_dataset_type', 'gta5_data_root', 'gta5_test_pipeline',
        'gta5_test_dataloader', 'gta5_test_evaluator'
    }
    assert cfg.model == parent.model
    assert cfg.val_dataloader == parent.val_dataloader
    dataset = cfg.test_dataloader.dataset
    assert dataset.type == 'GTA5Dataset'
    assert dataset.data_root == 'data/gta5/'
    assert dataset.ann_file == 'part1.txt'
    assert dataset.data_prefix == dict(img_path='images',
                                       seg_map_path='labels')
    resize = [t for t in dataset.pipeline if t['type'] == 'Resize']
    assert resize == [dict(type='Resize', scale=(2048, 1024),
                           keep_ratio=True)]
    assert cfg.test_dataloader.sampler.type == 'DefaultSampler'
    evaluator = cfg.test_evaluator.to_dict()
    evaluator.pop('_scope_', None)
    assert evaluator == dict(type='IoUMetric', iou_metrics=['mIoU'])
    assert 'mmseg_aaf' in cfg.custom_imports.imports


def _bn(node):
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        for value in node.values():
            _bn(value)


@pytest.mark.parametrize('name', ALL_CONFIGS)
def test_model_builds(name):
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    cfg = load(name)
    init_default_scope('mmseg')
    model_cfg = copy.deepcopy(cfg.model)
    _bn(model_cfg)
    model = MODELS.build(model_cfg)
    loss_decode = model.decode_head.loss_decode
    if isinstance(loss_decode, torch.nn.ModuleList):
        losses = {type(m).__name__: m for m in loss_decode}
    else:
        losses = {type(loss_decode).__name__: loss_decode}
    num_classes = model.decode_head.num_classes
    if '_aaf_' in name:
        assert losses['AAFLoss'].edge_size_logits.shape == (num_classes, 3)
    elif '_affinity_' in name:
        assert losses['AffinityLoss'].kernel_sizes == (3, )
    else:
        assert list(losses) == ['CrossEntropyLoss']


# --- 2-iteration runs of the tools on miniature data ---------------------


@pytest.fixture(scope='module')
def trained(run_dir, torch_home, tmp_path_factory):
    """Train a config once (2 iterations); return (work_dir, output)."""
    cache = {}
    work_root = tmp_path_factory.mktemp('work_dirs')

    def train(name):
        if name in cache:
            return cache[name]
        work_dir = work_root / name[:-3]
        cfg = load(name)
        config = f'configs/aaf/{name}'
        if name in DIST_TRAINED:
            # As documented: tools/dist_train.sh CONFIG N (gloo and BN on
            # a machine without CUDA).
            command = ['bash', 'tools/dist_train.sh', config,
                       str(DIST_TRAINED[name])]
            options = small_run_options(cfg, norm=False)
        else:
            command = [sys.executable, 'tools/train.py', config]
            options = small_run_options(cfg)
        proc = run_tool(
            command + ['--work-dir', str(work_dir), '--cfg-options'] +
            options, cwd=run_dir,
            env_extra=dict(TORCH_HOME=str(torch_home), PORT='29543'))
        cache[name] = work_dir, proc.stdout + proc.stderr
        return cache[name]

    yield train
    shutil.rmtree(work_root, ignore_errors=True)  # ~0.5 GB a checkpoint


def evaluate(config, checkpoint, run_dir, work_dir, torch_home):
    cfg = load(config)
    options = eval_scale_options(cfg) + [
        f'model.{part}.norm_cfg.type=BN'
        for part in ('backbone', 'decode_head', 'auxiliary_head')
    ]
    proc = run_tool(
        [sys.executable, 'tools/test.py', f'configs/aaf/{config}',
         str(checkpoint), '--work-dir', str(work_dir), '--cfg-options'] +
        options, cwd=run_dir, env_extra=dict(TORCH_HOME=str(torch_home)))
    metrics = metrics_json(work_dir)
    assert {'mIoU', 'aAcc'} <= metrics.keys(), metrics
    assert 0 <= metrics['mIoU'] <= 100 and 0 <= metrics['aAcc'] <= 100
    return proc.stdout + proc.stderr, metrics


@pytest.mark.parametrize('name', TRAIN_CONFIGS)
def test_train_two_iterations_then_test(name, trained, run_dir, torch_home,
                                        tmp_path):
    work_dir, output = trained(name)
    checkpoint = work_dir / 'iter_2.pth'
    assert checkpoint.is_file()

    # The upstream pretrained backbone went through mmengine's open-mmlab
    # loader, served from the hub cache, and matched the model exactly.
    assert 'load model from: open-mmlab://resnet101_v1c' in output
    assert 'Downloading' not in output
    assert 'missing keys' not in output and 'unexpected key' not in output

    _, method, _ = parse_name(name)
    loss_key = 'decode.' + LOSS[method]['name']
    rows = [row for row in scalars(work_dir) if 'loss' in row]
    # The configs log every 50 iterations; a 2-iteration run logs once.
    assert rows and {row['iter'] for row in rows} <= {1, 2}
    for row in rows:
        for key in (loss_key, 'decode.loss_ce', 'aux.loss_ce', 'loss'):
            assert key in row and math.isfinite(row[key]), (key, row)

    state = torch.load(checkpoint, map_location='cpu', mmap=True)
    logits = 'decode_head.loss_decode.1.edge_size_logits'
    assert (logits in state['state_dict']) == (method == 'aaf')
    assert state['meta']['iter'] == 2

    evaluate(name, checkpoint, run_dir, tmp_path / 'test', torch_home)


@pytest.mark.parametrize('name', GTA5_CONFIGS)
def test_gta5_evaluation_of_cityscapes_checkpoint(name, trained, run_dir,
                                                  torch_home, tmp_path):
    work_dir, _ = trained(GTA5_CHECKPOINT_FROM[name])
    output, _ = evaluate(name, work_dir / 'iter_2.pth', run_dir,
                         tmp_path / 'test', torch_home)
    assert 'GTA5Dataset: found 2 image/label pairs' in output
    # The checkpoint fits the test model exactly.
    assert 'missing keys' not in output and 'unexpected key' not in output
