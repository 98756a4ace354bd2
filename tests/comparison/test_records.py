# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Records of ``mmseg-aaf-compare``: the config hash (what changes it, what
does not), and the conversion of the CamVid loss comparison's older records
(accepted because their config is the one the study derives, refused when
it is not, or when a per-class list does not fit the classes)."""
import json

import pytest
from mmengine.config import Config

from mmseg_aaf.comparison.methods import parse_methods
from mmseg_aaf.comparison.records import (StaleRecord, config_hash,
                                          convert_legacy_record, read_record,
                                          record_path, write_record)
from mmseg_aaf.comparison.study import Study, plan_study, resolved_config
from mmseg_aaf.datasets.camvid import CAMVID_CLASSES
from tests.conftest import REPO_ROOT, load_tool

CAMVID = REPO_ROOT / 'configs' / 'camvid'
LEGACY = REPO_ROOT / 'tests' / 'data' / 'compare_records' / \
    'legacy_pspnet_aaf_seed0.json'


def test_hash_ignores_work_dir_seed_and_helper_variables():
    cfg = Config.fromfile(str(CAMVID / 'pspnet_r18_ce_camvid-cpu.py'))
    digest = config_hash(cfg)
    cfg.work_dir = '/elsewhere'
    cfg.randomness.seed = 7
    cfg.log_level = 'ERROR'
    cfg.some_helper = dict(type='DiceLoss')
    assert config_hash(cfg) == digest
    for key, value in (('model.decode_head.dropout_ratio', 0.2),
                       ('train_dataloader.batch_size', 4),
                       ('test_dataloader.dataset.data_root', 'data/x'),
                       ('optim_wrapper.optimizer.lr', 0.001),
                       ('randomness.deterministic', True)):
        changed = cfg.copy()
        changed.merge_from_dict({key: value})
        assert config_hash(changed) != digest, key


@pytest.mark.parametrize('key, value', [
    ('test_evaluator', dict(type='IoUMetric', iou_metrics=['mDice'])),
    ('param_scheduler', [dict(type='PolyLR', power=1.0, begin=0,
                              end=600, by_epoch=False)]),
    ('custom_hooks', [dict(type='AffinityLossDecayHook')]),
])
def test_hash_sees_the_evaluator_scheduler_and_hooks(key, value):
    """A study resumed after a change of metric, schedule or hooks must
    not reuse the records of the old config."""
    cfg = Config.fromfile(str(CAMVID / 'pspnet_r18_ce_camvid-cpu.py'))
    changed = cfg.copy()
    changed[key] = value
    assert config_hash(changed) != config_hash(cfg)


def test_hash_is_the_same_for_tuples_and_lists(tmp_path):
    text = ("model = dict(type='X', data_preprocessor=dict(size={}),\n"
            "             head=dict(kernel_sizes={}, pairs={}))\n")
    digests = []
    for spelling in (('(64, 64)', '(3, 5, 7)', '[(1, 2), (3, 4)]'),
                     ('[64, 64]', '[3, 5, 7]', '([1, 2], [3, 4])')):
        path = tmp_path / f'{len(digests)}.py'
        path.write_text(text.format(*spelling))
        digests.append(config_hash(Config.fromfile(str(path))))
    assert digests[0] == digests[1]
    path.write_text(text.format('[64, 65]', '[3, 5, 7]', '[[1, 2], [3, 4]]'))
    assert config_hash(Config.fromfile(str(path))) != digests[0]


@pytest.mark.parametrize('count', [10, 12])
def test_legacy_per_class_lists_of_another_length_are_refused(count):
    old = json.loads(LEGACY.read_text())
    old['per_class']['IoU'] = [50.0] * count
    with pytest.raises(ValueError, match=f'per-class IoU has {count} values '
                       'for 11 classes'):
        convert_legacy_record(old, '+aaf', '+ AAF', 'h', CAMVID_CLASSES)


def _study(tmp_path, loss_options, methods=('ce', '+aaf')):
    return Study(baseline=str(CAMVID / 'pspnet_r18_ce_camvid-cpu.py'),
                 methods=parse_methods(methods), seeds=[0],
                 work_dir=str(tmp_path / 'cmp'),
                 records_dir=str(tmp_path / 'records'),
                 loss_options=loss_options)


def test_a_converted_legacy_record_is_accepted_for_its_own_config(tmp_path):
    """The old PSPNet + AAF record (trained from the hand-written
    pspnet_r18_aaf_camvid-cpu.py) converts into a record that the study
    accepts for +aaf derived with downsample=4, and refuses for +aaf with
    the tool's default downsample=8: another config."""
    old = json.loads(LEGACY.read_text())
    tool = load_tool('tools/convert_compare_records.py')
    old_root = tmp_path / 'old'
    (old_root / 'aaf').mkdir(parents=True)
    (old_root / 'aaf' / 'seed0.json').write_text(json.dumps(old))
    assert tool.main([
        str(old_root), str(CAMVID / 'pspnet_r18_ce_camvid-cpu.py'),
        '--methods', 'ce', '+aaf', '--loss-options', 'downsample=4',
        '--out', str(tmp_path / 'records')]) == 0
    path = record_path(str(tmp_path / 'records'), 'aaf', 0)
    record = read_record(path)
    assert record['method'] == '+aaf' and record['name'] == '+ AAF'
    assert record['metrics'] == {k: v for k, v in old['metrics'].items()
                                 if k != 'thin_mIoU'}
    assert record['per_class']['classes'] == list(CAMVID_CLASSES)
    assert record['per_class']['IoU'] == old['per_class']['IoU']
    assert record['kernel_sizes'] == old['kernel_sizes']
    # The hand-written config's AAFLoss: the paper's sizes.
    assert record['kernel_size_candidates'] == [3, 5, 7]

    runs = plan_study(_study(tmp_path, dict(downsample=4)), lambda _: None)
    assert [(r.method.key, r.recorded) for r in runs] == [('ce', False),
                                                          ('+aaf', True)]
    with pytest.raises(StaleRecord, match='seed0.json was recorded for '
                       'another config'):
        plan_study(_study(tmp_path, None), lambda _: None)


