# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""What the config tests share: comparing configs key by key, the
--cfg-options and outputs of 2-iteration tool runs on miniature data, and
committed twins against what the config tool writes now."""
import json
import shutil
import sys
from pathlib import Path

from mmengine.config import Config

from tests.conftest import REPO_ROOT, run_tool

#: Crop and test-time scale of the miniature runs (CPU-sized).
CROP = (64, 64)
TEST_SCALE = (128, 64)


def flatten(node, prefix=''):
    """{'a.b': leaf} for nested dicts; lists and tuples are leaves."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out.update(flatten(value, f'{prefix}{key}.'))
        return out
    return {prefix[:-1]: node}


def changed_keys(cfg: Config, base: Config):
    a, b = flatten(cfg.to_dict()), flatten(base.to_dict())
    return {k for k in a.keys() | b.keys() if a.get(k, KeyError) !=
            b.get(k, KeyError)}


def covered(keys, allowed):
    """Keys not equal to or below one of the ``allowed`` prefixes."""
    return {
        k for k in keys
        if not any(k == p or k.startswith(p + '.') for p in allowed)
    }


def _pipeline_options(prefix, pipeline, values):
    return [
        f'{prefix}.{i}.{key}={value}'
        for i, t in enumerate(pipeline) for (kind, key), value in
        values.items() if t['type'] == kind
    ]


def small_run_options(cfg: Config, norm=True):
    """--cfg-options for a tiny run: crop, iterations, norm, test scale."""
    crop = f'({CROP[0]},{CROP[1]})'
    options = [
        'train_cfg.max_iters=2', f'model.data_preprocessor.size={crop}'
    ]
    train = cfg.train_dataloader.dataset
    datasets = ([(f'train_dataloader.dataset.datasets.{i}', d)
                 for i, d in enumerate(train.datasets)]
                if train.type == 'ConcatDataset' else
                [('train_dataloader.dataset', train)])
    for prefix, dataset in datasets:
        options += _pipeline_options(f'{prefix}.pipeline', dataset.pipeline, {
            ('RandomCrop', 'crop_size'): crop,
            ('Pad', 'size'): crop
        })
    if norm:
        options += [
            f'model.{part}.norm_cfg.type=BN'
            for part in ('backbone', 'decode_head', 'auxiliary_head')
            if cfg.model.get(part, {}).get('norm_cfg')
        ]
    return options + eval_scale_options(cfg)


def eval_scale_options(cfg: Config):
    scale = f'({TEST_SCALE[0]},{TEST_SCALE[1]})'
    options = []
    for loader in ('val_dataloader', 'test_dataloader'):
        options += _pipeline_options(f'{loader}.dataset.pipeline',
                                     cfg[loader].dataset.pipeline,
                                     {('Resize', 'scale'): scale})
    return options


def scalars(work_dir: Path):
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert files, f'no training log under {work_dir}'
    return [json.loads(line) for line in files[-1].read_text().splitlines()]


def metrics_json(work_dir: Path):
    files = sorted(work_dir.glob('*/*.json'))
    assert files, f'no metrics json under {work_dir}'
    return json.loads(files[-1].read_text())


def assert_written_by_the_config_tool(committed: Path, args, tmp_path: Path):
    """``committed`` (a twin under configs/) is, byte for byte, what
    tools/aaf_config.py writes with ``args`` (the source config and its
    options) and ``--out`` at the same place; run in a copy of configs/ so
    that relative _base_ paths are the same."""
    shutil.copytree(REPO_ROOT / 'configs', tmp_path / 'configs')
    relative = committed.relative_to(REPO_ROOT)
    (tmp_path / relative).unlink()
    run_tool(
        [sys.executable, str(REPO_ROOT / 'tools' / 'aaf_config.py')] +
        list(args) + ['--out', str(relative)], cwd=tmp_path)
    assert (tmp_path / relative).read_text() == committed.read_text()
