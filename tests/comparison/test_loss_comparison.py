# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``tools/compare_losses.py``: the plan, the tables from records, and the
quick preset end to end (real trainings of every cell, synthetic scenes in
CamVid's SegNet layout), including a resumed rerun."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from mmseg_aaf.comparison.loss_comparison import (MODELS, THIN_CLASSES,
                                                  aaf_versus,
                                                  aaf_versus_markdown,
                                                  load_records,
                                                  paired_deltas,
                                                  paired_markdown, plan_runs,
                                                  record_path, seconds_left,
                                                  summary_markdown, thin_miou,
                                                  write_reports)
from mmseg_aaf.datasets.camvid import CAMVID_CLASSES
from tests.conftest import REPO_ROOT

TOOL = REPO_ROOT / 'tools' / 'compare_losses.py'
PSPNET, DEEPLAB = MODELS
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def keys(plan):
    return [(model.key, method.key, seed) for model, method, seed in plan]


def test_every_cell_runs_on_a_seed_before_the_next_seed():
    plan = keys(plan_runs(3, 3))
    cells = [(m.key, k.key) for m in MODELS for k in m.methods]
    assert plan[:len(cells)] == [(m, k, 0) for m, k in cells]
    # PSPNet's 5 cells and DeepLabV3+'s 4, 3 seeds each.
    assert len(plan) == 27 and len(set(plan)) == 27
    # The fixed-size affinity cell's later seeds are the last runs: the
    # first thing cut when the budget is short.
    assert plan[-2:] == [('pspnet', 'affinity', 1),
                         ('pspnet', 'affinity', 2)]
    short = keys(plan_runs(3, 1))
    assert len(short) == 25
    assert [r for r in short if r[1] == 'affinity'] == [
        ('pspnet', 'affinity', 0)]
    assert keys(plan_runs(1, 0)) == [
        ('pspnet', 'ce', 0), ('pspnet', 'lovasz', 0), ('pspnet', 'dice', 0),
        ('pspnet', 'aaf', 0), ('deeplabv3plus', 'ce', 0),
        ('deeplabv3plus', 'lovasz', 0), ('deeplabv3plus', 'dice', 0),
        ('deeplabv3plus', 'aaf', 0)]


def test_time_left_counts_only_runs_to_train_at_their_cells_pace():
    ce, lovasz, dice = PSPNET.methods[:3]
    assert seconds_left([(PSPNET, ce)], {}) is None  # nothing timed yet
    durations = {(PSPNET, ce): [100.0, 140.0], (PSPNET, lovasz): [360.0]}
    # CE at its 120 s, Lovász at 360 s, Dice (not timed) at the mean of
    # all three timed runs, 200 s.
    assert seconds_left([(PSPNET, ce), (PSPNET, lovasz), (PSPNET, dice)],
                        durations) == pytest.approx(680.0)
    assert seconds_left([], durations) == 0.0  # the rest is recorded


def test_the_cells_are_the_configs_of_the_issue():
    # The issue's grid, plus Lovász and Dice on the second model.
    assert [m.key for m in PSPNET.methods] == [
        'ce', 'lovasz', 'dice', 'affinity', 'aaf']
    assert [m.key for m in DEEPLAB.methods] == ['ce', 'lovasz', 'dice', 'aaf']
    for model in MODELS:
        for method in model.methods:
            assert (REPO_ROOT / 'configs' / 'camvid' / method.config).is_file()


def test_thin_miou_averages_the_five_thin_classes():
    iou = [float(i) for i in range(11)]
    expected = np.mean([CAMVID_CLASSES.index(c) for c in THIN_CLASSES])
    assert thin_miou(iou) == pytest.approx(expected)
    iou[CAMVID_CLASSES.index('pole')] = None
    rest = [CAMVID_CLASSES.index(c) for c in THIN_CLASSES if c != 'pole']
    assert thin_miou(iou) == pytest.approx(np.mean(rest))


