# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The demo as a study: its derived methods are the configs of
configs/demo/, its instance maps load, and ``tools/demo.py`` gives, through
the study engine, the metrics the demo's own runner gave before (that
runner's steps are spelled out here as the reference)."""
import inspect
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config
from mmseg.registry import TRANSFORMS

import mmseg_aaf  # noqa: F401
import mmseg_aaf.comparison  # noqa: F401  (registers LoadDemoInstanceMap)
from mmseg_aaf.comparison.demo import (BASELINE, CONFIG_DIR, LOSS_OPTIONS,
                                       METHODS, PRESETS, demo_study)
from mmseg_aaf.comparison.methods import derive_configs, parse_methods
from mmseg_aaf.comparison.synthetic import write_dataset
from mmseg_aaf.comparison.training import set_schedule
from mmseg_aaf.comparison.transforms import demo_instance_path
from tests.conftest import REPO_ROOT

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
#: The hand-written config of each derived method.
HAND_CONFIGS = {'ce': 'pspnet_ce_synthetic.py',
                '+affinity': 'pspnet_affinity_synthetic.py',
                '+aaf': 'pspnet_aaf_synthetic.py'}


def _losses(cfg):
    losses = cfg.model.decode_head.loss_decode
    return [losses] if isinstance(losses, dict) else list(losses)


def _without_defaults(loss: dict) -> dict:
    """A loss config without the settings that equal its class's
    defaults (the config tool writes some of them out)."""
    from mmseg.registry import MODELS
    defaults = {
        name: p.default for name, p in inspect.signature(
            MODELS.get(loss['type']).__init__).parameters.items()
        if p.default is not inspect.Parameter.empty}
    return {k: v for k, v in loss.items()
            if k == 'type' or defaults.get(k, object()) != v}


def test_derived_methods_are_the_demo_configs(tmp_path):
    methods = parse_methods(METHODS)
    paths = derive_configs(BASELINE, methods, str(tmp_path), LOSS_OPTIONS)
    for method in methods:
        derived = Config.fromfile(paths[method.key])
        hand = Config.fromfile(f'{CONFIG_DIR}/{HAND_CONFIGS[method.key]}')
        assert [_without_defaults(loss) for loss in _losses(derived)] == \
            [_without_defaults(loss) for loss in _losses(hand)], method.key
        for key in ('optim_wrapper', 'custom_hooks', 'param_scheduler',
                    'train_dataloader', 'test_dataloader', 'test_evaluator',
                    'randomness', 'train_cfg'):
            assert derived.get(key) == hand.get(key), (method.key, key)
        derived.model.decode_head.pop('loss_decode')
        hand.model.decode_head.pop('loss_decode')
        assert derived.model == hand.model
    aaf = _losses(Config.fromfile(paths['+aaf']))[1]
    assert aaf.type == 'AAFLoss' and tuple(aaf.kernel_sizes) == (3, 5, 7)
    assert aaf.downsample == 2


def test_demo_study_keeps_runs_of_other_settings_apart(tmp_path):
    full = demo_study(str(tmp_path), PRESETS['full'], seed=0)
    quick = demo_study(str(tmp_path), PRESETS['quick'], seed=0)
    other_seed = demo_study(str(tmp_path), PRESETS['full'], seed=1)
    assert len({full.work_dir, quick.work_dir, other_seed.work_dir}) == 3
    assert full.report_dir == quick.report_dir == str(tmp_path)
    assert full.iters == 800 and quick.iters == 300
    assert [m.key for m in full.methods] == list(METHODS)
    assert full.subsets == dict(thin=['wheel', 'pole', 'wire'])


def test_set_schedule_keeps_warmup_then_poly():
    cfg = Config.fromfile(BASELINE)
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


def _as_before(method_key, data_root, work_dir, iters, seed=0):
    """The demo's runner before it became a study: the method's own
    config, pointed at the data, seeded, rescheduled, trained and tested
    by one mmengine Runner."""
    from mmengine.runner import Runner
    cfg = Config.fromfile(f'{CONFIG_DIR}/{HAND_CONFIGS[method_key]}')
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.test_dataloader.dataset.data_root = data_root
    cfg.train_dataloader.batch_size = 8
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed, deterministic=True)
    set_schedule(cfg, iters)
    cfg.log_level = 'ERROR'
    runner = Runner.from_cfg(cfg)
    runner.train()
    return {k: float(v) for k, v in runner.test().items()}


@pytest.mark.integration
def test_demo_through_the_engine_gives_the_metrics_of_before(tmp_path):
    import torch
    iters = 20
    work_dir = tmp_path / 'demo'
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools' / 'demo.py'), '--quick',
         '--iters', str(iters), '--threads', '2', '--work-dir',
         str(work_dir)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (
        f'--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n'
        f'{proc.stderr[-6000:]}')
    out = proc.stdout
    assert 'Synthetic data: 96 train + 24 val images, seed 0' in out
    for key in METHODS:
        assert f'[{key} seed 0] iter' in out
    assert '| Method | seeds | mIoU | bF | mIoU_instance | thin mIoU |' in out
    for name in ('results.md', 'results.json', 'chart.png',
                 'qualitative.png', 'kernel_sizes_aaf.png'):
        assert (work_dir / name).is_file(), name
    for name in ('chart.png', 'qualitative.png', 'kernel_sizes_aaf.png'):
        assert (work_dir / name).read_bytes()[:8] == PNG_SIGNATURE
    assert (work_dir / 'results.md').read_text() in out

    results = json.loads((work_dir / 'results.json').read_text())
    assert list(results['methods']) == list(METHODS)
    runs = {key: method['runs'] for key, method in
            results['methods'].items()}
    assert all(len(r) == 1 and r[0]['iters'] == iters
               and r[0]['test_images'] == 24 for r in runs.values())
    sizes = runs['+aaf'][0]['kernel_sizes']
    assert all(3 <= s <= 7 for s in sizes['edge'] + sizes['nonedge'])

    data_root = next((work_dir / 'data').iterdir())
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for key in METHODS:
            before = _as_before(key, str(data_root),
                                str(tmp_path / 'before' / key), iters)
            after = runs[key][0]['metrics']
            assert after == before, key
            assert all(math.isfinite(v) for v in after.values())
    finally:
        torch.set_num_threads(threads)
    # The methods differ: the pairwise losses were trained with.
    for slug, loss in (('affinity', 'loss_affinity'), ('aaf', 'loss_aaf')):
        scalars = next(work_dir.glob(
            f'runs/*/{slug}/seed0/*/vis_data/scalars.json')).read_text()
        assert f'decode.{loss}' in scalars, slug
    assert runs['ce'][0]['kernel_sizes'] is None

    # A rerun continues from the records: nothing is trained again.
    again = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools' / 'demo.py'), '--quick',
         '--iters', str(iters), '--work-dir', str(work_dir)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert '(written before)' in again.stdout
    assert again.stdout.count('(recorded)') == 3
    assert ' iter ' not in again.stdout
