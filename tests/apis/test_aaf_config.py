# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""tools/aaf_config.py and the decisions of :func:`make_twin` on the
upstream configs a user starts from."""
import importlib
import os
import importlib.util
import subprocess
import sys

import pytest
from mmengine.config import Config

import mmseg_aaf  # noqa: F401
from mmseg_aaf.apis.aaf_config import (RefusedConfig, make_twin,
                                       resolve_config_path)
from tests.conftest import REPO_ROOT

PSPNET = 'mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'
OCRNET = 'mmseg::ocrnet/ocrnet_hr18s_4xb2-40k_cityscapes-512x1024.py'
SEGFORMER = 'mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py'
KNET = 'mmseg::knet/knet-s3_r50-d8_fcn_8xb2-adamw-80k_ade20k-512x512.py'
CONVNEXT_AMP = ('mmseg::convnext/'
                'convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py')
POINTREND = 'mmseg::point_rend/pointrend_r50_4xb2-80k_cityscapes-512x1024.py'
DDRNET = ('mmseg::ddrnet/'
          'ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes-1024x1024.py')
# Mask2Former and the OHEM configs are written now:
# tests/apis/test_aaf_config_mask.py, test_aaf_config_ohem.py.
SAN = 'mmseg::san/san-vit-b16_coco-stuff164k-640x640.py'
VPD = 'mmseg::vpd/vpd_sd_4xb8-25k_nyu-480x480.py'


def _tool():
    spec = importlib.util.spec_from_file_location(
        'aaf_config_tool', REPO_ROOT / 'tools' / 'aaf_config.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _twin(config, tmp_path, imports=True, **kwargs):
    out = tmp_path / 'twin.py'
    twin = make_twin(config, str(out), **kwargs)
    out.write_text(twin.text)
    return twin, Config.fromfile(str(out), import_custom_modules=imports)


def _header(twin):
    """The twin's header comment as one line per note."""
    return twin.text.split('\n\n')[0].replace('\n#   ', ' ')


def _losses(head):
    losses = head.loss_decode
    return [l.type for l in (losses if isinstance(losses, list) else
                             [losses])]


def test_single_decode_head(tmp_path):
    twin, cfg = _twin(PSPNET, tmp_path)
    assert _losses(cfg.model.decode_head) == ['CrossEntropyLoss', 'AAFLoss']
    assert cfg.model.decode_head.loss_decode[1].num_classes == 19
    assert _losses(cfg.model.auxiliary_head) == ['CrossEntropyLoss']
    assert cfg.optim_wrapper.type == 'AdversarialOptimWrapper'
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
    assert cfg.custom_hooks == [dict(type='AffinityLossDecayHook', base=10.0)]
    assert 'mmseg_aaf' in cfg.custom_imports.imports
    assert "_base_ = 'mmseg::pspnet/" in twin.text
    assert 'decode_head.loss_decode.1: lr 0.01, weight decay 0' in _header(
        twin)


def test_aux_puts_the_loss_on_auxiliary_heads_too(tmp_path):
    twin, cfg = _twin(PSPNET, tmp_path, aux=True)
    assert _losses(cfg.model.auxiliary_head) == [
        'CrossEntropyLoss', 'AAFLoss'
    ]
    assert [p.place for p in twin.placements] == [
        'decode_head', 'auxiliary_head'
    ]


def test_adamw_and_head_lr_mult_are_inherited_and_stated(tmp_path):
    twin, cfg = _twin(SEGFORMER, tmp_path)
    upstream = Config.fromfile(resolve_config_path(SEGFORMER))
    assert cfg.optim_wrapper.optimizer == upstream.optim_wrapper.optimizer
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.paramwise_cfg == \
        upstream.optim_wrapper.paramwise_cfg
    # SegFormer's custom key 'head' (lr_mult 10) reaches the size logits.
    assert ('decode_head.loss_decode.1: lr 0.0006 (10 x the base lr 6e-05)'
            in _header(twin))


def test_amp_config_keeps_its_loss_scale(tmp_path):
    # Its custom import, mmpretrain.models, needs torchvision, which the
    # stack leaves out: the config is read without importing it.
    _, cfg = _twin(CONVNEXT_AMP, tmp_path, imports=False)
    assert cfg.optim_wrapper.type == 'AdversarialAmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.optim_wrapper.constructor == \
        'LearningRateDecayOptimizerConstructor'
    assert cfg.custom_imports.imports == ['mmpretrain.models', 'mmseg_aaf']


def test_cascade_carries_it_on_the_last_dense_stage(tmp_path):
    twin, cfg = _twin(OCRNET, tmp_path)
    heads = cfg.model.decode_head
    assert isinstance(heads, list) and len(heads) == 2
    assert _losses(heads[0]) == ['CrossEntropyLoss']
    assert _losses(heads[1]) == ['CrossEntropyLoss', 'AAFLoss']
    assert heads[0].loss_decode.loss_weight == 0.4  # inherited untouched
    _, with_aux = _twin(OCRNET, tmp_path, aux=True)
    assert [_losses(h)[-1] for h in with_aux.model.decode_head] == [
        'AAFLoss', 'AAFLoss'
    ]


