# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""configs/drive/: the CPU recipe (what it changes in mmseg's zoo config; 2
iterations with the real Runner on a miniature DRIVE converted by mmseg's
converter, then tested with the full evaluator), the AAF derivation its
header documents, and the AAF twins of mmseg's six DRIVE zoo configs (what
the config tool writes)."""
import math
import re
import shlex
import shutil
import sys
from pathlib import Path

import mmseg
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import mmseg_aaf  # noqa: F401  (registers the plugin; weights-only loads)
from mmseg_aaf.datasets.drive_conversion import convert_drive
from tests.conftest import REPO_ROOT, run_tool
from tests.configs.config_runs import (assert_written_by_the_config_tool,
                                      changed_keys, covered, scalars)
from tests.configs.test_aaf_configs import load_upstream
from tests.datasets.miniature import write_drive_zips

pytestmark = pytest.mark.integration

CONFIG_DIR = REPO_ROOT / 'configs' / 'drive'
CPU_RECIPE = 'unet-s5-d16_fcn_ce_drive-64x64-cpu.py'
ZOO = 'unet/unet-s5-d16_fcn_4xb4-40k_drive-64x64.py'
ZOO_DRIVE = sorted(
    p.stem for p in (Path(mmseg.__file__).parent / '.mim' / 'configs' /
                     'unet').glob('*drive*.py'))
#: The AAF setting of configs/drive/README.md, in the tool's words.
AAF_OPTIONS = ['--loss-options', 'downsample=1']
#: What the full evaluator returns.
METRIC_KEYS = ('aAcc', 'mDice', 'mIoU', 'bPrecision', 'bRecall', 'bFscore',
               'mBIoU', 'clDice', 'Tprec', 'Tsens')


def load(path) -> Config:
    return Config.fromfile(str(path))


# ------------------------------------------------------------- the twins


def test_each_zoo_drive_config_has_its_twin():
    assert len(ZOO_DRIVE) == 6
    twins = {p.name for p in CONFIG_DIR.glob('*_aaf.py')
             if not p.name.endswith('-cpu_aaf.py')}
    assert twins == {f'{name}_aaf.py' for name in ZOO_DRIVE}


def test_cpu_dice_recipe_is_the_recipe_plus_mmsegs_dice(tmp_path):
    """The DRIVE study's + Dice: the CE recipe plus the DiceLoss of
    mmseg's CE 1.0 + Dice 3.0 DRIVE config, nothing else; its AAF twin is
    what the config tool writes."""
    dice = CONFIG_DIR / 'unet-s5-d16_fcn_ce-1.0-dice-3.0_drive-64x64-cpu.py'
    recipe = load(CONFIG_DIR / CPU_RECIPE)
    cfg = load(dice)
    zoo = load_upstream(
        'unet/unet-s5-d16_fcn_4xb4-ce-1.0-dice-3.0-40k_drive-64x64.py',
        tmp_path)
    losses = cfg.model.decode_head.loss_decode
    assert losses[0] == recipe.model.decode_head.loss_decode
    assert losses[1] == zoo.model.decode_head.loss_decode[1]
    cfg.model.decode_head.loss_decode = recipe.model.decode_head.loss_decode
    assert cfg.to_dict() == recipe.to_dict()
    assert_written_by_the_config_tool(
        CONFIG_DIR / f"{dice.stem}_aaf.py",
        [str(dice.relative_to(REPO_ROOT))] + AAF_OPTIONS,
        tmp_path)


@pytest.mark.parametrize('name', ZOO_DRIVE)
def test_twin_is_what_the_config_tool_writes(name, tmp_path):
    twin = CONFIG_DIR / f'{name}_aaf.py'
    assert_written_by_the_config_tool(twin, [f'mmseg::unet/{name}.py'] +
                                      AAF_OPTIONS, tmp_path)
    cfg = load(twin)
    aaf = cfg.model.decode_head.loss_decode[-1]
    assert (aaf.type, aaf.num_classes, aaf.downsample,
            tuple(aaf.kernel_sizes)) == ('AAFLoss', 2, 1, (3, 5, 7))
    assert cfg.optim_wrapper.type == 'AdversarialOptimWrapper'


# ------------------------------------------------------- the CPU recipe


def test_cpu_recipe_changes_what_its_header_says(tmp_path):
    cfg = load(CONFIG_DIR / CPU_RECIPE)
    zoo = load_upstream(ZOO, tmp_path)
    allowed = {
        # width and norm
        'model.backbone.base_channels', 'model.backbone.norm_cfg.type',
        'model.decode_head.in_channels', 'model.decode_head.channels',
        'model.decode_head.norm_cfg.type',
        'model.auxiliary_head.in_channels', 'model.auxiliary_head.channels',
        'model.auxiliary_head.norm_cfg.type',
        # class-balanced CE
        'model.decode_head.loss_decode', 'model.auxiliary_head.loss_decode',
        # schedule, loading, evaluation, runtime
        'train_cfg.max_iters', 'train_cfg.val_interval', 'param_scheduler',
        'default_hooks.checkpoint', 'train_dataloader.num_workers',
        'train_dataloader.persistent_workers', 'val_dataloader.num_workers',
        'val_dataloader.persistent_workers', 'test_dataloader.num_workers',
        'test_dataloader.persistent_workers', 'val_evaluator',
        'test_evaluator', 'env_cfg.cudnn_benchmark', 'env_cfg.dist_cfg',
        'randomness', 'custom_imports',
        # the recipe's own names and the evaluation fragment's
        'max_iters', 'base_channels', 'norm_cfg', 'class_weight',
        'weighted_ce_loss', 'drive_vessels_evaluator'
    }
    assert covered(changed_keys(cfg, zoo), allowed) == set()
    assert 'SyncBN' not in str(cfg.model)
    assert cfg.model.backbone.base_channels == 16
    # Class weights: 1/sqrt(frequency), a mean of 1 over the training
    # pixels (8.6% vessel).
    ce = cfg.model.decode_head.loss_decode
    fractions = np.array([0.9137, 0.0863])
    weights = np.array(ce.class_weight)
    assert (fractions * weights).sum() == pytest.approx(1, abs=1e-3)
    assert weights[1] / weights[0] == pytest.approx(
        math.sqrt(fractions[0] / fractions[1]), rel=1e-3)
    assert ce.reduction == 'none'
    assert cfg.model.auxiliary_head.loss_decode == dict(ce, loss_weight=0.4)
    [poly] = cfg.param_scheduler
    assert poly.end == cfg.train_cfg.max_iters == cfg.train_cfg.val_interval
    # Tested as the zoo config tests: sliding 64x64 windows on validation.
    assert cfg.model.test_cfg == zoo.model.test_cfg
    assert cfg.test_dataloader.dataset == zoo.test_dataloader.dataset
    assert [m['type'] for m in cfg.test_evaluator] == [
        'PerClassIoUMetric', 'BoundaryMetric', 'BoundaryIoUMetric',
        'CenterlineDiceMetric'
    ]
    assert cfg.test_evaluator[0]['iou_metrics'] == ['mDice', 'mIoU']
    assert cfg.val_evaluator == cfg.test_evaluator


@pytest.fixture(scope='module')
def drive_root(tmp_path_factory) -> Path:
    """A miniature DRIVE converted by mmseg's converter (as make drive)."""
    root = tmp_path_factory.mktemp('drive')
    out = root / 'data' / 'DRIVE'
    report = convert_drive(str(write_drive_zips(root / 'download')),
                           str(out))
    assert not report.failed(), report.lines()
    return out


