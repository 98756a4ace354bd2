# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``tools/camvid_comparison.py`` end to end on a miniature SegNet CamVid,
with 2-iteration schedules, and the pieces it is made of."""
import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmseg_aaf.comparison.camvid_comparison import (mean_std, plan_runs,
                                                    spread_frames,
                                                    summary_markdown,
                                                    thin_pixel_ranking)
from tests.conftest import REPO_ROOT
from tests.datasets.miniature import write_camvid_segnet

pytestmark = pytest.mark.integration

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
TOOL = REPO_ROOT / 'tools' / 'camvid_comparison.py'


def run(segnet, work, *args):
    proc = subprocess.run(
        [sys.executable, str(TOOL), str(segnet), '--work-dir',
         str(work / 'runs'), '--data-root', str(work / 'data'), '--iters',
         '2', '--seeds', '2', *args],
        cwd=work, capture_output=True, text=True, timeout=900)
    return proc


def test_plan_covers_every_method_on_the_first_seed():
    runs = [(m.key, s) for m, s in plan_runs(3, 1)]
    assert runs == [('ce', 0), ('aaf', 0), ('affinity', 0), ('ce', 1),
                    ('aaf', 1), ('ce', 2), ('aaf', 2)]
    assert [(m.key, s) for m, s in plan_runs(1, 2)] == [
        ('ce', 0), ('aaf', 0), ('affinity', 0), ('affinity', 1)]


def test_mean_std_is_the_sample_deviation():
    mean, std = mean_std([1.0, 2.0, 4.0])
    assert mean == pytest.approx(7 / 3)
    assert std == pytest.approx(np.std([1.0, 2.0, 4.0], ddof=1))
    assert math.isnan(mean_std([5.0])[1])


def test_summary_shows_spread_and_differences():
    def record(miou, bf, br):
        return dict(metrics=dict(mIoU=miou, bFscore=bf, bRecall=br))

    text = summary_markdown(
        {
            'CE': [record(50, 60, 70), record(52, 62, 72)],
            'CE + AAF': [record(53, 63, 74), record(55, 65, 76)],
            'CE + affinity': [record(51, 61, 71)],
        }, 'CE')
    lines = text.splitlines()
    assert lines[0] == '| Method | seeds | mIoU | bF | bRecall |'
    assert lines[2] == '| CE | 2 | 51.00 ± 1.41 | 61.00 ± 1.41 | 71.00 ± 1.41 |'
    assert lines[4] == '| CE + affinity | 1 | 51.00 | 61.00 | 71.00 |'
    assert lines[5] == '| CE + AAF - CE | | +3.00 | +3.00 | +4.00 |'
    assert lines[6] == '| CE + affinity - CE | | +0.00 | +0.00 | +0.00 |'


def test_qualitative_images_are_those_with_most_thin_pixels(tmp_path):
    for name, poles in (('a.png', 3), ('b.png', 10), ('c.png', 0)):
        label = np.zeros((8, 8), np.uint8)
        label.flat[:poles] = 2  # pole
        Image.fromarray(label).save(tmp_path / name)
    assert thin_pixel_ranking(str(tmp_path)) == ['b.png', 'a.png', 'c.png']


def test_figure_frames_are_spread_over_the_video():
    names = ['0016E5_08093.png', '0016E5_08091.png', '0016E5_07959.png',
             '0016E5_08155.png', '0001TP_008093.png', '0016E5_07961.png']
    assert spread_frames(names, 3) == [
        '0016E5_08093.png', '0016E5_07959.png', '0016E5_08155.png']
    assert spread_frames(names, 10) == [
        '0016E5_08093.png', '0016E5_07959.png', '0016E5_08155.png',
        '0001TP_008093.png']


def test_comparison_end_to_end_and_resumes(tmp_path):
    segnet = write_camvid_segnet(
        tmp_path / 'segnet', size=(90, 120),
        names=dict(train=['t0', 't1', 't2'], val=['v0', 'v1']))
    proc = run(segnet, tmp_path)
    assert proc.returncode == 0, (
        f'--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n'
        f'{proc.stderr[-6000:]}')
    out = proc.stdout
    assert 'pairs found: train 3, val 2' in out
    for key in ('ce seed 0', 'ce seed 1', 'aaf seed 0', 'aaf seed 1',
                'affinity seed 0'):
        assert f'[{key}] iter    2/2' in out, key
    assert '[5/5]' in out and '[6/' not in out
    runs = tmp_path / 'runs'
    # Converted at half scale.
    with Image.open(tmp_path / 'data' / 'ann_dir' / 'val' / 'v0.png') as im:
        assert im.size == (60, 45)

    markdown = (runs / 'results.md').read_text()
    assert markdown in out
    assert '| CE | 2 |' in markdown and '| CE + AAF | 2 |' in markdown
    assert '| CE + affinity | 1 |' in markdown
    assert '| CE + AAF - CE |' in markdown
    per_class = list(csv.reader((runs / 'per_class_iou.csv').open()))
    assert per_class[0][1:] == [
        'sky', 'building', 'pole', 'road', 'pavement', 'tree', 'signsymbol',
        'fence', 'car', 'pedestrian', 'bicyclist', 'mean'
    ]
    assert [row[0] for row in per_class[1:]] == [
        'CE', 'CE + affinity', 'CE + AAF', 'CE + affinity - CE',
        'CE + AAF - CE'
    ]
    rows = list(csv.reader((runs / 'results.csv').open()))
    assert rows[0] == ['Method', 'mIoU', 'bF', 'bRecall']
    assert len(rows) == 1 + 5
    summary = json.loads((runs / 'results.json').read_text())
    seeds = summary['methods']['CE']['seeds']
    assert len(seeds) == 2 and all(0 <= s['mIoU'] <= 100 for s in seeds)
    # The per-seed numbers are the tests' own: the table is their mean.
    mean = np.mean([s['mIoU'] for s in seeds])
    assert f'| CE | 2 | {mean:.2f} ±' in markdown
    sizes = summary['aaf_effective_kernel_sizes']
    assert len(sizes) == 2 and len(sizes[0]['edge']) == 11
    assert all(3 <= s <= 7 for s in sizes[0]['edge'] + sizes[0]['nonedge'])
    for name in ('kernel_sizes.png', 'qualitative.png'):
        assert (runs / name).read_bytes()[:8] == PNG_SIGNATURE
    assert summary['qualitative_images'] == ['v0.png', 'v1.png'] or \
        sorted(summary['qualitative_images']) == ['v0.png', 'v1.png']

    # A second run trains and tests nothing again.
    checkpoints = {p: p.stat().st_mtime_ns for p in runs.rglob('iter_2.pth')}
    assert len(checkpoints) == 5
    again = run(segnet, tmp_path)
    assert again.returncode == 0, again.stderr[-4000:]
    assert ' iter ' not in again.stdout
    assert again.stdout.count('trained: ') == 5
    assert {p: p.stat().st_mtime_ns
            for p in runs.rglob('iter_2.pth')} == checkpoints
    assert (runs / 'results.md').read_text() == markdown


def test_bad_source_fails_with_a_message(tmp_path):
    proc = run(tmp_path / 'nowhere', tmp_path)
    assert proc.returncode == 1
    assert 'is it the SegNet CamVid folder?' in proc.stderr
