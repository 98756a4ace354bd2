# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The structure-aware losses against each other on CamVid, two models.

:func:`run_loss_comparison` trains and tests, for several seeds, the CPU
configs of ``configs/camvid/``:

* PSPNet: CE (class-balanced), + LovaszLoss, + DiceLoss, + AffinityLoss
  (k = 3) and + AAFLoss;
* DeepLabV3+: CE, + LovaszLoss, + DiceLoss and + AAFLoss (its twin written
  by ``tools/aaf_config.py``).

Each run's outcome (metrics, per-class IoU / bF / Boundary IoU, training
time) is kept as one small JSON *record* in ``records_dir``; a run whose
record exists is not trained again, and a run cut off mid-training resumes
from its last checkpoint in ``work_dir``. So the comparison continues where
it stopped, also in a later session when the records were kept (they are
small enough to commit). Reports (see :func:`write_reports`) are written
from whatever records exist.
"""
import json
import math
import os
import os.path as osp
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
from PIL import Image

from ..datasets.camvid import CAMVID_CLASSES
from ..datasets.camvid_conversion import convert_camvid
from ..evaluation.per_class_results import load_result_file
from . import report
from .camvid_comparison import (SCALE, _quiet_libraries, build_config,
                                mean_std, train_and_test_one)
from .runner import Method, _format_seconds
from .synthetic import generate_sample

#: CamVid's thin classes, whose mean IoU the tables report.
THIN_CLASSES = ('pole', 'signsymbol', 'fence', 'pedestrian', 'bicyclist')


@dataclass(frozen=True)
class Model:
    key: str
    name: str
    methods: tuple


_PSP = 'pspnet_r18_{}_camvid-cpu.py'
_DLV3P = 'deeplabv3plus_r18_{}_camvid-cpu.py'
#: The compared cells; the first method of each model is its baseline.
MODELS = (
    Model('pspnet', 'PSPNet', (
        Method('ce', 'CE', _PSP.format('ce')),
        Method('lovasz', '+ Lovász', _PSP.format('lovasz')),
        Method('dice', '+ Dice', _PSP.format('dice')),
        Method('affinity', '+ affinity (k=3)', _PSP.format('affinity')),
        Method('aaf', '+ AAF', _PSP.format('aaf')),
    )),
    Model('deeplabv3plus', 'DeepLabV3+', (
        Method('ce', 'CE', _DLV3P.format('ce')),
        Method('lovasz', '+ Lovász', _DLV3P.format('lovasz')),
        Method('dice', '+ Dice', _DLV3P.format('dice')),
        Method('aaf', '+ AAF', _DLV3P.format('aaf')),
    )),
)

#: Summary measures: (title, key of a record's ``metrics``).
MEASURES = (('mIoU', 'mIoU'), ('bF', 'bFscore'), ('Boundary IoU', 'mBIoU'),
            ('thin mIoU', 'thin_mIoU'))


@dataclass(frozen=True)
class Preset:
    seeds: int
    affinity_seeds: int
    iters: Optional[int]
    batch_size: Optional[int] = None


PRESETS = dict(
    full=Preset(seeds=3, affinity_seeds=3, iters=None),
    # The synthetic stand-in of the tests: every cell, 2 seeds (the paired
    # table needs more than one), a few iterations.
    quick=Preset(seeds=2, affinity_seeds=1, iters=2, batch_size=2),
)


def plan_runs(seeds: int, affinity_seeds: int,
              models: Sequence[Model] = MODELS) -> List[tuple]:
    """``(model, method, seed)`` in the order they run: seed by seed over
    every cell, so that a stop leaves all cells compared on the first
    seeds; the fixed-size affinity column's later seeds come last, the
    first thing cut when the budget is short."""
    runs, late = [], []
    for seed in range(max(seeds, affinity_seeds)):
        for model in models:
            for method in model.methods:
                if method.key == 'affinity':
                    if seed == 0 and affinity_seeds:
                        runs.append((model, method, seed))
                    elif 0 < seed < affinity_seeds:
                        late.append((model, method, seed))
                elif seed < seeds:
                    runs.append((model, method, seed))
    return runs + late


def record_path(records_dir: str, model: Model, method: Method,
                seed: int) -> str:
    return osp.join(records_dir, model.key, method.key, f'seed{seed}.json')


def thin_miou(per_class_iou: Sequence[float]) -> float:
    """Mean IoU of :data:`THIN_CLASSES` (percent; undefined ones left
    out)."""
    values = [per_class_iou[CAMVID_CLASSES.index(c)] for c in THIN_CLASSES]
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(values)) if values else float('nan')


def _per_class(path: str, name: str) -> List[Optional[float]]:
    values = load_result_file(path).per_class[name]
    return [None if math.isnan(v) else float(v) for v in values]


def run_one(model: Model, method: Method, seed: int, data_root: str,
            work_dir: str, records_dir: str, iters: Optional[int],
            batch_size: Optional[int], printer: Callable) -> Dict:
    """Train and test one cell's seed, or read its record."""
    path = record_path(records_dir, model, method, seed)
    if osp.isfile(path):
        with open(path) as f:
            return json.load(f)
    run_dir = osp.join(work_dir, model.key, method.key, f'seed{seed}')
    cfg = build_config(method, data_root, run_dir, seed, iters)
    if batch_size is not None:
        cfg.train_dataloader.batch_size = batch_size
    outcome = train_and_test_one(cfg, f'{model.key} {method.key} {seed}',
                                 (), False, printer)
    iou = _per_class(osp.join(run_dir, 'per_class_iou.json'), 'IoU')
    metrics = dict(outcome['metrics'], thin_mIoU=thin_miou(iou))
    record = dict(
        model=model.key,
        method=method.key,
        seed=seed,
        config=f'configs/camvid/{method.config}',
        iters=cfg.train_cfg.max_iters,
        metrics=metrics,
        per_class=dict(
            IoU=iou,
            bFscore=_per_class(
                osp.join(run_dir, 'per_class_boundary.json'), 'bFscore'),
            BIoU=_per_class(
                osp.join(run_dir, 'per_class_boundary_iou.json'), 'BIoU')),
        kernel_sizes=outcome['kernel_sizes'],
        train_seconds=outcome['train_seconds'])
    os.makedirs(osp.dirname(path), exist_ok=True)
    report.write_json(path, record)
    return record


