# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The reports of ``mmseg-aaf-compare`` against hand-computed records:
mean ± sample std, paired differences and wins (ties are not), the focus
table, class subsets, per-class tables, the chart, and stale records."""
import json
import math

import numpy as np
import pytest

from mmseg_aaf.comparison.methods import parse_methods
from mmseg_aaf.comparison.records import (FORMAT_NAME, FORMAT_VERSION,
                                          StaleRecord, read_record,
                                          record_path, write_record)
from mmseg_aaf.comparison.study import Study, StudyError, seconds_left
from mmseg_aaf.comparison.study_report import (ReportError, focus_versus,
                                               paired_deltas, plot_measures,
                                               summary_markdown,
                                               write_reports)

CLASSES = ['road', 'pole', 'sign', 'car']
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def record(method, seed, miou, bf=30.0, iou=None, digest='h'):
    return dict(
        format=FORMAT_NAME, version=FORMAT_VERSION, method=method,
        name=method, seed=seed, config='x.py', config_hash=digest, iters=2,
        metrics=dict(aAcc=90.0, mIoU=miou, bFscore=bf),
        per_class=dict(classes=CLASSES,
                       IoU=iou or [80.0, 10.0 + seed, None, 50.0],
                       bFscore=[1.0, 2.0, 3.0, 4.0]),
        kernel_sizes=None, train_seconds=10.0, test_seconds=1.0)


def make_study(tmp_path, methods=('ce', '+dice', '+aaf'), **kwargs):
    kwargs.setdefault('seeds', [0, 1, 2])
    return Study(baseline='configs/x.py', methods=parse_methods(methods),
                 work_dir=str(tmp_path), **kwargs)


def write(study, rows):
    for method, seed, *values in rows:
        slug = method.lstrip('+')
        write_record(record_path(study.records_dir, slug, seed),
                     record(method, seed, *values))


def test_summary_is_mean_and_sample_std(tmp_path):
    study = make_study(tmp_path)
    write(study, [('ce', 0, 50.0), ('ce', 1, 52.0), ('ce', 2, 57.0),
                  ('+aaf', 0, 51.0)])
    from mmseg_aaf.comparison.study_report import _records_by_method
    records = _records_by_method(study)
    lines = summary_markdown(study, records).splitlines()
    assert lines[0] == '| Method | seeds | aAcc | mIoU | bF |'
    # mean 53, sample std sqrt(((-3)^2 + (-1)^2 + 4^2) / 2) = sqrt(13)
    assert lines[2] == (f'| CE | 3 | 90.00 ± 0.00 | 53.00 ± '
                        f'{math.sqrt(13):.2f} | 30.00 ± 0.00 |')
    assert lines[3] == '| + AAF | 1 | 90.00 | 51.00 | 30.00 |'


def test_paired_differences_count_wins_not_ties(tmp_path):
    study = make_study(tmp_path, measures=['mIoU', 'bFscore'])
    write(study, [
        ('ce', 0, 50.0, 30.0), ('ce', 1, 52.0, 30.0), ('ce', 2, 51.0, 30.0),
        ('+aaf', 0, 51.0, 31.0), ('+aaf', 1, 51.5, 30.0),
        ('+aaf', 2, 53.0, 29.0), ('+dice', 1, 53.0, 30.0)])
    from mmseg_aaf.comparison.study_report import _records_by_method
    records = _records_by_method(study)
    deltas = paired_deltas(study, records)
    assert list(deltas) == ['+dice', '+aaf']
    assert deltas['+aaf']['mIoU']['deltas'] == pytest.approx([1.0, -0.5,
                                                              2.0])
    assert deltas['+aaf']['mIoU']['mean'] == pytest.approx(2.5 / 3)
    assert deltas['+aaf']['mIoU']['wins'] == 2
    assert deltas['+aaf']['bFscore']['wins'] == 1  # a tie on seed 1
    assert deltas['+dice']['mIoU'] == dict(seeds=[1], deltas=[1.0],
                                           mean=1.0, wins=1)
    assert study.focus == ['+aaf']  # by default the last method
    versus = focus_versus(study, records, '+aaf')
    assert list(versus) == ['ce', '+dice']
    assert versus['+dice']['mIoU']['deltas'] == [-1.5]
    assert focus_versus(study, records, '+dice')['+aaf']['mIoU'][
        'deltas'] == [1.5]
    paths = write_reports(study)
    text = open(paths['md']).read()
    assert ('| + AAF | 3 (mIoU: +1.00, -0.50, +2.00) | +0.83 (2/3) | '
            '+0.00 (1/3) |') in text
    assert '| AAF - Dice | 1 (mIoU: -1.50) | -1.50 (0/1) | +0.00 (0/1) |' \
        in text
    payload = json.load(open(paths['json']))
    assert payload['paired']['+aaf']['mIoU']['wins'] == 2
    assert payload['focus_versus']['+aaf']['ce']['mIoU']['wins'] == 2
    # Two focus methods: a table each.
    two = make_study(tmp_path, measures=['mIoU'], focus=['+aaf', '+dice'])
    text = open(write_reports(two)['md']).read()
    assert 'AAF minus each other method' in text
    assert '| Dice - AAF | 1 (mIoU: +1.50) | +1.50 (1/1) |' in text
    assert payload['measures'] == ['mIoU', 'bFscore']
    assert open(paths['png'], 'rb').read(8) == PNG_SIGNATURE


def test_subsets_average_the_named_classes(tmp_path):
    study = make_study(tmp_path, methods=['ce', '+aaf'],
                       subsets=dict(thin=['pole', 'sign']))
    write(study, [('ce', 0, 50.0, 30.0, [80.0, 10.0, 20.0, 50.0]),
                  ('+aaf', 0, 50.0, 30.0, [80.0, 14.0, None, 50.0])])
    from mmseg_aaf.comparison.study_report import _records_by_method
    records = _records_by_method(study)
    assert paired_deltas(study, records)['+aaf']['thin_mIoU']['deltas'] == \
        [14.0 - 15.0]  # an undefined class is left out of the mean
    text = open(write_reports(study)['md']).read()
    assert '| Method | seeds | aAcc | mIoU | bF | thin mIoU |' in text
    assert '| + AAF - CE | +0.0 | +4.0 | - | +0.0 |' in text
    # Any per-class measure, by name.
    bf = make_study(tmp_path, methods=['ce', '+aaf'],
                    subsets=dict(thin=['pole', 'sign']),
                    measures=['thin_mbFscore', 'thin_mIoU'])
    assert paired_deltas(bf, records)['+aaf']['thin_mbFscore']['deltas'] == \
        [0.0]
    assert '| Method | seeds | thin mbFscore | thin mIoU |' in open(
        write_reports(bf)['md']).read()
    missing = make_study(tmp_path, methods=['ce', '+aaf'],
                         subsets=dict(thin=['pole']), measures=['thin_mDice'])
    with pytest.raises(ReportError, match='needs per-class Dice'):
        write_reports(missing)
    bad = make_study(tmp_path, methods=['ce', '+aaf'],
                     subsets=dict(thin=['pole', 'tram']))
    with pytest.raises(ReportError, match='no class tram'):
        write_reports(bad)
    unknown = make_study(tmp_path, methods=['ce', '+aaf'],
                         measures=['mDice'])
    with pytest.raises(ReportError, match="no measure 'mDice'.*aAcc, mIoU"):
        write_reports(unknown)


def test_chart_bottom_row_is_the_paired_difference(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt
    study = make_study(tmp_path, measures=['mIoU'])
    write(study, [('ce', 0, 50.0), ('ce', 1, 52.0), ('+aaf', 0, 51.0),
                  ('+aaf', 1, 51.5), ('+aaf', 2, 80.0), ('+dice', 1, 55.0)])
    from mmseg_aaf.comparison.study_report import _records_by_method
    figures = []
    monkeypatch.setattr(plt, 'close', figures.append)
    plot_measures(str(tmp_path / 'chart.png'), study,
                  _records_by_method(study))
    top, bottom = figures[0].axes[:2]
    assert bottom.get_title() == 'mIoU, minus CE per seed'
    assert [b.get_height() for b in top.patches] == pytest.approx(
        [51.0, 55.0, (51.0 + 51.5 + 80.0) / 3])
    # Dice, then AAF (seed 2 has no CE partner): means and per-seed dots.
    assert [b.get_height() for b in bottom.patches] == pytest.approx(
        [3.0, 0.25])
    dots = [list(line.get_ydata()) for line in bottom.lines
            if line.get_marker() == '.']
    assert dots == [pytest.approx([3.0]), pytest.approx([1.0, -0.5])]


def test_a_record_of_another_config_is_refused(tmp_path):
    path = str(tmp_path / 'aaf' / 'seed0.json')
    write_record(path, record('+aaf', 0, 50.0, digest='a' * 64))
    assert read_record(path, 'a' * 64)['seed'] == 0
    with pytest.raises(StaleRecord, match=f'{path} was recorded for another '
                       'config'):
        read_record(path, 'b' * 64)
    with open(path, 'w') as f:
        json.dump(dict(model='pspnet', method='aaf', seed=0), f)
    with pytest.raises(StaleRecord, match='needs converting'):
        read_record(path)


def test_time_left_counts_only_runs_to_train_at_their_own_pace():
    assert seconds_left(['ce'], {}) is None  # nothing timed yet
    durations = {'ce': [100.0, 140.0], '+lovasz': [360.0]}
    # CE at its 120 s, Lovász at 360 s, Dice (not timed) at the mean of
    # the three timed runs, 200 s.
    assert seconds_left(['ce', '+lovasz', '+dice'], durations) == \
        pytest.approx(680.0)
    assert seconds_left([], durations) == 0.0


def test_study_settings_are_checked(tmp_path):
    with pytest.raises(StudyError, match='--focus \\+dice is not one'):
        make_study(tmp_path, methods=['ce', '+aaf'], focus=['+dice'])
    with pytest.raises(StudyError, match='distinct'):
        make_study(tmp_path, seeds=[0, 0])
    study = make_study(tmp_path, methods=['+dice', '+aaf'])
    assert study.reference.key == '+dice'  # no baseline: the first method


def test_the_zoom_window_holds_most_of_the_pixels():
    from mmseg_aaf.comparison.study import _densest_window
    mask = np.zeros((8, 10), bool)
    mask[5:8, 6:9] = True  # a 3 x 3 patch near the bottom right
    mask[0, 0] = True
    assert _densest_window(mask, 0.5) == [4, 4, 4, 5]  # rows 4-7, cols 4-8
    assert _densest_window(mask, 1.0) == [0, 0, 8, 10]