def fake_record(model, method, seed, miou, bf=30.0, biou=20.0, thin=10.0):
    per_class = [float(seed + i) for i in range(11)]
    return dict(model=model, method=method, seed=seed,
                metrics=dict(mIoU=miou, bFscore=bf, mBIoU=biou,
                             thin_mIoU=thin, bRecall=0.0),
                per_class=dict(IoU=per_class, BIoU=per_class,
                               bFscore=[None] + per_class[1:]),
                kernel_sizes=None, train_seconds=1.0)


def write_fake_records(root, rows):
    for model, method, seed, *values in rows:
        path = record_path(str(root),
                           next(m for m in MODELS if m.key == model),
                           next(k for m in MODELS if m.key == model
                                for k in m.methods if k.key == method),
                           seed)
        (root / model / method).mkdir(parents=True, exist_ok=True)
        with open(path, 'w') as f:
            json.dump(fake_record(model, method, seed, *values), f)


def test_paired_table_counts_wins_on_shared_seeds_only(tmp_path):
    write_fake_records(tmp_path, [
        ('pspnet', 'ce', 0, 50.0), ('pspnet', 'ce', 1, 52.0),
        ('pspnet', 'ce', 2, 51.0),
        ('pspnet', 'aaf', 0, 51.0, 31.0), ('pspnet', 'aaf', 1, 51.5, 29.0),
        ('pspnet', 'aaf', 2, 53.0, 32.0),
        # seed 3 has no CE partner: not paired
        ('pspnet', 'aaf', 3, 10.0),
        ('pspnet', 'dice', 0, 53.0),
    ])
    records = load_records(str(tmp_path))['pspnet']
    deltas = paired_deltas(PSPNET, records)
    assert list(deltas) == ['dice', 'aaf']
    assert deltas['aaf']['mIoU']['seeds'] == [0, 1, 2]
    assert deltas['aaf']['mIoU']['deltas'] == pytest.approx([1.0, -0.5, 2.0])
    assert deltas['aaf']['mIoU']['wins'] == 2
    assert deltas['aaf']['bFscore']['wins'] == 2
    assert deltas['aaf']['mBIoU']['wins'] == 0  # ties are not wins
    text = paired_markdown(PSPNET, records)
    assert '| + AAF | 3 (mIoU: +1.00, -0.50, +2.00) | +0.83 (2/3) |' in text
    # The same pairs the other way round, as AAF against each method.
    versus = aaf_versus(PSPNET, records)
    assert list(versus) == ['ce', 'dice']
    assert versus['ce']['mIoU']['deltas'] == pytest.approx([1.0, -0.5, 2.0])
    assert versus['dice']['mIoU'] == dict(seeds=[0], deltas=[-2.0],
                                          mean=-2.0, wins=0)
    table = aaf_versus_markdown(PSPNET, records)
    assert ('| AAF - CE | 3 (mIoU: +1.00, -0.50, +2.00) | +0.83 (2/3) |'
            in table)
    assert '| AAF - Dice | 1 (mIoU: -2.00) | -2.00 (0/1) |' in table
    summary = summary_markdown(PSPNET, records).splitlines()
    assert summary[2] == ('| CE | 3 | 51.00 ± 1.00 | 30.00 ± 0.00 | '
                          '20.00 ± 0.00 | 10.00 ± 0.00 |')
    assert summary[3].startswith('| + Dice | 1 | 53.00 | ')
    assert summary[4].startswith('| + AAF | 4 | ')


def test_reports_from_partial_records(tmp_path):
    """A comparison cut off early still reports what it has."""
    write_fake_records(tmp_path / 'records', [
        ('pspnet', 'ce', 0, 50.0), ('pspnet', 'dice', 0, 49.0),
        ('deeplabv3plus', 'ce', 0, 45.0)])
    paths = write_reports(str(tmp_path / 'records'), str(tmp_path / 'out'))
    text = open(paths['md']).read()
    assert '## PSPNet' in text and '## DeepLabV3+' in text
    # Same seed, same fake per-class values: a zero delta row.
    assert '| + Dice - CE | +0.0 | +0.0 |' in text
    assert '+ AAF' not in text.split('## DeepLabV3+')[1]
    payload = json.load(open(paths['json']))
    assert payload['models']['pspnet']['paired']['dice']['mIoU'][
        'deltas'] == [-1.0]
    assert open(paths['png'], 'rb').read(8) == PNG_SIGNATURE


