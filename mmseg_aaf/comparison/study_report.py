# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The reports of ``mmseg-aaf-compare``, from whatever records exist.

Into the report folder: ``results.md`` (mean ± sample std per method; each
method minus the reference on the same seed with the seeds won, ties not
counted; each focus method minus each other method; one per-class table per
per-class measure), ``results.json`` (the same numbers) and ``chart.png``
(bars at the seed mean with a dot per seed; below, each method minus the
reference per seed), ``kernel_sizes_<method>.png`` for the methods that
learn AAF kernel sizes, and with ``--show N`` ``qualitative.png``: N test
images, their ground truth and every method's prediction of the first
seed.

The measures are the evaluator's own keys, in the order it returns them
(or those chosen with ``--measures``), plus one ``<name>_mIoU`` per class
subset (``--subset``): the mean per-class IoU of those classes, undefined
ones left out; ``--measures`` may name the subset mean of any per-class
measure the same way (``vessel_mDice``).
"""
import json
import math
import os
import os.path as osp
import warnings
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np

from .records import load_records

#: Column titles of evaluator keys that read better spelled out.
TITLES = dict(bFscore='bF', mBIoU='Boundary IoU')


class ReportError(ValueError):
    """Records that cannot give the requested measures."""


def mean_std(values: Sequence[float]) -> tuple:
    """Mean and sample standard deviation (NaN for one value)."""
    values = np.asarray(values, dtype=np.float64)
    std = float(values.std(ddof=1)) if values.size > 1 else float('nan')
    return float(values.mean()), std


def subset_key(name: str, measure: str = 'IoU') -> str:
    """The key of the mean per-class ``measure`` over subset ``name``:
    ``thin_mIoU``, ``vessel_mDice``."""
    return f'{name}_m{measure}'


def _subset_of(key: str, study) -> Optional[tuple]:
    """``(subset name, per-class measure)`` that ``key`` names, or None."""
    for name in study.subsets:
        prefix = f'{name}_m'
        if key.startswith(prefix) and len(key) > len(prefix):
            return name, key[len(prefix):]
    return None


def title(key: str, study) -> str:
    subset = _subset_of(key, study)
    if subset:
        return f'{subset[0]} m{subset[1]}'
    return TITLES.get(key, key)


def measure_keys(study, records: Dict[str, List[Dict]]) -> List[str]:
    """The table columns: ``study.measures``, or every evaluator key of
    the first record found and then each subset's mean IoU."""
    if study.measures:
        return list(study.measures)
    first = next((runs[0] for runs in records.values() if runs), None)
    keys = list(first['metrics']) if first else []
    return keys + [subset_key(name) for name in study.subsets]


def value(record: Dict, key: str, study) -> float:
    """A record's measure ``key``: an evaluator key, or
    ``<subset>_m<measure>``, the mean of a per-class measure over a
    subset's classes (undefined ones left out)."""
    if key in record['metrics']:
        return float(record['metrics'][key])
    subset = _subset_of(key, study)
    if subset:
        name, measure = subset
        per_class = record['per_class']
        if measure not in per_class:
            raise ReportError(
                f'{key} needs per-class {measure}, which the record of '
                f'{record["method"]} seed {record["seed"]} does not hold '
                f'(it has {", ".join(k for k in per_class if k != "classes")}'
                ')')
        classes = per_class['classes']
        members = study.subsets[name]
        unknown = [c for c in members if c not in classes]
        if unknown:
            raise ReportError(
                f'--subset {name}: no class {", ".join(unknown)} in '
                f'the dataset ({", ".join(classes)})')
        values = [per_class[measure][classes.index(c)] for c in members]
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else float('nan')
    raise ReportError(
        f'no measure {key!r} in the record of {record["method"]} seed '
        f'{record["seed"]}; its evaluator returns '
        f'{", ".join(record["metrics"])}')