def test_converted_and_fresh_records_agree_in_every_shared_field(tmp_path):
    """A record in the old layout, made of a fresh record's values,
    converts back into the fresh record field for field."""
    study = _study(tmp_path, dict(downsample=4))
    cfg = resolved_config(str(CAMVID / 'pspnet_r18_aaf_camvid-cpu.py'),
                          study)
    fresh = dict(
        format='mmseg_aaf.compare_record', version=1, method='+aaf',
        name='+ AAF', seed=1,
        config='configs/camvid/pspnet_r18_aaf_camvid-cpu.py',
        config_hash=config_hash(cfg), iters=600,
        metrics=dict(aAcc=80.0, mIoU=50.0, bFscore=30.0, mBIoU=33.0),
        per_class=dict(classes=list(CAMVID_CLASSES),
                       IoU=[float(i) for i in range(11)],
                       bFscore=[None] + [1.0] * 10, BIoU=[2.0] * 11),
        kernel_sizes=dict(edge=[3.5] * 11, nonedge=[6.0] * 11),
        kernel_size_candidates=[3, 5, 7],
        train_seconds=100.0, test_seconds=9.0)
    old = dict(model='pspnet', method='aaf', seed=1, config=fresh['config'],
               iters=600, metrics=dict(fresh['metrics'], thin_mIoU=4.0),
               per_class={k: v for k, v in fresh['per_class'].items()
                          if k != 'classes'},
               kernel_sizes=fresh['kernel_sizes'], train_seconds=100.0)
    converted = convert_legacy_record(old, '+aaf', '+ AAF',
                                      config_hash(cfg), CAMVID_CLASSES,
                                      (3, 5, 7))
    shared = set(converted) & set(fresh)
    assert shared >= {'format', 'version', 'method', 'name', 'seed',
                      'config', 'config_hash', 'iters', 'metrics',
                      'per_class', 'kernel_sizes', 'kernel_size_candidates',
                      'train_seconds'}
    for key in shared:
        assert converted[key] == fresh[key], key
    write_record(str(tmp_path / 'r.json'), converted)
    assert read_record(str(tmp_path / 'r.json'), config_hash(cfg)) == \
        converted
