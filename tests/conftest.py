# Copyright (c) mmseg_aaf contributors. All rights reserved.
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(__file__).resolve().parent / 'data'

# Two cores: keep intra-op threads from oversubscribing subprocess runs.
os.environ.setdefault('OMP_NUM_THREADS', '2')


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope='session')
def golden():
    import numpy as np
    with np.load(DATA_DIR / 'affinity_golden.npz') as data:
        return {key: data[key] for key in data.files}