def test_chart_bottom_row_shows_the_paired_differences(tmp_path,
                                                        monkeypatch):
    """The chart's second row: one bar per method at its mean difference
    to CE on the shared seeds, one dot per seed, and no bar for CE."""
    import matplotlib.pyplot as plt

    from mmseg_aaf.comparison.loss_comparison import plot_measures
    write_fake_records(tmp_path, [
        ('pspnet', 'ce', 0, 50.0), ('pspnet', 'ce', 1, 52.0),
        ('pspnet', 'aaf', 0, 51.0), ('pspnet', 'aaf', 1, 51.5),
        ('pspnet', 'aaf', 2, 80.0),  # no CE partner: left out below
        ('pspnet', 'dice', 1, 55.0)])
    figures = []
    monkeypatch.setattr(plt, 'close', figures.append)
    plot_measures(str(tmp_path / 'chart.png'), load_records(str(tmp_path)))
    axes = figures[0].axes
    miou_delta = axes[len(axes) // 2]  # bottom row, first column
    assert miou_delta.get_title() == 'mIoU, minus CE per seed'
    heights = [bar.get_height() for bar in miou_delta.patches]
    assert heights == pytest.approx([3.0, 0.25])  # Dice, then AAF
    dots = [list(line.get_ydata()) for line in miou_delta.lines
            if line.get_marker() == '.']
    assert dots == [pytest.approx([3.0]), pytest.approx([1.0, -0.5])]


def run_tool(*args, cwd):
    return subprocess.run([sys.executable, str(TOOL), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.integration
def test_quick_preset_end_to_end_and_resumes(tmp_path):
    proc = run_tool('--quick', '--work-dir', 'runs', '--data-root', 'data',
                    '--threads', '1', cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = load_records(str(tmp_path / 'runs' / 'records'))
    # Every cell, 2 seeds, the affinity cell 1.
    assert {m: {k: len(v) for k, v in r.items()}
            for m, r in records.items()} == {
        'pspnet': dict(ce=2, lovasz=2, dice=2, affinity=1, aaf=2),
        'deeplabv3plus': dict(ce=2, lovasz=2, dice=2, aaf=2)}
    for cells in records.values():
        for runs in cells.values():
            for record in runs:
                assert record['iters'] == 2
                for key in ('mIoU', 'bFscore', 'mBIoU', 'thin_mIoU'):
                    assert math.isfinite(record['metrics'][key]), record
                assert len(record['per_class']['BIoU']) == 11
    # Different seeds train differently.
    ce = records['pspnet']['ce']
    assert ce[0]['per_class']['IoU'] != ce[1]['per_class']['IoU']
    aaf = records['deeplabv3plus']['aaf'][0]
    assert len(aaf['kernel_sizes']['edge']) == 11
    assert records['deeplabv3plus']['ce'][0]['kernel_sizes'] is None
    text = (tmp_path / 'runs' / 'results.md').read_text()
    assert 'Boundary IoU' in text and '| + Lovász |' in text
    assert (tmp_path / 'runs' / 'losses.png').read_bytes()[:8] == \
        PNG_SIGNATURE
    assert 'about' in proc.stdout and 'left' in proc.stdout  # the ETA

    # A rerun trains nothing: every run is recorded.
    again = run_tool('--quick', '--work-dir', 'runs', '--data-root', 'data',
                     '--threads', '1', cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count('(recorded)') == 17
    assert 'iter ' not in again.stdout


def test_bad_input_is_one_error_line(tmp_path):
    proc = run_tool(str(tmp_path / 'missing'), '--work-dir', 'runs',
                    cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr
    proc = run_tool(cwd=tmp_path)
    assert proc.returncode == 2 and 'give the CamVid folder' in proc.stderr
    proc = run_tool('--quick', '--seeds', '0', cwd=tmp_path)
    assert proc.returncode == 2 and '--seeds' in proc.stderr
