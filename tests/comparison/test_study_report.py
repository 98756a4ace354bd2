# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The reports of ``mmseg-aaf-compare`` against hand-computed records:
mean ± sample std, paired differences and wins (ties are not), the focus
table, class subsets, per-class tables (a class undefined in a seed left
out of its mean), the chart, records of other seeds left out, and stale
records; the study's time left, the images ``--show`` keeps and their zoom
window."""
import json
import math

import numpy as np
import pytest
from PIL import Image

from mmseg_aaf.comparison.methods import parse_methods
from mmseg_aaf.comparison.records import (FORMAT_NAME, FORMAT_VERSION,
                                          StaleRecord, config_hash,
                                          read_record, record_path,
                                          write_record)
from mmseg_aaf.comparison.study import (Study, StudyError, plan_study,
                                        resolved_config, run_study,
                                        seconds_left)
from mmseg_aaf.comparison.study_report import (ReportError, focus_versus,
                                               paired_deltas, plot_measures,
                                               summary_markdown,
                                               write_reports)
from tests.conftest import REPO_ROOT

CLASSES = ['road', 'pole', 'sign', 'car']
PSP_CE = str(REPO_ROOT / 'configs' / 'camvid' / 'pspnet_r18_ce_camvid-cpu.py')
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


def test_the_zoom_window_is_top_then_left():
    from mmseg_aaf.comparison.study import _densest_window
    mask = np.zeros((8, 10), bool)
    mask[4:8, 1:6] = True  # exactly the 4 x 5 window at row 4, column 1
    assert _densest_window(mask, 0.5) == [4, 1, 4, 5]


def test_the_time_left_includes_the_run_that_starts(tmp_path, monkeypatch):
    """CE seed 0 is recorded at 120 s; seed 1 starts with itself and seed
    2 to train: about 240 s left (120 s would leave out the run that
    starts)."""
    from mmseg_aaf.comparison import study as study_module
    study = Study(baseline=PSP_CE, methods=parse_methods(['ce']),
                  seeds=[0, 1, 2], work_dir=str(tmp_path), verbose=True)
    digest = config_hash(resolved_config(PSP_CE, study))
    write_record(record_path(study.records_dir, 'ce', 0),
                 dict(record('ce', 0, 50.0, digest=digest),
                      train_seconds=100.0, test_seconds=20.0))

    def trained(cfg, spec, printer=print, launcher='none'):
        return record('ce', spec.seed, 50.0, digest=spec.config_hash)

    monkeypatch.setattr(study_module, 'train_and_test', trained)
    lines = []
    run_study(study, printer=lines.append)
    started = [line for line in lines if line.startswith('[')]
    assert started[0] == '[1/3] CE, seed 0 (recorded)'
    assert started[1].startswith('[2/3] CE, seed 1: elapsed ')
    assert started[1].endswith(', about 4m00s left')
    assert started[2].startswith('[3/3] CE, seed 2: elapsed ')


def _tiny_config(tmp_path, pole_pixels, car_pixels):
    """A config whose test set holds one 6 x 8 image per entry of
    ``pole_pixels``, with that many pole and ``car_pixels`` car pixels."""
    for folder in ('img', 'ann'):
        (tmp_path / 'data' / folder).mkdir(parents=True)
    for name, poles, cars in zip('abcde', pole_pixels, car_pixels):
        label = np.zeros(48, np.uint8)
        label[:poles] = CLASSES.index('pole')
        label[poles:poles + cars] = CLASSES.index('car')
        Image.fromarray(label.reshape(6, 8)).save(
            tmp_path / 'data' / 'ann' / f'{name}.png')
        Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(
            tmp_path / 'data' / 'img' / f'{name}.png')
    path = tmp_path / 'tiny.py'
    path.write_text(
        'test_dataloader = dict(dataset=dict(\n'
        "    type='BaseSegDataset', data_root="
        f"{str(tmp_path / 'data')!r},\n"
        "    data_prefix=dict(img_path='img', seg_map_path='ann'),\n"
        "    img_suffix='.png', seg_map_suffix='.png', pipeline=[],\n"
        f'    metainfo=dict(classes={tuple(CLASSES)!r},\n'
        '                  palette=[[0, 0, 0], [1, 1, 1], [2, 2, 2],\n'
        '                           [3, 3, 3]])))\n'
        "test_evaluator = dict(type='IoUMetric')\n")
    return str(path)


def test_show_keeps_the_images_with_most_pixels_of_the_first_subset(
        tmp_path):
    # Pole pixels a 3, b 10, c 0, d 7, e 5; c has most car pixels (the
    # second subset) and most pixels of any class but road.
    baseline = _tiny_config(tmp_path, [3, 10, 0, 7, 5], [0, 0, 30, 20, 0])
    study = Study(baseline=baseline, methods=parse_methods(['ce']),
                  seeds=[0], work_dir=str(tmp_path), show=3,
                  subsets=dict(thin=['pole'], vehicles=['car']))
    plan_study(study, lambda _: None)
    with open(study.shown_file) as f:
        shown = json.load(f)
    assert [image['name'] for image in shown['images']] == [
        'b.png', 'd.png', 'e.png']
    assert shown['classes'] == CLASSES


def test_per_class_means_leave_out_a_class_undefined_in_a_seed(tmp_path):
    study = make_study(tmp_path, methods=['ce', '+aaf'])
    for seed, sign in ((0, None), (1, 30.0), (2, 40.0)):
        write(study, [('ce', seed, 50.0, 30.0, [80.0, 10.0, sign, 50.0]),
                      ('+aaf', seed, 50.0, 30.0, [80.0, 10.0, 20.0, 50.0])])
    text = open(write_reports(study)['md']).read()
    table = text.split('Per-class IoU (mean over seeds)')[1]
    # sign: the mean of seeds 1 and 2, 35; not (0 + 30 + 40) / 3.
    assert '| CE | 80.0 | 10.0 | 35.0 | 50.0 |' in table
    assert '| + AAF - CE | +0.0 | +0.0 | -15.0 | +0.0 |' in table


def test_a_record_of_another_seed_is_in_no_report(tmp_path, monkeypatch):
    """Seed 5 lies in the records folder of a study of seeds 0 and 1:
    its numbers (all 99) are in no table, the JSON, the chart or the
    kernel size figure."""
    import matplotlib.pyplot as plt

    import mmseg_aaf.visualization
    study = make_study(tmp_path, methods=['ce', '+aaf'], seeds=[0, 1],
                       measures=['mIoU'])
    for method, slug in (('ce', 'ce'), ('+aaf', 'aaf')):
        for seed, miou in ((0, 50.0), (1, 52.0), (5, 99.0)):
            run = record(method, seed, miou + (slug == 'aaf'),
                         iou=[miou] * 4)
            if slug == 'aaf':
                sizes = [99.0] * 4 if seed == 5 else [3.0 + seed] * 4
                run.update(kernel_sizes=dict(edge=sizes, nonedge=sizes),
                           kernel_size_candidates=[3, 5, 7])
            write_record(record_path(study.records_dir, slug, seed), run)
    figures, kernel_sizes = [], []
    monkeypatch.setattr(plt, 'close', figures.append)
    monkeypatch.setattr(
        mmseg_aaf.visualization, 'plot_kernel_sizes',
        lambda classes, edge, nonedge, *args, **kwargs:
        kernel_sizes.append((list(edge), list(nonedge))))
    paths = write_reports(study)
    text = open(paths['md']).read()
    assert '99' not in text
    assert '| CE | 2 | 51.00 ± 1.41 |' in text
    assert '| + AAF | 2 (mIoU: +1.00, +1.00) | +1.00 (2/2) |' in text
    assert '| CE | 51.0 | 51.0 | 51.0 | 51.0 |' in text  # per-class
    payload = json.load(open(paths['json']))
    for method in payload['methods'].values():
        assert [run['seed'] for run in method['runs']] == [0, 1]
    assert payload['paired']['+aaf']['mIoU']['seeds'] == [0, 1]
    top, bottom = figures[0].axes[:2]
    assert [b.get_height() for b in top.patches] == pytest.approx(
        [51.0, 52.0])
    assert [b.get_height() for b in bottom.patches] == pytest.approx([1.0])
    assert kernel_sizes == [([3.5] * 4, [3.5] * 4)]  # + AAF's, seeds 0, 1