def measures_line(study, record: Dict) -> str:
    records = {record['method']: [record]}
    return '  '.join(f'{title(k, study)} {value(record, k, study):.2f}'
                     for k in measure_keys(study, records))


def _records_by_method(study) -> Dict[str, List[Dict]]:
    by_slug = load_records(study.records_dir,
                           [m.slug for m in study.methods])
    seeds = set(study.seeds)
    return {
        m.key: [r for r in by_slug[m.slug] if r['seed'] in seeds]
        for m in study.methods
        if any(r['seed'] in seeds for r in by_slug.get(m.slug, ()))
    }


def _cell(values: Sequence[float]) -> str:
    mean, std = mean_std(values)
    return f'{mean:.2f}' if math.isnan(std) else f'{mean:.2f} ± {std:.2f}'


def summary_markdown(study, records: Dict[str, List[Dict]]) -> str:
    """Methods by measure, mean ± sample std over seeds."""
    keys = measure_keys(study, records)
    lines = ['| Method | seeds | ' + ' | '.join(
        title(k, study) for k in keys) + ' |',
        '| --- | ---: |' + ' ---: |' * len(keys)]
    for method in study.methods:
        runs = records.get(method.key)
        if runs:
            cells = [_cell([value(r, k, study) for r in runs]) for k in keys]
            lines.append(f'| {method.name} | {len(runs)} | ' +
                         ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def paired(runs: Sequence[Dict], others: Sequence[Dict], keys: List[str],
           study) -> Optional[Dict]:
    """Per measure: ``runs`` minus ``others`` on the seeds both have, the
    per-seed differences, their mean and how many are wins (ties are
    not); None without a shared seed."""
    other = {r['seed']: r for r in others}
    pairs = [(r, other[r['seed']]) for r in runs if r['seed'] in other]
    if not pairs:
        return None
    result = {}
    for key in keys:
        deltas = [value(r, key, study) - value(o, key, study)
                  for r, o in pairs]
        result[key] = dict(seeds=[r['seed'] for r, _ in pairs],
                           deltas=deltas,
                           mean=float(np.mean(deltas)),
                           wins=int(sum(d > 0 for d in deltas)))
    return result


def paired_deltas(study, records: Dict[str, List[Dict]]) -> Dict:
    """Each method minus the reference, seed by seed."""
    keys = measure_keys(study, records)
    reference = records.get(study.reference.key, [])
    result = {}
    for method in study.methods:
        if method.key != study.reference.key:
            found = paired(records.get(method.key, []), reference, keys,
                           study)
            if found:
                result[method.key] = found
    return result


def focus_versus(study, records: Dict[str, List[Dict]],
                 focus: str) -> Dict:
    """The method ``focus`` minus each other method, seed by seed: the
    choice a user makes between them."""
    keys = measure_keys(study, records)
    runs = records.get(focus, [])
    result = {}
    for method in study.methods:
        if method.key != focus:
            found = paired(runs, records.get(method.key, []), keys, study)
            if found:
                result[method.key] = found
    return result


def _paired_table(study, records, deltas: Dict, header: str,
                  row_name: Callable) -> str:
    keys = measure_keys(study, records)
    lines = [f'| {header} | paired seeds | ' +
             ' | '.join(title(k, study) for k in keys) + ' |',
             '| --- | ---: |' + ' ---: |' * len(keys)]
    for method in study.methods:
        if method.key not in deltas:
            continue
        row = deltas[method.key]
        count = len(row[keys[0]]['deltas'])
        cells = [f'{row[k]["mean"]:+.2f} ({row[k]["wins"]}/{count})'
                 for k in keys]
        # The per-seed differences of one measure: mIoU where shown.
        shown = 'mIoU' if 'mIoU' in keys else keys[0]
        per_seed = ', '.join(f'{d:+.2f}' for d in row[shown]['deltas'])
        lines.append(f'| {row_name(method)} | {count} ({title(shown, study)}'
                     f': {per_seed}) | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def paired_markdown(study, records) -> str:
    """Each method minus the reference: mean difference (seeds won)."""
    return _paired_table(study, records, paired_deltas(study, records),
                         f'Method - {study.reference.name}',
                         lambda method: method.name)


def _method(study, key: str):
    return next(m for m in study.methods if m.key == key)


def _term(name: str) -> str:
    """A method's short name as a term of a difference: ``(Dice + AAF)``
    in brackets, ``AAF`` as it is."""
    return f'({name})' if ' + ' in name else name


def focus_markdown(study, records, focus: str) -> str:
    """The method ``focus`` minus each other method."""
    name = _term(_method(study, focus).short_name)
    return _paired_table(
        study, records, focus_versus(study, records, focus),
        f'{name} - Method',
        lambda method: f'{name} - {_term(method.short_name)}')


def per_class_measures(records: Dict[str, List[Dict]]) -> List[str]:
    """The per-class measures the records hold, in first-seen order."""
    names = []
    for runs in records.values():
        for record in runs:
            for name in record['per_class']:
                if name != 'classes' and name not in names:
                    names.append(name)
    return names


def _number(value: float, spec: str) -> str:
    return '-' if math.isnan(value) else format(value, spec)


def per_class_markdown(study, records: Dict[str, List[Dict]],
                       name: str) -> str:
    """Per-class ``name`` (mean over seeds), then each method minus the
    reference."""
    classes = next(r['per_class']['classes'] for runs in records.values()
                   for r in runs)
    lines = ['| Method | ' + ' | '.join(classes) + ' |',
             '| --- |' + ' ---: |' * len(classes)]
    means = {}
    for method in study.methods:
        runs = [r for r in records.get(method.key, ())
                if name in r['per_class']]
        if not runs:
            continue
        table = np.array([[np.nan if v is None else v
                           for v in r['per_class'][name]] for r in runs],
                         dtype=np.float64)
        with warnings.catch_warnings():
            # A class undefined in every seed stays NaN, shown as '-'.
            warnings.simplefilter('ignore', RuntimeWarning)
            means[method.key] = np.nanmean(table, axis=0)
        lines.append(f'| {method.name} | ' + ' | '.join(
            _number(v, '.1f') for v in means[method.key]) + ' |')
    base = study.reference
    for method in study.methods:
        if method.key != base.key and method.key in means and \
                base.key in means:
            lines.append(f'| {method.name} - {base.name} | ' + ' | '.join(
                _number(v, '+.1f')
                for v in means[method.key] - means[base.key]) + ' |')
    return '\n'.join(lines) + '\n'


#: Bar colours of the methods, in order (matplotlib's tab10 without its
#: grey, which marks the reference).
_COLOURS = ('#1f77b4', '#2ca02c', '#ff7f0e', '#d62728', '#9467bd',
            '#8c564b', '#e377c2', '#bcbd22', '#17becf')
_REFERENCE_COLOUR = '#7f7f7f'


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _legend_handles(classes: Sequence[str],
                    palette: Sequence[Sequence[int]]) -> List:
    from matplotlib.patches import Patch
    return [
        Patch(facecolor=np.asarray(colour) / 255.0, edgecolor='none',
              label=name) for name, colour in zip(classes, palette)
    ]


def plot_qualitative(path: str,
                     images: Sequence[np.ndarray],
                     ground_truths: Sequence[np.ndarray],
                     predictions: Mapping[str, Sequence[np.ndarray]],
                     classes: Sequence[str],
                     palette: Sequence[Sequence[int]],
                     names: Sequence[str] = ()) -> str:
    """One row per image: image, ground truth, each method's prediction.

    Args:
        images: ``(H, W, 3)`` uint8 RGB images.
        ground_truths: ``(H, W)`` class maps.
        predictions: method name -> class maps, one per image.
        names: Optional image names shown at the row starts.
    """
    plt = pyplot()
    lut = np.asarray(palette, np.uint8)
    titles = ['image', 'ground truth'] + list(predictions)
    rows, cols = len(images), len(titles)
    fig, axes = plt.subplots(
        rows, cols, figsize=(2.1 * cols, 2.1 * rows + 0.7), squeeze=False)
    for r in range(rows):
        panels = [images[r], lut[ground_truths[r]]] + [
            lut[maps[r]] for maps in predictions.values()
        ]
        for c, panel in enumerate(panels):
            ax = axes[r][c]
            ax.imshow(panel, interpolation='nearest')
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[c], fontsize=10)
        if names:
            axes[r][0].set_ylabel(names[r], fontsize=7)
    fig.legend(
        handles=_legend_handles(classes, palette),
        loc='lower center',
        ncol=min(len(classes), 6),
        fontsize=8,
        frameon=False)
    fig.tight_layout(rect=(0, 0.05 * -(-len(classes) // 6), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_measures(path: str, study, records: Dict[str, List[Dict]]) -> str:
    """One column per measure. Top: a bar per method at the seed mean, the
    seeds as dots. Bottom: each method minus the reference on the seeds
    both have, a bar at the mean difference and a dot per seed, so that
    gains of a point or two that the top row's scale hides can be read
    off, with their spread."""
    plt = pyplot()
    keys = measure_keys(study, records)
    deltas = paired_deltas(study, records)
    reference = study.reference
    colours, others = {}, iter(_COLOURS * 4)
    for method in study.methods:
        colours[method.key] = (_REFERENCE_COLOUR if method is reference else
                               next(others))
    fig, axes = plt.subplots(
        2, len(keys), squeeze=False,
        figsize=(max(2.2 + 0.45 * len(study.methods), 3.0) * len(keys), 6.6))
    for column, key in enumerate(keys):
        top, bottom = axes[0][column], axes[1][column]
        for x, method in enumerate(study.methods):
            runs = records.get(method.key)
            if runs:
                values = [value(r, key, study) for r in runs]
                top.bar(x, np.mean(values), 0.8, color=colours[method.key],
                        label=method.name if column == 0 else None)
                top.plot([x] * len(values), values, 'k.', markersize=4)
            found = deltas.get(method.key, {}).get(key)
            if found:
                bottom.bar(x, found['mean'], 0.8, color=colours[method.key])
                bottom.plot([x] * len(found['deltas']), found['deltas'],
                            'k.', markersize=4)
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.grid(axis='y', alpha=0.3)
        bottom.axhline(0.0, color='k', linewidth=0.8)
        top.set_title(title(key, study))
        bottom.set_title(f'{title(key, study)}, minus {reference.name} per '
                         'seed', fontsize=9)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc='lower center', ncol=min(len(names), 6),
               frameon=False)
    fig.suptitle(f'{study.title}: bars at the seed mean, dots per seed; '
                 f'bottom row: difference to {reference.name} on the same '
                 'seed', fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_reports(study) -> Dict[str, str]:
    """``results.md``, ``results.json`` and ``chart.png`` into the report
    folder from the records there are; returns name -> path (none written
    without a record)."""
    records = _records_by_method(study)
    os.makedirs(study.report_dir, exist_ok=True)
    paths = dict(md=osp.join(study.report_dir, 'results.md'),
                 json=osp.join(study.report_dir, 'results.json'),
                 png=osp.join(study.report_dir, 'chart.png'))
    if not records:
        return {}
    reference = study.reference.name
    sections = [
        f'## {study.title}\n',
        'Mean ± sample std over seeds\n', summary_markdown(study, records),
        f'\nEach method minus {reference}, per seed: mean difference (seeds '
        'won)\n', paired_markdown(study, records)]
    for focus in study.focus:
        name = _method(study, focus).short_name
        sections += [f'\n{name} minus each other method, per seed: mean '
                     f'difference (seeds {name} wins)\n',
                     focus_markdown(study, records, focus)]
    for name in per_class_measures(records):
        sections += [f'\nPer-class {name} (mean over seeds)\n',
                     per_class_markdown(study, records, name)]
    with open(paths['md'], 'w') as f:
        f.write('\n'.join(sections) + '\n')
    payload = dict(
        baseline=study.baseline,
        reference=study.reference.key,
        focus=study.focus,
        measures=measure_keys(study, records),
        subsets=study.subsets,
        methods={
            m.key: dict(name=m.name, runs=records[m.key])
            for m in study.methods if m.key in records
        },
        paired=paired_deltas(study, records),
        focus_versus={focus: focus_versus(study, records, focus)
                      for focus in study.focus})
    with open(paths['json'], 'w') as f:
        json.dump(payload, f, indent=1)
    plot_measures(paths['png'], study, records)
    paths.update(plot_learned_kernel_sizes(study, records))
    shown = plot_predictions(study)
    if shown:
        paths['qualitative'] = shown
    return paths


def plot_predictions(study) -> Optional[str]:
    """``qualitative.png``: for the test images the study keeps
    (``--show``), a row of image, ground truth and each method's
    prediction of the first seed, in the zoom window of each image; None
    when no prediction was kept."""
    if not study.show or not osp.isfile(study.shown_file):
        return None
    from PIL import Image

    with open(study.shown_file) as f:
        shown = json.load(f)
    seed = study.seeds[0]

    def crop(array, window):
        top, left, height, width = window
        return array[top:top + height, left:left + width]

    predictions = {}
    for method in study.methods:
        folder = osp.join(study.work_dir, method.slug, f'seed{seed}',
                          'predictions')
        files = [osp.join(folder, osp.splitext(item['name'])[0] + '.png')
                 for item in shown['images']]
        if all(osp.isfile(path) for path in files):
            predictions[method.name] = [
                crop(np.asarray(Image.open(path)), item['window'])
                for path, item in zip(files, shown['images'])]
    if not predictions:
        return None
    images = [crop(np.asarray(Image.open(item['img_path']).convert('RGB')),
                   item['window']) for item in shown['images']]
    labels = [crop(np.asarray(Image.open(item['seg_map_path'])),
                   item['window']) for item in shown['images']]
    # Ignored (255) and any other unlabelled value are drawn black, as in
    # mmseg's visualizer.
    palette = shown['palette'] + [[0, 0, 0]] * (256 - len(shown['palette']))
    return plot_qualitative(
        osp.join(study.report_dir, 'qualitative.png'), images=images,
        ground_truths=labels, predictions=predictions,
        classes=shown['classes'], palette=palette,
        names=[item['name'] for item in shown['images']])


def plot_learned_kernel_sizes(study, records: Dict[str, List[Dict]]
                              ) -> Dict[str, str]:
    """``kernel_sizes_<slug>.png`` for every method whose runs learned AAF
    kernel sizes: per class, the effective edge and non-edge size, mean
    over seeds."""
    from ..visualization import plot_kernel_sizes
    paths = {}
    for method in study.methods:
        runs = [r for r in records.get(method.key, ())
                if r.get('kernel_sizes')]
        if not runs:
            continue
        path = osp.join(study.report_dir, f'kernel_sizes_{method.slug}.png')
        plot_kernel_sizes(
            runs[0]['per_class']['classes'],
            np.mean([r['kernel_sizes']['edge'] for r in runs], axis=0),
            np.mean([r['kernel_sizes']['nonedge'] for r in runs], axis=0),
            runs[0]['kernel_size_candidates'], path,
            title=f'{study.title}, {method.name}: learned effective kernel '
            f'sizes (mean of {len(runs)} seed(s))')
        paths[f'kernel_sizes_{method.slug}'] = path
    return paths