def test_pointrend_carries_it_on_the_fpn_head(tmp_path):
    twin, cfg = _twin(POINTREND, tmp_path)
    assert _losses(cfg.model.decode_head[0])[-1] == 'AAFLoss'
    assert _losses(cfg.model.decode_head[1]) == ['CrossEntropyLoss']
    assert ('decode_head.1', 'PointHead') in {
        (place, head) for place, head, _ in twin.skipped
    }


def test_knet_keeps_adamw_and_uses_the_kernel_generator(tmp_path):
    twin, cfg = _twin(KNET, tmp_path)
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == 0.0001
    generator = cfg.model.decode_head.kernel_generate_head
    assert _losses(generator)[-1] == 'AAFLoss'
    assert cfg.model.decode_head.type == 'IterativeDecodeHead'
    assert 'each of its 4 mask predictions' in twin.placements[0].note


def test_positional_heads_become_the_plugin_subclass(tmp_path):
    _, cfg = _twin(DDRNET, tmp_path)
    assert cfg.model.decode_head.type == 'AffinityDDRHead'
    assert _losses(cfg.model.decode_head) == [
        'OhemCrossEntropy', 'OhemCrossEntropy', 'AAFLoss'
    ]
    # A config that already has the subclass keeps it: here the affinity
    # field goes after the AAF loss.
    again = make_twin(str(tmp_path / 'twin.py'), str(tmp_path / 'x.py'),
                      method='affinity')
    assert again.placements[0].head_type == 'AffinityDDRHead'
    assert again.placements[0].loss_index == 3


def test_affinity_method_keeps_the_wrapper(tmp_path):
    twin, cfg = _twin(PSPNET, tmp_path, method='affinity')
    assert _losses(cfg.model.decode_head)[-1] == 'AffinityLoss'
    assert cfg.model.decode_head.loss_decode[1].kernel_sizes == (3, )
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert twin.wrapper is None and 'size logits' not in twin.text


@pytest.mark.parametrize('config, head, reason', [
    (SAN, 'SideAdapterCLIPHead', 'mask classification against CLIP'),
    (VPD, 'VPDDepthHead', 'regresses depth'),
])
def test_refusals_name_the_head_and_the_reason(config, head, reason,
                                               tmp_path):
    with pytest.raises(RefusedConfig) as info:
        make_twin(config, str(tmp_path / 'twin.py'))
    assert info.value.head_type == head
    assert reason in info.value.reason


def test_a_users_config_keeps_its_hooks_and_imports(tmp_path):
    """A config outside mmseg: relative ``_base_``, inherited hooks."""
    user = tmp_path / 'project' / 'configs'
    user.mkdir(parents=True)
    (user / 'my_pspnet.py').write_text(
        f"_base_ = '{PSPNET}'\n"
        "custom_imports = dict(imports=['mmseg.engine'])\n"
        "custom_hooks = [dict(type='EMAHook', momentum=0.001)]\n")
    out = tmp_path / 'project' / 'aaf' / 'my_pspnet_aaf.py'
    out.parent.mkdir()
    twin = make_twin(str(user / 'my_pspnet.py'), str(out),
                     log_kernel_sizes=True)
    out.write_text(twin.text)
    assert "_base_ = '../configs/my_pspnet.py'" in twin.text
    assert str(tmp_path) not in twin.text
    cfg = Config.fromfile(str(out))
    assert [h.type for h in cfg.custom_hooks] == [
        'EMAHook', 'AffinityLossDecayHook', 'KernelSizeLoggerHook'
    ]
    assert cfg.custom_imports.imports == ['mmseg.engine', 'mmseg_aaf']


def test_cli_writes_the_twin(tmp_path, capsys):
    tool = _tool()
    assert tool.main([PSPNET, '--out', f'{tmp_path}/']) == 0
    out = tmp_path / 'pspnet_r18-d8_4xb2-80k_cityscapes-512x1024_aaf.py'
    assert out.is_file()
    printed = capsys.readouterr().out
    assert 'decode_head (PSPHead): aaf loss appended' in printed
    assert 'OptimWrapper -> AdversarialOptimWrapper' in printed
    # An existing file is kept unless --force.
    assert tool.main([PSPNET, '--out', str(out)]) == 1
    assert 'exists' in capsys.readouterr().err
    assert tool.main([PSPNET, '--out', str(out), '--force']) == 0


@pytest.mark.parametrize('argv, message', [
    ([SAN], 'decode_head (SideAdapterCLIPHead): it trains by mask'),
    (['mmseg::nope/missing.py'], 'config not found'),
    ([PSPNET, '--method', 'affinity', '--log-kernel-sizes'],
     '--log-kernel-sizes needs --method aaf'),
])
def test_cli_errors_are_one_line(argv, message, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools' / 'aaf_config.py'), *argv,
         '--out', str(tmp_path / 'x.py')],
        capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr
    assert message in lines[0]
    assert not (tmp_path / 'x.py').exists()


