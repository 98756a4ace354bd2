# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``tools/demo.py --quick`` end to end, as a user runs it.

The run is cut to 60 iterations per method (``--iters``; the preset's 300
take three minutes): the same data, pipeline, tables and figures, with
models that are not trained to the end, which these checks do not need.
"""
import csv
import json
import math
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
METHODS = ['CE', 'CE + affinity', 'CE + AAF']
COLUMNS = ['mIoU', 'bF', 'mIoU_instance']


def test_quick_demo_end_to_end(tmp_path):
    work_dir = tmp_path / 'demo'
    proc = subprocess.run(
        [sys.executable,
         str(REPO_ROOT / 'tools' / 'demo.py'), '--quick', '--iters', '60',
         '--work-dir', str(work_dir)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (
        f'--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n'
        f'{proc.stderr[-6000:]}')
    out = proc.stdout

    # Progress lines for every method, then the table.
    for key in ('ce', 'affinity', 'aaf'):
        assert f'[{key}] iter' in out
    assert 'training 60 iterations' in out
    assert '| Method | mIoU | bF | mIoU_instance |' in out
    assert '| CE + AAF - CE |' in out

    for name in ('results.md', 'results.csv', 'results.json',
                 'qualitative.png', 'kernel_sizes.png'):
        assert (work_dir / name).is_file(), name
    for name in ('qualitative.png', 'kernel_sizes.png'):
        assert (work_dir / name).read_bytes()[:8] == PNG_SIGNATURE
    markdown = (work_dir / 'results.md').read_text()
    assert markdown in out

    rows = list(csv.reader((work_dir / 'results.csv').open()))
    assert rows[0] == ['Method'] + COLUMNS
    assert [row[0] for row in rows[1:4]] == METHODS
    assert [row[0] for row in rows[4:]] == [
        'CE + affinity - CE', 'CE + AAF - CE'
    ]
    for row in rows[1:4]:
        assert all(0 <= float(value) <= 100 for value in row[1:])

    results = json.loads((work_dir / 'results.json').read_text())
    assert list(results['methods']) == METHODS
    for method in results['methods'].values():
        metrics = method['metrics']
        for key in ('mIoU', 'bFscore', 'bPrecision', 'bRecall',
                    'mIoU_instance'):
            assert math.isfinite(metrics[key]) and 0 <= metrics[key] <= 100
    sizes = results['aaf_effective_kernel_sizes']
    for kind in ('edge', 'nonedge'):
        assert len(sizes[kind]) == 6
        assert all(3 <= size <= 7 for size in sizes[kind])
    # The checkpoints of the three runs exist.
    for key in ('ce', 'affinity', 'aaf'):
        assert list((work_dir / key).glob('iter_*.pth'))
