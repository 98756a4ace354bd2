# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The methods of ``mmseg-aaf-compare``: parsing, and the configs derived
from a baseline (what each appends, where, and what it refuses)."""
import re

import pytest
from mmengine.config import Config

from mmseg_aaf.comparison.methods import (MethodError, derive_configs,
                                          parse_method, parse_methods)
from mmseg_aaf.comparison.records import config_hash
from tests.conftest import REPO_ROOT

CAMVID = REPO_ROOT / 'configs' / 'camvid'
PSP_CE = str(CAMVID / 'pspnet_r18_ce_camvid-cpu.py')
DLV3P_CE = str(CAMVID / 'deeplabv3plus_r18_ce_camvid-cpu.py')


def test_method_names_and_folders():
    assert parse_method('ce').name == 'CE' and parse_method('ce').is_baseline
    assert parse_method('base').name == 'base'
    combo = parse_method('+dice:3+aaf')
    assert combo.name == '+ Dice x3 + AAF'
    assert combo.short_name == 'Dice x3 + AAF'
    assert combo.slug == 'dicex3+aaf'
    assert [(a.loss, a.weight) for a in combo.additions] == [
        ('dice', 3.0), ('aaf', None)]
    assert parse_method('+affinity').name == '+ affinity (k=3)'
    assert parse_method('+lovasz').name == '+ Lovász'
    named = parse_method(f'mine={PSP_CE}')
    assert (named.key, named.name, named.config) == ('mine', 'mine', PSP_CE)
    # A committed config standing in for a derived method keeps its name.
    assert parse_method(f'+dice={PSP_CE}').name == '+ Dice'


@pytest.mark.parametrize('spec, message', [
    ('dice', 'unknown method'),
    ('+focal', "unknown addition '+focal'"),
    ('+dice+dice', 'appends a loss twice'),
    ('+aaf+affinity', 'two pairwise losses'),
    ('+dice:0', 'positive number'),
    ('+dice:x', 'positive number'),
    ('mine=missing.py', 'config not found: missing.py'),
    ('=x.py', 'NAME=CONFIG'),
])
def test_bad_methods_say_what_is_wrong(spec, message):
    with pytest.raises(MethodError, match=re.escape(message)):
        parse_method(spec)


def test_the_same_method_twice_is_refused():
    with pytest.raises(MethodError, match='given twice: \\+aaf'):
        parse_methods(['ce', '+aaf', '+aaf'])


@pytest.mark.parametrize('specs', [
    ['ce', '+dice', f'dice={PSP_CE}'],
    [f'dicex3={PSP_CE}', '+dice:3'],
])
def test_two_methods_with_one_records_folder_are_refused(specs):
    with pytest.raises(MethodError, match='share a records folder'):
        parse_methods(specs)


def _loss_types(path):
    cfg = Config.fromfile(path)
    losses = cfg.model.decode_head.loss_decode
    return [loss['type'] for loss in losses], cfg


def test_derived_configs_chain_one_loss_per_file(tmp_path):
    methods = parse_methods(['ce', '+dice', '+aaf', '+dice:3.0+aaf'])
    paths = derive_configs(PSP_CE, methods, str(tmp_path),
                           dict(downsample=4))
    assert paths['ce'] == PSP_CE
    types, cfg = _loss_types(paths['+dice'])
    assert types == ['CrossEntropyLoss', 'DiceLoss']
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    types, cfg = _loss_types(paths['+aaf'])
    assert types == ['CrossEntropyLoss', 'AAFLoss']
    assert cfg.model.decode_head.loss_decode[1].downsample == 4
    assert cfg.optim_wrapper.type == 'AdversarialOptimWrapper'
    types, cfg = _loss_types(paths['+dice:3.0+aaf'])
    assert types == ['CrossEntropyLoss', 'DiceLoss', 'AAFLoss']
    assert cfg.model.decode_head.loss_decode[1].loss_weight == 3.0
    assert [h.type for h in cfg.custom_hooks] == ['AffinityLossDecayHook']
    # The chain: the weighted Dice step is a file of its own.
    text = open(paths['+dice:3.0+aaf']).read()
    assert text.startswith('# Method +dice:3+aaf of mmseg-aaf-compare, '
                           f'derived from {PSP_CE}.')
    assert "_base_ = 'pspnet_r18_ce_camvid-cpu_dicex3.py'" in text
    dice = open(tmp_path / 'pspnet_r18_ce_camvid-cpu_dice.py').read()
    assert 'DiceLoss appended to the loss_decode of decode_head (PSPHead)' \
        in dice.replace('\n#   ', ' ')


def test_a_weighted_pairwise_method_writes_its_loss_weight(tmp_path):
    options = dict(downsample=4)
    methods = parse_methods(['+aaf:0.5', '+affinity:2', '+dice+aaf:3'])
    paths = derive_configs(PSP_CE, methods, str(tmp_path), options)
    for key, loss, weight in (('+aaf:0.5', 'AAFLoss', 0.5),
                              ('+affinity:2', 'AffinityLoss', 2.0),
                              ('+dice+aaf:3', 'AAFLoss', 3.0)):
        types, cfg = _loss_types(paths[key])
        appended = cfg.model.decode_head.loss_decode[-1]
        assert (types[-1], appended.loss_weight) == (loss, weight), key
        assert appended.downsample == 4
    assert options == dict(downsample=4)  # the study's, left as it was


def test_derived_methods_resolve_to_the_committed_camvid_configs(tmp_path):
    """What the tool derives from the CE configs is what the committed
    CamVid configs train (the loss study's records rest on it)."""
    pairs = [(PSP_CE, '+dice', 'pspnet_r18_dice_camvid-cpu.py'),
             (PSP_CE, '+lovasz', 'pspnet_r18_lovasz_camvid-cpu.py'),
             (PSP_CE, '+aaf', 'pspnet_r18_aaf_camvid-cpu.py'),
             (PSP_CE, '+affinity', 'pspnet_r18_affinity_camvid-cpu.py'),
             (DLV3P_CE, '+aaf', 'deeplabv3plus_r18_aaf_camvid-cpu.py'),
             (DLV3P_CE, '+dice', 'deeplabv3plus_r18_dice_camvid-cpu.py')]
    for baseline, key, committed in pairs:
        path = derive_configs(baseline, parse_methods([key]),
                              str(tmp_path / key), dict(downsample=4))[key]
        assert config_hash(Config.fromfile(path)) == config_hash(
            Config.fromfile(str(CAMVID / committed))), (key, committed)
    # And the hash sees a change of the appended loss.
    path = derive_configs(PSP_CE, parse_methods(['+aaf']),
                          str(tmp_path / 'other'), dict(downsample=8))['+aaf']
    assert config_hash(Config.fromfile(path)) != config_hash(
        Config.fromfile(str(CAMVID / 'pspnet_r18_aaf_camvid-cpu.py')))


def test_a_baseline_that_already_carries_dice_refuses_plus_dice(tmp_path):
    dice = str(CAMVID / 'pspnet_r18_dice_camvid-cpu.py')
    with pytest.raises(MethodError, match='already holds CrossEntropyLoss, '
                       'DiceLoss'):
        derive_configs(dice, parse_methods(['+dice']), str(tmp_path))
    zoo = 'mmseg::unet/unet-s5-d16_fcn_4xb4-ce-1.0-dice-3.0-40k_drive-64x64.py'
    with pytest.raises(MethodError, match='cannot derive \\+dice from '
                       'mmseg::unet/.*DiceLoss'):
        derive_configs(zoo, parse_methods(['+dice']), str(tmp_path))


def test_mask_classification_heads_refuse_per_pixel_losses(tmp_path):
    zoo = ('mmseg::maskformer/'
           'maskformer_r50-d32_8xb2-160k_ade20k-512x512.py')
    with pytest.raises(MethodError, match='mask classification'):
        derive_configs(zoo, parse_methods(['+dice']), str(tmp_path))