def two_iterations(cfg: Config, data_root: Path, work_dir: Path,
                   name: str) -> Runner:
    """Train ``cfg`` for 2 iterations on ``data_root`` with the real Runner
    (validation after them) and return the runner; besides the data root,
    the iterations and the names, only the test-time scale changes."""
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = name
    # A visualizer of its own: mmseg's runtime names it 'visualizer', and a
    # second runner in the process would log into the first one's work dir.
    cfg.visualizer.name = name
    cfg.train_cfg.max_iters = 2
    cfg.train_cfg.val_interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.train_dataloader.dataset.dataset.data_root = str(data_root)
    for loader in ('val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(data_root)
        # 128 instead of 584 pixels: 9 sliding windows per image, not 182.
        for transform in cfg[loader].dataset.pipeline:
            if transform['type'] == 'Resize':
                transform['scale'] = (128, 128)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def finite_losses(work_dir: Path, keys):
    rows = [row for row in scalars(work_dir) if 'loss' in row]
    assert len(rows) == 2
    for row in rows:
        for key in keys:
            assert key in row and math.isfinite(row[key]), (key, row)


def test_cpu_recipe_trains_and_tests_on_miniature_drive(drive_root,
                                                        tmp_path):
    cfg = load(CONFIG_DIR / CPU_RECIPE)
    runner = two_iterations(cfg, drive_root, tmp_path / 'work', 'drive-ce')
    finite_losses(tmp_path / 'work', ['loss', 'decode.loss_ce',
                                      'aux.loss_ce'])
    assert (tmp_path / 'work' / 'iter_2.pth').is_file()
    metrics = runner.test()
    assert set(METRIC_KEYS) <= set(metrics)
    for key in METRIC_KEYS:
        assert 0 <= metrics[key] <= 100, (key, metrics)
    assert len(runner.test_dataloader.dataset) == 2


def documented_commands(path: Path):
    """The ``python tools/aaf_config.py ...`` commands of a config's header
    comment, continuation lines joined, as argument lists."""
    header = ''.join(
        line[1:] for line in path.read_text().splitlines(keepends=True)
        if line.startswith('#'))
    header = header.replace('\\\n', ' ')
    return [
        shlex.split(line.strip())
        for line in header.splitlines()
        if line.strip().startswith('python tools/aaf_config.py')
    ]


def test_documented_aaf_twin_of_the_recipe_trains(drive_root, tmp_path):
    [command] = documented_commands(CONFIG_DIR / CPU_RECIPE)
    assert command[command.index('--loss-options') + 1:] == AAF_OPTIONS[1:]
    # Run in a copy of the checkout's configs/ and tools/ layout.
    shutil.copytree(REPO_ROOT / 'configs', tmp_path / 'configs')
    run_tool([sys.executable, str(REPO_ROOT / 'tools' / 'aaf_config.py')] +
             command[2:], cwd=tmp_path)
    twin = tmp_path / command[command.index('--out') + 1]
    assert re.search(r"_base_ = 'unet-s5-d16_fcn_ce_drive-64x64-cpu.py'",
                     twin.read_text())
    cfg = load(twin)
    ce, aaf = cfg.model.decode_head.loss_decode
    assert ce == load(CONFIG_DIR / CPU_RECIPE).model.decode_head.loss_decode
    assert (aaf.type, aaf.downsample, tuple(aaf.kernel_sizes)) == (
        'AAFLoss', 1, (3, 5, 7))
    runner = two_iterations(cfg, drive_root, tmp_path / 'work', 'drive-aaf')
    finite_losses(tmp_path / 'work', ['loss', 'decode.loss_ce',
                                      'decode.loss_aaf'])
    assert runner.optim_wrapper.__class__.__name__ == (
        'AdversarialOptimWrapper')
