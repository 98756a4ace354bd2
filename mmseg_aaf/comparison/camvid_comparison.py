# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""CE vs. affinity vs. AAF on real street scenes: CamVid, several seeds.

:func:`run_camvid_comparison` converts the SegNet CamVid folder at half
resolution, trains and tests the three CPU-scale configs of
``configs/camvid/`` for several seeds with mmengine's ``Runner``, and
writes the tables and figures (see the function). Every finished training
(its final checkpoint) and test (its ``metrics.json``) is kept, so an
interrupted comparison continues where it stopped.
"""
import json
import math
import os
import os.path as osp
import time
import warnings
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

from ..datasets.camvid import CAMVID_CLASSES, CAMVID_PALETTE
from ..datasets.camvid_conversion import convert_camvid
from ..evaluation.per_class_results import ResultFile, load_result_file
from ..evaluation.tables import Table, per_class_table, to_csv, to_markdown
from ..visualization import kernel_sizes_from_state_dict, plot_kernel_sizes
from . import report
from .runner import (REPO_ROOT, Method, PredictionCollector, ProgressHook,
                     _format_seconds, set_schedule)

CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'camvid')
#: The CPU configs read CamVid converted at this scale (240x180).
SCALE = 0.5
#: CamVid's thin classes; the qualitative figure shows the val images with
#: most of their pixels.
THIN_CLASSES = ('pole', 'signsymbol', 'pedestrian', 'bicyclist')
NUM_QUALITATIVE = 4
AAF_KERNEL_SIZES = (3, 5, 7)
#: Summary columns: (title, key of runner.test()'s metrics).
COLUMNS = (('mIoU', 'mIoU'), ('bF', 'bFscore'), ('bRecall', 'bRecall'))


#: The compared methods, baseline first.
METHODS = (
    Method('ce', 'CE', 'pspnet_r18_ce_camvid-cpu.py'),
    Method('affinity', 'CE + affinity', 'pspnet_r18_affinity_camvid-cpu.py'),
    Method('aaf', 'CE + AAF', 'pspnet_r18_aaf_camvid-cpu.py'),
)


def plan_runs(seeds: int, affinity_seeds: int) -> List[tuple]:
    """``(method, seed)`` pairs, seed by seed, so that an early stop still
    leaves every method compared on the first seeds."""
    counts = dict(ce=seeds, affinity=affinity_seeds, aaf=seeds)
    runs = []
    for seed in range(max(counts.values())):
        for method in (METHODS[0], METHODS[2], METHODS[1]):
            if seed < counts[method.key]:
                runs.append((method, seed))
    return runs


def build_config(method: Method, data_root: str, work_dir: str, seed: int,
                 iters: Optional[int] = None) -> Config:
    """The method's config on ``data_root``, seeded, writing per-class
    results into ``work_dir``; validation during training is off (the
    comparison tests once, at the end)."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, method.config))
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed, deterministic=False)
    if iters is not None:
        set_schedule(cfg, iters)
    max_iters = cfg.train_cfg.max_iters
    cfg.train_cfg.val_interval = max_iters + 1
    cfg.default_hooks.checkpoint.interval = max(max_iters // 4, 1)
    cfg.default_hooks.pop('visualization', None)
    cfg.log_level = 'ERROR'
    files = dict(PerClassIoUMetric='per_class_iou.json',
                 BoundaryMetric='per_class_boundary.json',
                 BoundaryIoUMetric='per_class_boundary_iou.json')
    for metric in cfg.test_evaluator:
        if metric['type'] in files:
            metric['output_file'] = osp.join(work_dir, files[metric['type']])
    return cfg


def thin_pixel_ranking(ann_dir: str) -> List[str]:
    """Val file names by their number of thin-class pixels, most first."""
    thin = [CAMVID_CLASSES.index(name) for name in THIN_CLASSES]
    counts = []
    for name in sorted(os.listdir(ann_dir)):
        label = np.asarray(Image.open(osp.join(ann_dir, name)))
        counts.append((-int(np.isin(label, thin).sum()), name))
    return [name for _, name in sorted(counts)]


def spread_frames(names: Sequence[str], count: int,
                  min_gap: int = 60) -> List[str]:
    """The first ``count`` of ``names`` (in order), skipping frames of a
    sequence within ``min_gap`` frame numbers of one already taken, so that
    the figure does not show one scene four times (CamVid's val frames are
    consecutive video frames, ``<sequence>_<frame>.png``)."""
    taken = []
    for name in names:
        sequence, _, frame = osp.splitext(name)[0].rpartition('_')
        close = any(
            seq == sequence and frame.isdigit() and f.isdigit()
            and abs(int(frame) - int(f)) < min_gap for seq, f, _ in taken)
        if not close:
            taken.append((sequence, frame, name))
        if len(taken) == count:
            break
    return [name for _, _, name in taken]


def _quiet_libraries() -> None:
    warnings.filterwarnings('ignore', module=r'(mmseg|mmengine|mmcv)(\.|$)')
    warnings.filterwarnings('ignore', category=UserWarning)


def _final_checkpoint(work_dir: str, max_iters: int) -> str:
    return osp.join(work_dir, f'iter_{max_iters}.pth')


def train_and_test_one(cfg: Config, label: str, shown: Sequence[str],
                       retest: bool, printer: Callable) -> Dict:
    """Train (or resume, or reuse) and test one run; returns its record."""
    work_dir = cfg.work_dir
    max_iters = cfg.train_cfg.max_iters
    checkpoint = _final_checkpoint(work_dir, max_iters)
    record_path = osp.join(work_dir, 'metrics.json')
    record = {}
    if osp.isfile(record_path):
        with open(record_path) as f:
            record = json.load(f)
    if not osp.isfile(checkpoint):
        cfg.resume = osp.isfile(osp.join(work_dir, 'last_checkpoint'))
        if cfg.resume:
            printer(f'  [{label}] resuming from the last checkpoint')
        runner = Runner.from_cfg(cfg)
        runner.register_hook(ProgressHook(label, 100, printer))
        start = time.perf_counter()
        runner.train()
        record = dict(train_seconds=time.perf_counter() - start)
        del runner
    else:
        printer(f'  [{label}] trained: {osp.relpath(checkpoint)}')
    prediction_dir = osp.join(work_dir, 'predictions')
    if retest or 'metrics' not in record:
        test_cfg = cfg.copy()
        test_cfg.load_from = checkpoint
        test_cfg.resume = False
        runner = Runner.from_cfg(test_cfg)
        collector = PredictionCollector(shown)
        runner.register_hook(collector)
        start = time.perf_counter()
        metrics = runner.test()
        record['test_seconds'] = time.perf_counter() - start
        record['metrics'] = {k: float(v) for k, v in metrics.items()}
        os.makedirs(prediction_dir, exist_ok=True)
        for name, prediction in collector.predictions.items():
            Image.fromarray(prediction).save(osp.join(prediction_dir, name))
        report.write_json(record_path, record)
    metrics = record['metrics']
    printer(f'  [{label}] val: mIoU {metrics["mIoU"]:.2f}  '
            f'bF {metrics["bFscore"]:.2f}  '
            f'bRecall {metrics["bRecall"]:.2f}')
    state = torch.load(checkpoint, map_location='cpu')['state_dict']
    sizes = None
    if any(key.endswith('edge_size_logits') for key in state):
        found = kernel_sizes_from_state_dict(state, AAF_KERNEL_SIZES)[0]
        sizes = dict(edge=found.edge, nonedge=found.nonedge)
    return dict(
        metrics=metrics,
        per_class=load_result_file(osp.join(work_dir, 'per_class_iou.json')),
        kernel_sizes=sizes,
        predictions={
            name: np.asarray(Image.open(osp.join(prediction_dir, name)))
            for name in shown
            if osp.isfile(osp.join(prediction_dir, name))
        },
        train_seconds=record.get('train_seconds'))


def mean_std(values: Sequence[float]) -> tuple:
    """Mean and sample standard deviation (NaN for a single value)."""
    values = np.asarray(values, dtype=np.float64)
    std = float(values.std(ddof=1)) if values.size > 1 else float('nan')
    return float(values.mean()), std


def summary_markdown(runs: Dict[str, List[Dict]], baseline: str) -> str:
    """Methods by (mIoU, bF, bRecall) as mean ± std over seeds, then the
    difference of each mean to the baseline's."""
    header = ['Method', 'seeds'] + [title for title, _ in COLUMNS]
    lines = ['| ' + ' | '.join(header) + ' |',
             '| --- | ---: |' + ' ---: |' * len(COLUMNS)]
    means = {}
    for name, records in runs.items():
        cells = [name, str(len(records))]
        means[name] = []
        for _, key in COLUMNS:
            mean, std = mean_std([r['metrics'][key] for r in records])
            means[name].append(mean)
            cells.append(f'{mean:.2f}' if math.isnan(std) else
                         f'{mean:.2f} ± {std:.2f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    for name in runs:
        if name != baseline:
            deltas = [f'{m - b:+.2f}'
                      for m, b in zip(means[name], means[baseline])]
            lines.append(f'| {name} - {baseline} | | ' + ' | '.join(deltas) +
                         ' |')
    return '\n'.join(lines) + '\n'


def mean_per_class(results: Sequence[ResultFile]) -> ResultFile:
    """Per-class values and means averaged over seeds."""
    names = results[0].per_class.keys()
    return ResultFile(
        ', '.join(r.path for r in results), results[0].classes,
        {k: np.mean([r.per_class[k] for r in results], axis=0)
         for k in names},
        {k: float(np.mean([r.means[k] for r in results])) for k in names})


def run_camvid_comparison(camvid: str,
                          work_dir: str = 'work_dirs/camvid',
                          data_root: str = 'data/camvid_half',
                          seeds: int = 3,
                          affinity_seeds: int = 1,
                          iters: Optional[int] = None,
                          nproc: int = 2,
                          retest: bool = False,
                          printer: Callable[[str], None] = print) -> Dict:
    """Convert, train, test and report CE, affinity and AAF on CamVid val.

    Args:
        camvid (str): The SegNet CamVid folder (``train/``,
            ``trainannot/``, ``val/``, ``valannot/``).
        work_dir (str): Gets ``<method>/seed<k>/`` per run and the reports:
            ``results.{md,csv,json}`` (mean ± std over seeds),
            ``per_class_iou.{md,csv}`` (seed means, with a delta row),
            ``kernel_sizes.png`` and ``qualitative.png``.
        data_root (str): Where the half-resolution conversion goes.
        seeds (int): Seeds of CE and of AAF (0, 1, ...).
        affinity_seeds (int): Seeds of the fixed 3x3 affinity field.
        iters (int, optional): Another schedule length, for experiments.
        nproc (int): Conversion processes.
        retest (bool): Test finished runs again (e.g. after a metric
            changed) instead of reusing their ``metrics.json``.

    Returns:
        dict: what ``results.json`` holds.
    """
    _quiet_libraries()
    start = time.perf_counter()
    work_dir, data_root = osp.abspath(work_dir), osp.abspath(data_root)
    os.makedirs(work_dir, exist_ok=True)

    printer(f'Converting {camvid} at scale {SCALE} -> {data_root}')
    conversion = convert_camvid(camvid, data_root, scale=SCALE, nproc=nproc)
    for line in conversion.lines():
        printer(f'  {line}')
    if conversion.failed():
        raise RuntimeError('CamVid conversion failed; see the files above')
    for split in ('train', 'val'):
        if not conversion.splits.get(split):
            raise FileNotFoundError(f'{camvid} has no {split} split')
    shown = spread_frames(
        thin_pixel_ranking(osp.join(data_root, 'ann_dir', 'val')),
        NUM_QUALITATIVE)

    planned = plan_runs(seeds, affinity_seeds)
    runs: Dict[str, List[Dict]] = {m.name: [] for m in METHODS}
    for index, (method, seed) in enumerate(planned, 1):
        label = f'{method.key} seed {seed}'
        printer(f'[{index}/{len(planned)}] {method.name}, seed {seed} '
                f'(configs/camvid/{method.config}), elapsed '
                f'{_format_seconds(time.perf_counter() - start)}')
        cfg = build_config(method, data_root,
                           osp.join(work_dir, method.key, f'seed{seed}'),
                           seed, iters)
        runs[method.name].append(
            train_and_test_one(cfg, label, shown if seed == 0 else (),
                               retest, printer))
    runs = {name: records for name, records in runs.items() if records}
    baseline = METHODS[0].name

    summary = summary_markdown(runs, baseline)
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(summary)
    per_class = per_class_table(
        [mean_per_class([r['per_class'] for r in records])
         for records in runs.values()], list(runs), 'IoU', baseline)
    for fmt, render in (('md', to_markdown), ('csv', to_csv)):
        with open(osp.join(work_dir, f'per_class_iou.{fmt}'), 'w') as f:
            f.write(render(per_class, 1))
    csv_table = Table('summary', [t for t, _ in COLUMNS], [
        (f'{name} seed {seed}', [r['metrics'][k] for _, k in COLUMNS])
        for name, records in runs.items()
        for seed, r in enumerate(records)
    ], [])
    with open(osp.join(work_dir, 'results.csv'), 'w') as f:
        f.write(to_csv(csv_table, 2))

    aaf_name = METHODS[2].name
    figures = []
    if aaf_name in runs:
        records = runs[aaf_name]
        edge = np.mean([r['kernel_sizes']['edge'] for r in records], axis=0)
        nonedge = np.mean([r['kernel_sizes']['nonedge'] for r in records],
                          axis=0)
        figures.append(plot_kernel_sizes(
            CAMVID_CLASSES, edge, nonedge, AAF_KERNEL_SIZES,
            osp.join(work_dir, 'kernel_sizes.png'),
            title=f'CamVid, {aaf_name}: learned effective kernel sizes '
            f'(mean of {len(records)} seed(s); uniform start: 5)'))
    compared = [name for name in (baseline, aaf_name) if name in runs]
    images = [
        np.asarray(Image.open(osp.join(data_root, 'img_dir', 'val',
                                       n)).convert('RGB')) for n in shown
    ]
    labels = [
        np.asarray(Image.open(osp.join(data_root, 'ann_dir', 'val', n)))
        for n in shown
    ]
    # Void (255) is drawn black, like ignored pixels in mmseg's visualizer.
    palette = list(CAMVID_PALETTE) + [[0, 0, 0]] * (256 - len(CAMVID_PALETTE))
    figures.append(report.plot_qualitative(
        osp.join(work_dir, 'qualitative.png'),
        images=images,
        ground_truths=labels,
        predictions={n: [runs[n][0]['predictions'][s] for s in shown]
                     for n in compared},
        classes=CAMVID_CLASSES,
        palette=palette,
        names=shown))

    total = time.perf_counter() - start
    result = dict(
        data=dict(source=camvid, scale=SCALE, splits=conversion.splits),
        methods={
            name: dict(
                config=f'configs/camvid/{m.config}',
                seeds=[r['metrics'] for r in runs[name]],
                train_seconds=[r['train_seconds'] for r in runs[name]])
            for m in METHODS for name in [m.name] if name in runs
        },
        aaf_effective_kernel_sizes=(
            [r['kernel_sizes'] for r in runs[aaf_name]]
            if aaf_name in runs else None),
        qualitative_images=shown,
        total_seconds=round(total, 1))
    report.write_json(osp.join(work_dir, 'results.json'), result)

    printer('')
    printer(f'CamVid val ({conversion.splits["val"]} images, '
            f'{int(360 * SCALE)}x{int(480 * SCALE)}), mean ± std over seeds:')
    printer('')
    printer(summary)
    printer('Per-class IoU (mean over seeds):')
    printer('')
    printer(to_markdown(per_class, 1))
    for name in ('results.md', 'results.csv', 'results.json',
                 'per_class_iou.md', 'per_class_iou.csv'):
        printer(f'wrote {osp.join(work_dir, name)}')
    for path in figures:
        printer(f'wrote {path}')
    printer(f'total time {total / 60:.1f} min')
    return result
