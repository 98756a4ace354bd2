# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""A study small enough for the tests: the demo's CPU PSPNet on a few
synthetic images, through ``python -m mmseg_aaf.cli.compare``."""
import subprocess
import sys

from mmseg_aaf.comparison.synthetic import write_dataset
from tests.conftest import REPO_ROOT

BASELINE = str(REPO_ROOT / 'configs' / 'demo' / 'pspnet_ce_synthetic.py')


def write_data(root, num_val=5):
    """4 training and ``num_val`` test images (96 x 96)."""
    write_dataset(root, num_train=4, num_val=num_val, seed=0)
    return root


def study_args(data_root, *methods, seeds=2):
    """The study's arguments: the demo baseline on ``data_root``."""
    return [BASELINE, '--methods', *(methods or ('ce', '+aaf')),
            '--seeds', str(seeds), '--loss-options', 'downsample=2',
            '--cfg-options', f'train_dataloader.dataset.data_root={data_root}',
            f'test_dataloader.dataset.data_root={data_root}']


def compare(*args, cwd, timeout=900, **kwargs):
    return subprocess.run(
        [sys.executable, '-m', 'mmseg_aaf.cli.compare', *args], cwd=cwd,
        capture_output=True, text=True, timeout=timeout, **kwargs)


def without_timings(record: dict) -> dict:
    """A record less what a run measures of the machine, not the model."""
    return {k: v for k, v in record.items()
            if k not in ('train_seconds', 'test_seconds')}