def load_records(records_dir: str,
                 models: Sequence[Model] = MODELS) -> Dict:
    """``{model key: {method key: [record, ...] by seed}}`` of the records
    that exist (methods without any are left out)."""
    found = {}
    for model in models:
        for method in model.methods:
            folder = osp.join(records_dir, model.key, method.key)
            seeds = sorted(
                int(name[4:-5]) for name in (
                    os.listdir(folder) if osp.isdir(folder) else ())
                if name.startswith('seed') and name.endswith('.json'))
            records = []
            for seed in seeds:
                with open(record_path(records_dir, model, method,
                                      seed)) as f:
                    records.append(json.load(f))
            if records:
                found.setdefault(model.key, {})[method.key] = records
    return found


def _cell(values: Sequence[float]) -> str:
    mean, std = mean_std(values)
    return f'{mean:.2f}' if math.isnan(std) else f'{mean:.2f} ± {std:.2f}'


def summary_markdown(model: Model, records: Dict[str, List[Dict]]) -> str:
    """Methods by the :data:`MEASURES`, mean ± sample std over seeds."""
    lines = ['| Method | seeds | ' + ' | '.join(t for t, _ in MEASURES) +
             ' |', '| --- | ---: |' + ' ---: |' * len(MEASURES)]
    for method in model.methods:
        runs = records.get(method.key)
        if runs:
            cells = [_cell([r['metrics'][k] for r in runs])
                     for _, k in MEASURES]
            lines.append(f'| {method.name} | {len(runs)} | ' +
                         ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def _paired(runs: Sequence[Dict], others: Sequence[Dict]) -> Optional[Dict]:
    """Per measure: ``runs`` minus ``others`` on the seeds both have, the
    per-seed differences, their mean and how many are wins (ties are not);
    None without a shared seed."""
    other = {r['seed']: r for r in others}
    pairs = [(r, other[r['seed']]) for r in runs if r['seed'] in other]
    if not pairs:
        return None
    result = {}
    for _, key in MEASURES:
        deltas = [r['metrics'][key] - o['metrics'][key] for r, o in pairs]
        result[key] = dict(seeds=[r['seed'] for r, _ in pairs],
                           deltas=deltas,
                           mean=float(np.mean(deltas)),
                           wins=int(sum(d > 0 for d in deltas)))
    return result


def paired_deltas(model: Model, records: Dict[str, List[Dict]]) -> Dict:
    """Per method and measure: the per-seed differences to the baseline on
    the seeds both have, their mean, and how many of them are wins."""
    baseline = records.get(model.methods[0].key, [])
    result = {}
    for method in model.methods[1:]:
        paired = _paired(records.get(method.key, []), baseline)
        if paired:
            result[method.key] = paired
    return result


def aaf_versus(model: Model, records: Dict[str, List[Dict]]) -> Dict:
    """AAF minus each other method of ``model``, seed by seed, in the form
    of :func:`paired_deltas`: the comparison a user choosing between the
    structure-aware losses makes."""
    aaf = records.get('aaf', [])
    result = {}
    for method in model.methods:
        paired = (_paired(aaf, records.get(method.key, []))
                  if method.key != 'aaf' else None)
        if paired:
            result[method.key] = paired
    return result


def _paired_table(model: Model, deltas: Dict, header: str,
                  row_name: Callable[[Method], str]) -> str:
    lines = [f'| {header} | paired seeds | ' +
             ' | '.join(t for t, _ in MEASURES) + ' |',
             '| --- | ---: |' + ' ---: |' * len(MEASURES)]
    for method in model.methods:
        if method.key not in deltas:
            continue
        row = deltas[method.key]
        count = len(row[MEASURES[0][1]]['deltas'])
        cells = [
            f'{row[k]["mean"]:+.2f} ({row[k]["wins"]}/{count})'
            for _, k in MEASURES
        ]
        per_seed = ', '.join(f'{d:+.2f}' for d in row['mIoU']['deltas'])
        lines.append(f'| {row_name(method)} | {count} (mIoU: {per_seed}) | '
                     + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def paired_markdown(model: Model, records: Dict[str, List[Dict]]) -> str:
    """Each method minus the baseline, seed by seed: the mean difference
    and the wins, e.g. ``+1.20 (3/3)``."""
    return _paired_table(model, paired_deltas(model, records),
                         f'Method - {model.methods[0].name}',
                         lambda method: method.name)


def aaf_versus_markdown(model: Model, records: Dict[str, List[Dict]]) -> str:
    """AAF minus each other method, seed by seed (:func:`aaf_versus`)."""
    return _paired_table(model, aaf_versus(model, records), 'AAF - Method',
                         lambda method: f'AAF - {method.name.lstrip("+ ")}')


def _number(value: float, spec: str) -> str:
    return '-' if math.isnan(value) else format(value, spec)


def per_class_markdown(model: Model, records: Dict[str, List[Dict]],
                       name: str = 'IoU') -> str:
    """Per-class ``name`` (mean over seeds), with a row per method minus
    the baseline."""
    header = ['Method'] + list(CAMVID_CLASSES)
    lines = ['| ' + ' | '.join(header) + ' |',
             '| --- |' + ' ---: |' * len(CAMVID_CLASSES)]
    means = {}
    for method in model.methods:
        runs = records.get(method.key)
        if not runs:
            continue
        table = np.array([[np.nan if v is None else v
                           for v in r['per_class'][name]] for r in runs])
        with warnings.catch_warnings():
            # A class undefined in every seed stays NaN, shown as '-'.
            warnings.simplefilter('ignore', RuntimeWarning)
            means[method.key] = np.nanmean(table, axis=0)
        lines.append(f'| {method.name} | ' + ' | '.join(
            _number(v, '.1f') for v in means[method.key]) + ' |')
    base = model.methods[0]
    for method in model.methods[1:]:
        if method.key in means and base.key in means:
            lines.append(f'| {method.name} - {base.name} | ' + ' | '.join(
                _number(v, '+.1f')
                for v in means[method.key] - means[base.key]) + ' |')
    return '\n'.join(lines) + '\n'


def plot_measures(path: str, records: Dict, models: Sequence[Model] = MODELS
                  ) -> str:
    """One column per measure. Top: a bar per (model, method) at the seed
    mean, the seeds as dots on it. Bottom: each method minus its model's
    baseline on the seeds both have (:func:`paired_deltas`), a bar at the
    mean difference and a dot per seed, so that gains of a point or two
    that the top row's scale hides can be read off, with their spread."""
    plt = report._pyplot()
    colours = dict(ce='#7f7f7f', lovasz='#1f77b4', dice='#2ca02c',
                   affinity='#ff7f0e', aaf='#d62728')
    deltas = {model.key: paired_deltas(model, records.get(model.key, {}))
              for model in models}
    base = models[0].methods[0].name
    fig, axes = plt.subplots(2, len(MEASURES), squeeze=False,
                             figsize=(3.6 * len(MEASURES), 6.6))
    for column, (title, key) in enumerate(MEASURES):
        top, bottom = axes[0][column], axes[1][column]
        x, ticks, labels = 0.0, [], []
        for model in models:
            start = x
            for index, method in enumerate(model.methods):
                colour = colours.get(method.key, '#333333')
                runs = records.get(model.key, {}).get(method.key)
                if runs:
                    values = [r['metrics'][key] for r in runs]
                    top.bar(x, np.mean(values), 0.8, color=colour,
                            label=method.name if column == 0 else None)
                    top.plot([x] * len(values), values, 'k.', markersize=4)
                paired = deltas[model.key].get(method.key, {}).get(key)
                if index and paired:
                    bottom.bar(x, paired['mean'], 0.8, color=colour)
                    bottom.plot([x] * len(paired['deltas']),
                                paired['deltas'], 'k.', markersize=4)
                x += 1
            ticks.append((start + x - 1) / 2)
            labels.append(model.name)
            x += 0.8
        for ax in (top, bottom):
            ax.set_xticks(ticks)
            ax.set_xticklabels(labels)
            ax.grid(axis='y', alpha=0.3)
        bottom.axhline(0.0, color='k', linewidth=0.8)
        top.set_title(title)
        bottom.set_title(f'{title}, minus {base} per seed', fontsize=9)
    handles, names = axes[0][0].get_legend_handles_labels()
    unique = dict(zip(names, handles))
    fig.legend(unique.values(), unique.keys(), loc='lower center',
               ncol=len(unique), frameon=False)
    fig.suptitle('CamVid val (%): bars at the seed mean, dots per seed; '
                 f'bottom row: difference to {base} on the same seed',
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_reports(records_dir: str, out_dir: str,
                  models: Sequence[Model] = MODELS) -> Dict[str, str]:
    """``results.md`` (per model: summary, paired against CE and against
    AAF, per-class IoU, BIoU and bF tables), ``results.json`` and
    ``losses.png`` into ``out_dir``, from the records there are; returns
    name -> path."""
    records = load_records(records_dir, models)
    os.makedirs(out_dir, exist_ok=True)
    sections, payload = [], dict(thin_classes=list(THIN_CLASSES), models={})
    for model in models:
        found = records.get(model.key)
        if not found:
            continue
        sections += [
            f'## {model.name}\n', summary_markdown(model, found),
            f'\nEach method minus {model.methods[0].name}, per seed: mean '
            'difference (seeds won)\n', paired_markdown(model, found),
            '\nAAF minus each other method, per seed: mean difference (seeds '
            'AAF wins)\n', aaf_versus_markdown(model, found),
            '\nPer-class IoU (mean over seeds)\n',
            per_class_markdown(model, found, 'IoU'),
            '\nPer-class Boundary IoU (mean over seeds)\n',
            per_class_markdown(model, found, 'BIoU'),
            '\nPer-class boundary F-score (mean over seeds)\n',
            per_class_markdown(model, found, 'bFscore'), ''
        ]
        payload['models'][model.key] = dict(
            name=model.name,
            methods={
                m.key: dict(name=m.name,
                            config=f'configs/camvid/{m.config}',
                            runs=found[m.key])
                for m in model.methods if m.key in found
            },
            paired=paired_deltas(model, found),
            aaf_versus=aaf_versus(model, found))
    paths = dict(md=osp.join(out_dir, 'results.md'),
                 json=osp.join(out_dir, 'results.json'),
                 png=osp.join(out_dir, 'losses.png'))
    with open(paths['md'], 'w') as f:
        f.write('\n'.join(sections))
    report.write_json(paths['json'], payload)
    plot_measures(paths['png'], records, models)
    return paths


def write_synthetic_segnet(root: str, num_train: int = 8, num_val: int = 4,
                           seed: int = 0, size: int = 96) -> str:
    """The synthetic demo scenes in CamVid's SegNet layout, for the quick
    preset: ``train/``, ``trainannot/``, ``val/``, ``valannot/`` with the
    objects as CamVid classes (wheel -> bicyclist, pole -> pole, wire ->
    fence, crate -> car, blob -> pedestrian, background -> road) and a
    void (11) frame."""
    lut = np.array([3, 10, 2, 7, 8, 9], np.uint8)
    rng = np.random.default_rng(seed)
    for split, count in (('train', num_train), ('val', num_val)):
        for folder in (split, f'{split}annot'):
            os.makedirs(osp.join(root, folder), exist_ok=True)
        for index in range(count):
            image, label, _ = generate_sample(rng, size)
            label = lut[label]
            label[0, :] = label[-1, :] = 11
            name = f'0001TP_{index:06d}.png' if split == 'train' else \
                f'0016E5_{index:05d}.png'
            Image.fromarray(image).save(osp.join(root, split, name))
            Image.fromarray(label).save(osp.join(root, f'{split}annot', name))
    return root


def seconds_left(to_train: Sequence[tuple],
                 durations: Dict[tuple, List[float]]) -> Optional[float]:
    """The time the ``(model, method)`` runs still ``to_train`` should take:
    each at the mean time its own cell took so far in this invocation (a
    Lovász run is about 3x a CE run), a cell not timed yet at the mean of
    all timed runs; recorded runs take no time and are not in
    ``to_train``. None before any run was timed."""
    timed = [s for cell in durations.values() for s in cell]
    if not timed:
        return None
    overall = float(np.mean(timed))
    return float(sum(np.mean(durations[cell]) if cell in durations
                     else overall for cell in to_train))


def run_loss_comparison(camvid: Optional[str],
                        work_dir: str = 'work_dirs/compare_losses',
                        records_dir: Optional[str] = None,
                        data_root: str = 'data/camvid_half',
                        preset: str = 'full',
                        seeds: Optional[int] = None,
                        affinity_seeds: Optional[int] = None,
                        iters: Optional[int] = None,
                        nproc: int = 2,
                        printer: Callable[[str], None] = print) -> Dict:
    """Convert, train, test and report every cell of :data:`MODELS`.

    Args:
        camvid (str, optional): The SegNet CamVid folder; with the quick
            preset None writes synthetic scenes in that layout instead.
        work_dir (str): Runs (``<model>/<method>/seed<k>/``) and reports.
        records_dir (str, optional): Per-run records; default
            ``<work_dir>/records``.
        data_root (str): Where the half-resolution conversion goes.
        preset (str): 'full' (3 seeds everywhere, the configs' schedule)
            or 'quick' (synthetic data, 2 iterations).
        seeds, affinity_seeds, iters: Override the preset.

    Returns:
        dict: name -> path of the written reports.
    """
    _quiet_libraries()
    chosen = PRESETS[preset]
    seeds = chosen.seeds if seeds is None else seeds
    affinity_seeds = (chosen.affinity_seeds
                      if affinity_seeds is None else affinity_seeds)
    iters = chosen.iters if iters is None else iters
    work_dir, data_root = osp.abspath(work_dir), osp.abspath(data_root)
    records_dir = osp.abspath(records_dir or osp.join(work_dir, 'records'))
    os.makedirs(work_dir, exist_ok=True)
    start = time.perf_counter()
    if camvid is None:
        if preset != 'quick':
            raise ValueError('the CamVid folder is needed unless --quick')
        camvid = write_synthetic_segnet(osp.join(work_dir, 'synthetic'))
        printer(f'Synthetic scenes in the SegNet layout -> {camvid}')
    printer(f'Converting {camvid} at scale {SCALE} -> {data_root}')
    conversion = convert_camvid(camvid, data_root, scale=SCALE, nproc=nproc)
    if conversion.failed():
        for line in conversion.lines():
            printer(f'  {line}')
        raise RuntimeError('CamVid conversion failed; see the files above')
    for split in ('train', 'val'):
        if not conversion.splits.get(split):
            raise FileNotFoundError(f'{camvid} has no {split} split')

    planned = plan_runs(seeds, affinity_seeds)
    recorded = [osp.isfile(record_path(records_dir, *run)) for run in planned]
    durations: Dict[tuple, List[float]] = {}
    for index, (model, method, seed) in enumerate(planned, 1):
        done = recorded[index - 1]
        left = seconds_left([
            run[:2] for run, known in zip(planned[index - 1:],
                                          recorded[index - 1:])
            if not known], durations)
        eta = ('' if left is None else
               f', about {_format_seconds(left)} left')
        printer(f'[{index}/{len(planned)}] {model.name} {method.name}, seed '
                f'{seed}{" (recorded)" if done else ""}: elapsed '
                f'{_format_seconds(time.perf_counter() - start)}{eta}')
        began = time.perf_counter()
        record = run_one(model, method, seed, data_root, work_dir,
                         records_dir, iters, chosen.batch_size, printer)
        if not done:
            durations.setdefault((model, method), []).append(
                time.perf_counter() - began)
        metrics = record['metrics']
        printer(f'  -> mIoU {metrics["mIoU"]:.2f}  bF '
                f'{metrics["bFscore"]:.2f}  BIoU {metrics["mBIoU"]:.2f}  '
                f'thin mIoU {metrics["thin_mIoU"]:.2f}')
    paths = write_reports(records_dir, work_dir)
    printer('')
    with open(paths['md']) as f:
        printer(f.read())
    for path in paths.values():
        printer(f'wrote {path}')
    printer(f'total time {(time.perf_counter() - start) / 60:.1f} min')
    return paths
