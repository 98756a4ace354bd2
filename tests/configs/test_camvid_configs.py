# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Every config in configs/camvid/: what the methods change, and a
2-iteration run of tools/train.py and tools/test.py on a miniature CamVid
converted from the SegNet layout (tests/configs/conftest.py)."""
import math
import sys

import pytest
from mmengine.config import Config

import mmseg_aaf  # noqa: F401  (registers the plugin; weights-only loads)
from tests.conftest import REPO_ROOT, run_tool
from tests.configs.config_runs import (assert_written_by_the_config_tool,
                                      changed_keys, covered,
                                      eval_scale_options, metrics_json,
                                      scalars, small_run_options)

pytestmark = pytest.mark.integration

CONFIG_DIR = REPO_ROOT / 'configs' / 'camvid'
ALL_CONFIGS = sorted(p.name for p in CONFIG_DIR.glob('*.py'))
CPU_CONFIGS = [c for c in ALL_CONFIGS if c.endswith('_camvid-cpu.py')]
GPU_CONFIGS = [c for c in ALL_CONFIGS if c not in CPU_CONFIGS]
METHOD_CHANGES = {
    'model.decode_head.loss_decode', 'optim_wrapper.type', 'custom_hooks',
    # loss templates of configs/aaf/_base_/affinity_fields.py
    'ce_loss', 'affinity_loss', 'aaf_loss'
}


def load(name) -> Config:
    return Config.fromfile(str(CONFIG_DIR / name))


def method_of(name):
    return name.split('_')[2]


def baseline_of(name):
    net, backbone, _, rest = name.split('_', 3)
    return f'{net}_{backbone}_ce_{rest}'


PAIRWISE = ('affinity', 'aaf')
#: mmseg's own losses the comparison appends to PSPNet's and DeepLabV3+'s
#: CE, as configs/camvid/_base_/{lovasz,dice}_loss.py configure them
#: (tests/configs/test_camvid_loss_configs.py holds what each computes on
#: void).
PER_PIXEL = dict(
    lovasz=dict(type='LovaszLoss', loss_type='multi_class',
                classes='present', per_image=False, reduction='none',
                loss_weight=1.0),
    dice=dict(type='DiceLoss', use_sigmoid=False, loss_weight=1.0))


def test_one_config_per_method_and_scale():
    for suffix in ('camvid-cpu.py', 'camvid.py'):
        for method in ('ce', 'affinity', 'aaf'):
            matches = [
                c for c in ALL_CONFIGS
                if c.startswith('pspnet_') and
                c.endswith(f'_{method}_{suffix}')
            ]
            assert len(matches) == 1, (method, suffix, matches)
    assert {(c.split('_')[0], method_of(c))
            for c in CPU_CONFIGS} == {
        ('pspnet', m) for m in ('ce', 'lovasz', 'dice', 'affinity', 'aaf')
    } | {('deeplabv3plus', m) for m in ('ce', 'lovasz', 'dice', 'aaf')}


@pytest.mark.parametrize(
    'name', [c for c in ALL_CONFIGS if method_of(c) in PAIRWISE])
def test_methods_differ_only_in_loss_wrapper_and_decay(name):
    cfg, baseline = load(name), load(baseline_of(name))
    assert covered(changed_keys(cfg, baseline), METHOD_CHANGES) == set()
    method = method_of(name)
    ce, pairwise = cfg.model.decode_head.loss_decode
    assert ce == baseline.model.decode_head.loss_decode
    assert pairwise.type == dict(affinity='AffinityLoss',
                                 aaf='AAFLoss')[method]
    assert pairwise.num_classes == 11
    assert tuple(pairwise.kernel_sizes) == dict(affinity=(3, ),
                                                aaf=(3, 5, 7))[method]
    assert (pairwise.margin, pairwise.edge_loss_weight,
            pairwise.nonedge_loss_weight) == (3.0, 1.0, 1.0)
    # The paper's grid in scene units: every 8 pixels at full resolution,
    # every 4 at the CPU configs' half resolution.
    assert pairwise.downsample == (4 if name in CPU_CONFIGS else 8)
    assert cfg.custom_hooks == [dict(type='AffinityLossDecayHook', base=10.0)]
    wrapper = ('AdversarialOptimWrapper' if method == 'aaf' else
               baseline.optim_wrapper.type)
    assert cfg.optim_wrapper.type == wrapper
    assert 'custom_hooks' not in baseline


@pytest.mark.parametrize('net', ['pspnet', 'deeplabv3plus'])
@pytest.mark.parametrize('method', sorted(PER_PIXEL))
def test_mmseg_loss_configs_differ_only_in_the_loss_list(net, method):
    name = f'{net}_r18_{method}_camvid-cpu.py'
    cfg, baseline = load(name), load(baseline_of(name))
    # Besides the loss list, only the loss's template from its _base_ file.
    assert covered(changed_keys(cfg, baseline),
                   {'model.decode_head.loss_decode',
                    f'{method}_loss'}) == set()
    ce, extra = cfg.model.decode_head.loss_decode
    assert ce == baseline.model.decode_head.loss_decode
    assert extra == PER_PIXEL[method]
    assert cfg.optim_wrapper == baseline.optim_wrapper


def test_deeplabv3plus_shares_everything_but_the_decode_head():
    deeplab = load('deeplabv3plus_r18_ce_camvid-cpu.py')
    pspnet = load('pspnet_r18_ce_camvid-cpu.py')
    changed = changed_keys(deeplab, pspnet)
    assert changed and all(
        k.startswith('model.decode_head.') for k in changed), changed
    head = deeplab.model.decode_head
    assert head.type == 'DepthwiseSeparableASPPHead'
    assert 'pool_scales' not in head
    assert head.loss_decode == pspnet.model.decode_head.loss_decode


def test_deeplabv3plus_aaf_twin_is_what_the_config_tool_writes(tmp_path):
    """The committed twin is the tool's output for the CE config (the
    command in the CE config's header), byte for byte."""
    assert_written_by_the_config_tool(
        CONFIG_DIR / 'deeplabv3plus_r18_aaf_camvid-cpu.py',
        ['configs/camvid/deeplabv3plus_r18_ce_camvid-cpu.py',
         '--loss-options', 'downsample=4'], tmp_path)


