# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The demo's configs, instance loading, schedule and report."""
import math

import numpy as np
import pytest
from mmengine.config import Config
from mmseg.registry import TRANSFORMS

import mmseg_aaf  # noqa: F401
import mmseg_aaf.comparison  # noqa: F401  (registers LoadDemoInstanceMap)
from mmseg_aaf.comparison.report import benchmark_table, plot_qualitative
from mmseg_aaf.comparison.runner import (CONFIG_DIR, METHODS, PRESETS,
                                         build_config, set_schedule)
from mmseg_aaf.comparison.synthetic import CLASSES, PALETTE, write_dataset
from mmseg_aaf.comparison.transforms import demo_instance_path
from mmseg_aaf.evaluation.tables import to_csv, to_markdown

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def _losses(cfg):
    losses = cfg.model.decode_head.loss_decode
    return [losses] if isinstance(losses, dict) else list(losses)


def test_method_configs():
    cfgs = {m.key: Config.fromfile(f'{CONFIG_DIR}/{m.config}')
            for m in METHODS}
    assert [m.key for m in METHODS] == ['ce', 'affinity', 'aaf']
    assert [l.type for l in _losses(cfgs['ce'])] == ['CrossEntropyLoss']
    affinity = _losses(cfgs['affinity'])[1]
    aaf = _losses(cfgs['aaf'])[1]
    assert affinity.type == 'AffinityLoss'
    assert tuple(affinity.kernel_sizes) == (3, )
    assert aaf.type == 'AAFLoss' and tuple(aaf.kernel_sizes) == (3, 5, 7)
    assert affinity.downsample == aaf.downsample
    assert cfgs['aaf'].optim_wrapper.type == 'AdversarialOptimWrapper'
    # Same optimizer and model otherwise.
    assert cfgs['aaf'].optim_wrapper.optimizer == cfgs[
        'ce'].optim_wrapper.optimizer
    assert cfgs['aaf'].model.backbone == cfgs['ce'].model.backbone
    for key in ('affinity', 'aaf'):
        assert [h.type for h in cfgs[key].custom_hooks] == [
            'AffinityLossDecayHook'
        ]
    assert 'custom_hooks' not in cfgs['ce']
    assert cfgs['ce'].model.backbone.get('init_cfg') is None
    assert cfgs['ce'].model.pretrained is None
    assert {e.type for e in cfgs['ce'].test_evaluator} == {
        'IoUMetric', 'BoundaryMetric', 'InstanceIoUMetric'
    }


def test_build_config_sets_data_work_dir_and_schedule(tmp_path):
    preset = PRESETS['quick']
    cfg = build_config(METHODS[2], str(tmp_path / 'data'),
                       str(tmp_path / 'aaf'), preset, seed=7)
    assert cfg.train_dataloader.dataset.data_root == str(tmp_path / 'data')
    assert cfg.test_dataloader.dataset.data_root == str(tmp_path / 'data')
    assert cfg.work_dir == str(tmp_path / 'aaf')
    assert cfg.randomness == dict(seed=7, deterministic=True)
    assert cfg.train_cfg.max_iters == preset.iters
    assert cfg.default_hooks.checkpoint.interval == preset.iters
    assert cfg.train_dataloader.num_workers == 0


def test_set_schedule_keeps_warmup_then_poly():
    cfg = Config.fromfile(f'{CONFIG_DIR}/{METHODS[0].config}')
    set_schedule(cfg, 60)
    warmup, poly = cfg.param_scheduler
    assert (warmup.begin, warmup.end) == (0, 6)
    assert (poly.begin, poly.end) == (6, 60)
    assert cfg.train_cfg.max_iters == 60


def test_load_demo_instance_map(tmp_path):
    root = tmp_path / 'data'
    write_dataset(root, num_train=1, num_val=1, seed=0)
    seg_map = root / 'ann_dir' / 'val' / 'val_0000.png'
    assert demo_instance_path(str(seg_map)) == str(
        root / 'inst_dir' / 'val' / 'val_0000.png')
    with pytest.raises(ValueError, match='ann_dir'):
        demo_instance_path('/x/labels/a.png')
    pipeline = [
        TRANSFORMS.build(t) for t in (
            dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='LoadDemoInstanceMap'),
            dict(type='PackSegInputsWithInstances'))
    ]
    results = dict(
        img_path=str(root / 'img_dir' / 'val' / 'val_0000.png'),
        seg_map_path=str(seg_map), reduce_zero_label=False, seg_fields=[])
    for transform in pipeline:
        results = transform(results)
    sample = results['data_samples']
    from PIL import Image
    expected = np.asarray(Image.open(root / 'inst_dir' / 'val' /
                                     'val_0000.png'))
    packed = sample.gt_instance_seg.data.numpy()
    assert packed.shape == (1, 96, 96)
    np.testing.assert_array_equal(packed[0], expected)
    assert expected.max() > 1


def test_benchmark_table_and_figure(tmp_path):
    metrics = {
        'CE': dict(mIoU=50.0, bFscore=40.0, mIoU_instance=30.0),
        'CE + affinity': dict(mIoU=51.5, bFscore=39.0, mIoU_instance=31.0),
        'CE + AAF': dict(mIoU=52.0, bFscore=41.25, mIoU_instance=29.0),
    }
    table = benchmark_table(metrics, 'CE')
    assert table.columns == ['mIoU', 'bF', 'mIoU_instance']
    assert [name for name, _ in table.delta_rows] == [
        'CE + affinity - CE', 'CE + AAF - CE'
    ]
    assert table.delta_rows[1][1] == pytest.approx([2.0, 1.25, -1.0])
    markdown = to_markdown(table, 2)
    assert '| CE + AAF - CE | +2.00 | +1.25 | -1.00 |' in markdown
    assert to_csv(table, 2).splitlines()[0] == 'Method,mIoU,bF,mIoU_instance'
    assert all(not math.isnan(v) for _, row in table.rows for v in row)

    rng = np.random.default_rng(0)
    label = rng.integers(0, len(CLASSES), (8, 8)).astype(np.uint8)
    path = plot_qualitative(
        str(tmp_path / 'q.png'),
        images=[np.zeros((8, 8, 3), np.uint8)] * 2,
        ground_truths=[label] * 2,
        predictions={name: [label] * 2 for name in metrics},
        classes=CLASSES,
        palette=PALETTE,
        names=['a', 'b'])
    assert open(path, 'rb').read(8) == PNG_SIGNATURE