def _tool_error(config, out, cwd, env=None) -> str:
    """Run the tool on ``config``; it must exit 1 with one error line,
    which is returned."""
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools' / 'aaf_config.py'),
         str(config), '--out', str(out)],
        capture_output=True, text=True, cwd=cwd, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr
    return lines[0]


def _user_config(tmp_path, head, header=''):
    """A complete EncoderDecoder config (no ``_base_``) with ``head``."""
    path = tmp_path / 'user.py'
    path.write_text(
        header + "model = dict(type='EncoderDecoder',\n"
        "    backbone=dict(type='ResNetV1c', depth=18),\n"
        f'    decode_head=dict({head}))\n'
        "optim_wrapper = dict(type='OptimWrapper',\n"
        "    optimizer=dict(type='SGD', lr=0.01))\n")
    return path


@pytest.mark.integration
def test_cli_refuses_a_sigmoid_head(tmp_path):
    """out_channels=1 for 2 classes: no softmax channel per class."""
    config = _user_config(
        tmp_path, "type='FCNHead', in_channels=512, channels=64, "
        'num_convs=1, num_classes=2, out_channels=1, threshold=0.3, '
        "loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True)")
    out = tmp_path / 'x.py'
    assert _tool_error(config, out, tmp_path) == (
        f'error: cannot add aaf to {config}: decode_head (FCNHead): it '
        'predicts out_channels=1 for num_classes=2 (a sigmoid head); the '
        'pairwise loss needs one softmax channel per class')
    assert not out.exists()
    # The same head with a softmax channel per class carries it.
    dense = _user_config(
        tmp_path, "type='FCNHead', in_channels=512, channels=64, "
        'num_convs=1, num_classes=2')
    assert make_twin(str(dense), str(out)).placements[0].num_classes == 2


@pytest.mark.integration
def test_cli_refuses_a_registered_head_with_its_own_loss_by_feat(tmp_path):
    """A plugin head overriding loss_by_feat may never call an appended
    loss. The command imports the config's custom_imports, so the user's
    head is judged by its class, as a user runs it (plugin on PYTHONPATH)."""
    config = _user_config(
        tmp_path, "type='CustomLossFCNHead', in_channels=512, channels=64, "
        'num_convs=1, num_classes=2',
        header="custom_imports = dict(imports=['custom_loss_head'])\n")
    out = tmp_path / 'x.py'
    env = dict(os.environ,
               PYTHONPATH=str(REPO_ROOT / 'tests' / 'data' / 'plugins'))
    assert _tool_error(config, out, tmp_path, env) == (
        f'error: cannot add aaf to {config}: decode_head '
        '(CustomLossFCNHead): it computes its losses in its own '
        'loss/loss_by_feat, so an appended loss may never be called')
    assert not out.exists()
    # Its parent, which keeps the standard loss_by_feat, carries it.
    plain = _user_config(
        tmp_path, "type='FCNHead', in_channels=512, channels=64, "
        'num_convs=1, num_classes=2')
    assert _tool().main([str(plain), '--out', str(out)]) == 0


def test_loss_options_replace_the_defaults(tmp_path):
    twin, cfg = _twin(PSPNET, tmp_path,
                      loss_options=dict(downsample=4, margin=2.0))
    aaf = cfg.model.decode_head.loss_decode[1]
    assert (aaf.downsample, aaf.margin) == (4, 2.0)
    assert tuple(aaf.kernel_sizes) == (3, 5, 7)  # the rest: defaults
    from mmseg_aaf.apis.aaf_config import UnknownLossOption
    for bad in ('num_classes', 'type', 'kernel'):
        with pytest.raises(UnknownLossOption, match='has no setting'):
            make_twin(PSPNET, str(tmp_path / 'x.py'),
                      loss_options={bad: 1})


@pytest.mark.integration
def test_cli_loss_options_and_one_line_errors_over_mmseg_bases(tmp_path):
    """--loss-options reaches the file; an unknown key, and a refusal of a
    config that _base_s an mmseg config (whose loading warns through
    setuptools), end in exactly one error line."""
    tool = [sys.executable, str(REPO_ROOT / 'tools' / 'aaf_config.py')]
    out = tmp_path / 'twin.py'
    subprocess.run(tool + [PSPNET, '--out', str(out), '--loss-options',
                           'downsample=4'], check=True, capture_output=True,
                   cwd=tmp_path)
    assert 'downsample=4' in out.read_text()
    user = tmp_path / 'sigmoid.py'
    user.write_text(
        "_base_ = 'mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024"
        ".py'\nmodel = dict(decode_head=dict(num_classes=2, out_channels=1,"
        " loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True)))\n")
    for args in ([PSPNET, '--out', str(tmp_path / 'y.py'), '--loss-options',
                  'kernel=3'], [str(user), '--out', str(tmp_path / 'z.py')]):
        proc = subprocess.run(tool + args, capture_output=True, text=True,
                              cwd=tmp_path)
        assert proc.returncode == 1, proc.stdout
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith('error: '), lines