@pytest.mark.parametrize('name', ALL_CONFIGS)
def test_data_and_evaluation(name):
    cfg = load(name)
    assert cfg.custom_imports == dict(
        imports=['mmseg_aaf'], allow_failed_imports=False)
    train = cfg.train_dataloader.dataset
    test = cfg.test_dataloader.dataset
    assert train.type == test.type == 'CamVidDataset'
    assert train.data_root == test.data_root == (
        'data/camvid_half' if name in CPU_CONFIGS else 'data/camvid')
    # Trained on train only; tested on val through the standard prefix.
    assert train.data_prefix == dict(
        img_path='img_dir/train', seg_map_path='ann_dir/train')
    assert test.data_prefix == dict(
        img_path='img_dir/val', seg_map_path='ann_dir/val')
    types = [m['type'] for m in cfg.test_evaluator]
    assert types == ['PerClassIoUMetric', 'BoundaryMetric',
                     'BoundaryIoUMetric']
    assert cfg.model.decode_head.num_classes == 11


def test_gpu_model_is_upstream_pspnet_r101(tmp_path):
    wrapper = tmp_path / 'upstream.py'
    wrapper.write_text("_base_ = 'mmseg::pspnet/"
                       "pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py'\n")
    upstream = Config.fromfile(str(wrapper))
    cfg = load('pspnet_r101_ce_camvid.py')
    changed = changed_keys(Config(dict(model=cfg.model)),
                           Config(dict(model=upstream.model)))
    assert changed == {
        'model.decode_head.num_classes', 'model.auxiliary_head.num_classes',
        'model.data_preprocessor.size'
    }
    assert cfg.model.data_preprocessor.size == (360, 480)
    assert cfg.model.pretrained == 'open-mmlab://resnet101_v1c'


def test_cpu_model_trains_from_scratch():
    cfg = load('pspnet_r18_ce_camvid-cpu.py')
    assert cfg.model.pretrained is None
    assert cfg.model.backbone.get('init_cfg') is None
    assert cfg.load_from is None


@pytest.mark.parametrize('name', ALL_CONFIGS)
def test_train_two_iterations_then_test(name, run_dir, torch_home, tmp_path):
    cfg = load(name)
    work_dir = tmp_path / 'train'
    run_tool(
        [sys.executable, 'tools/train.py', f'configs/camvid/{name}',
         '--work-dir', str(work_dir), '--cfg-options'] +
        small_run_options(cfg) + ['train_cfg.val_interval=2'],
        cwd=run_dir, env_extra=dict(TORCH_HOME=str(torch_home)))
    checkpoint = work_dir / 'iter_2.pth'
    assert checkpoint.is_file()
    method = method_of(name)
    rows = [row for row in scalars(work_dir) if 'loss' in row]
    assert rows
    key = dict(ce=None, affinity='decode.loss_affinity',
               aaf='decode.loss_aaf', lovasz='decode.loss_lovasz',
               dice='decode.loss_dice')[method]
    for row in rows:
        for k in filter(None, (key, 'decode.loss_ce', 'loss')):
            assert k in row and math.isfinite(row[k]), (k, row)

    test_dir = tmp_path / 'test'
    proc = run_tool(
        [sys.executable, 'tools/test.py', f'configs/camvid/{name}',
         str(checkpoint), '--work-dir', str(test_dir), '--cfg-options'] +
        eval_scale_options(cfg) + [
            f'model.{part}.norm_cfg.type=BN'
            for part in ('backbone', 'decode_head', 'auxiliary_head')
        ], cwd=run_dir, env_extra=dict(TORCH_HOME=str(torch_home)))
    metrics = metrics_json(test_dir)
    for key in ('mIoU', 'aAcc', 'bFscore', 'bRecall', 'bPrecision',
                'mBIoU'):
        assert 0 <= metrics[key] <= 100, (key, metrics)
    assert 'missing keys' not in proc.stdout + proc.stderr
