# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``tools/analysis/side_by_side.py``: two studies' results.json, the
seeds both ran, per method and measure, subsets included."""
import json

from tests.conftest import load_tool

tool = load_tool('tools/analysis/side_by_side.py')


def run(seed, miou, thin_iou):
    return dict(method='ce', seed=seed, metrics=dict(mIoU=miou),
                per_class=dict(classes=['road', 'pole'],
                               IoU=[90.0, thin_iou]))


def payload(runs_by_method):
    return dict(measures=['mIoU', 'thin_mIoU'], subsets=dict(thin=['pole']),
                methods={key: dict(name=name, runs=runs)
                         for key, (name, runs) in runs_by_method.items()})


def short_study():
    """CE on seeds 0, 1 and 2, + AAF on seed 0."""
    return payload({'ce': ('CE', [run(0, 50.0, 10.0), run(1, 52.0, 12.0),
                                  run(2, 60.0, 30.0)]),
                    '+aaf': ('+ AAF', [run(0, 51.0, 11.0)])})


def test_side_by_side_pairs_the_seeds_both_ran(tmp_path, capsys):
    short = short_study()
    long = payload({'ce': ('CE', [run(0, 55.0, 20.0), run(1, 58.0, 14.0)]),
                    '+dice': ('+ Dice', [run(0, 70.0, 1.0)])})
    paths = []
    for name, data in (('a.json', short), ('b.json', long)):
        (tmp_path / name).write_text(json.dumps(data))
        paths.append(str(tmp_path / name))
    assert tool.main(paths + ['--labels', '600', '2400', '--out',
                              str(tmp_path / 't.md')]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ('| Method | mIoU 600 | mIoU 2400 | diff | '
                        'thin mIoU 600 | thin mIoU 2400 | diff |')
    # CE on seeds 0 and 1 only (seed 2 has no long run): 51 vs 56.5,
    # thin 11 vs 17; + AAF and + Dice are in one study each.
    assert lines[2] == ('| CE (2 seeds) | 51.00 ± 1.41 | 56.50 ± 2.12 | '
                        '+5.50 | 11.00 ± 1.41 | 17.00 ± 4.24 | +6.00 |')
    assert len(lines) == 3
    assert (tmp_path / 't.md').read_text().splitlines() == lines


def test_plot_draws_a_line_per_shared_seed(tmp_path, monkeypatch):
    short = short_study()
    long = payload({'ce': ('CE', [run(0, 55.0, 20.0), run(1, 58.0, 14.0)]),
                    '+aaf': ('+ AAF', [run(0, 53.0, 9.0)])})
    drawn = []
    from mmseg_aaf.comparison.study_report import pyplot as _pyplot
    plt = _pyplot()
    original = plt.Axes.plot

    def record(ax, *args, **kwargs):
        drawn.append((ax.get_title(), args[:2]))
        return original(ax, *args, **kwargs)

    monkeypatch.setattr(plt.Axes, 'plot', record)
    path = tool.plot_side_by_side(str(tmp_path / 's.png'), short, long,
                                  ['600', '2400'])
    # Per panel (titles are set after drawing): CE's seeds 0 and 1, its
    # mean, then + AAF's seed 0 and its mean; CE at x 0, 1 and + AAF at 3, 4.
    assert [args for _, args in drawn[:5]] == [
        ((0, 1), (50.0, 55.0)), ((0, 1), (52.0, 58.0)),
        ((0, 1), [51.0, 56.5]), ((3, 4), (51.0, 53.0)),
        ((3, 4), [51.0, 53.0])]
    assert [args[1] for _, args in drawn[5:]] == [
        (10.0, 20.0), (12.0, 14.0), [11.0, 17.0], (11.0, 9.0), [11.0, 9.0]]
    image = plt.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_nothing_shared_is_one_error_line(tmp_path, capsys):
    (tmp_path / 'a.json').write_text(json.dumps(payload(
        {'ce': ('CE', [run(0, 1.0, 1.0)])})))
    (tmp_path / 'b.json').write_text(json.dumps(payload(
        {'+aaf': ('+ AAF', [run(0, 1.0, 1.0)])})))
    assert tool.main([str(tmp_path / 'a.json'),
                      str(tmp_path / 'b.json')]) == 1
    assert capsys.readouterr().err == \
        'error: the two studies share no method\n'
    assert tool.main([str(tmp_path / 'missing.json'),
                      str(tmp_path / 'b.json')]) == 1
    assert capsys.readouterr().err.startswith('error: cannot read ')


def test_measures_option_shows_only_those_measures(tmp_path, capsys,
                                                   monkeypatch):
    from mmseg_aaf.comparison.study_report import pyplot as _pyplot
    plt = _pyplot()
    figures = []
    monkeypatch.setattr(plt, 'close', figures.append)
    long = payload({'ce': ('CE', [run(0, 55.0, 20.0), run(1, 58.0, 14.0)])})
    paths = []
    for name, data in (('a.json', short_study()), ('b.json', long)):
        (tmp_path / name).write_text(json.dumps(data))
        paths.append(str(tmp_path / name))
    assert tool.main(paths + ['--measures', 'mIoU', '--labels', '600',
                              '2400', '--plot',
                              str(tmp_path / 's.png')]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == '| Method | mIoU 600 | mIoU 2400 | diff |'
    assert lines[2] == ('| CE (2 seeds) | 51.00 ± 1.41 | 56.50 ± 2.12 | '
                        '+5.50 |')
    figure, = figures
    assert [ax.get_title() for ax in figure.axes if ax.get_visible()] == [
        'mIoU']
