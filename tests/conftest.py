# Copyright (c) mmseg_aaf contributors. All rights reserved.
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(__file__).resolve().parent / 'data'

# Two cores: keep intra-op threads from oversubscribing them. `make test`
# runs two pytest-xdist workers, one core each.
os.environ.setdefault('OMP_NUM_THREADS',
                      '1' if 'PYTEST_XDIST_WORKER' in os.environ else '2')

#: Devices the ``device`` fixture runs a test on.
DEVICES = ('cpu', 'cuda')


def pytest_addoption(parser):
    parser.addoption(
        '--device',
        choices=DEVICES,
        default=None,
        help='run only the tests that take the device fixture, and only on '
        'this device (tools/gpu_check.py runs them with --device cuda)')


def pytest_generate_tests(metafunc):
    if 'device' in metafunc.fixturenames:
        only = metafunc.config.getoption('--device')
        devices = [only] if only else list(DEVICES)
        if metafunc.definition.get_closest_marker('cuda_only'):
            devices = [d for d in devices if d == 'cuda']
        metafunc.parametrize('device', devices, indirect=True)


def pytest_collection_modifyitems(config, items):
    if config.getoption('--device') is None:
        return
    keep, drop = [], []
    for item in items:
        uses_device = 'device' in getattr(item, 'fixturenames', ())
        (keep if uses_device else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def device(request) -> str:
    """Each device a test must pass on: 'cpu', and 'cuda' where present."""
    import torch
    if request.param == 'cuda' and not torch.cuda.is_available():
        pytest.skip('CUDA not available')
    return request.param


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope='session')
def golden():
    import numpy as np
    with np.load(DATA_DIR / 'affinity_golden.npz') as data:
        return {key: data[key] for key in data.files}

TINY_CONFIG = DATA_DIR / 'configs' / 'tiny_pspnet_aaf.py'


@pytest.fixture(scope='session')
def tiny_data_root(tmp_path_factory) -> Path:
    from mmseg_aaf.testing.tiny_data import write_tiny_segmentation_dataset
    return write_tiny_segmentation_dataset(
        tmp_path_factory.mktemp('tiny') / 'data')


def tiny_config(data_root, work_dir, name, **overrides):
    """The tiny PSPNet + AAF config pointed at ``data_root``."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(TINY_CONFIG))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(data_root)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = name
    cfg.model.backbone.norm_cfg = dict(type='BN', requires_grad=True)
    cfg.model.decode_head.norm_cfg = dict(type='BN', requires_grad=True)
    cfg.merge_from_dict(overrides)
    return cfg


def tiny_cfg_options(data_root):
    """--cfg-options that point the tiny config at ``data_root``."""
    return [
        f'{loader}.dataset.data_root={data_root}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')
    ]


def load_tool(relative: str):
    """Import a script under tools/ (no package) as a module."""
    import importlib.util
    path = REPO_ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(args, cwd, env_extra=None, timeout=600):
    """Run a repo tool in a subprocess; fail with its output on error."""
    import subprocess
    import sys
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PATH=f'{Path(sys.executable).parent}:{os.environ["PATH"]}')
    env.update(env_extra or {})
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(
            f'{args} exited {proc.returncode}\n--- stdout\n'
            f'{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}')
    return proc


@pytest.fixture(autouse=True)
def mmseg_default_scope():
    """Every test starts in mmseg's default registry scope, whatever an
    earlier test on the same xdist worker left current (a Runner, mmdet's
    init, a test of another scope): otherwise a registry build resolves
    by the order pytest-xdist happened to hand out the files."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield
