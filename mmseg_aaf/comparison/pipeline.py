# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The whole demo: data, three trainings, evaluation, report."""
import os
import os.path as osp
import time
import warnings
from typing import Callable, Dict, Optional

import numpy as np
from PIL import Image

from ..visualization import plot_kernel_sizes
from . import report
from .runner import METHODS, PRESETS, build_config, train_and_test
from .synthetic import CLASSES, PALETTE, write_dataset

#: Number of validation images in the qualitative figure.
NUM_QUALITATIVE = 4
#: Candidate sizes of the AAF config (configs/demo/pspnet_aaf_synthetic.py).
AAF_KERNEL_SIZES = (3, 5, 7)


def _quiet_libraries() -> None:
    """Silence the deprecation chatter of the OpenMMLab stack."""
    warnings.filterwarnings('ignore', module=r'(mmseg|mmengine|mmcv)(\.|$)')
    warnings.filterwarnings('ignore', category=UserWarning,
                            message=r'.*(avg_non_ignore|build_loss).*')


def _load_split_item(data_root: str, split: str, name: str):
    image = np.asarray(Image.open(osp.join(data_root, 'img_dir', split,
                                           name)).convert('RGB'))
    label = np.asarray(Image.open(osp.join(data_root, 'ann_dir', split,
                                           name)))
    return image, label


def run_demo(work_dir: str,
             quick: bool = False,
             seed: int = 0,
             verbose: bool = False,
             printer: Callable[[str], None] = print,
             preset_overrides: Optional[Dict] = None) -> Dict:
    """Generate the data, train and test the three methods, write reports.

    Args:
        work_dir (str): Output folder; gets ``data/``, one folder per
            method, ``results.{md,csv,json}``, ``qualitative.png`` and
            ``kernel_sizes.png``.
        quick (bool): The short preset (fewer images and iterations).
        seed (int): Seed of the data and of the trainings.
        verbose (bool): Keep mmengine's INFO log and library warnings.
        preset_overrides (dict, optional): Fields of the preset to replace
            (e.g. ``iters``), for experiments.

    Returns:
        dict: what ``results.json`` holds.
    """
    if not verbose:
        _quiet_libraries()
    preset = PRESETS['quick' if quick else 'full']
    if preset_overrides:
        preset = type(preset)(**{**preset.__dict__, **preset_overrides})
    work_dir = osp.abspath(work_dir)
    os.makedirs(work_dir, exist_ok=True)
    data_root = osp.join(work_dir, 'data')
    start = time.perf_counter()

    printer(f'Synthetic data: {preset.num_train} train + {preset.num_val} '
            f'val images, seed {seed} -> {data_root}')
    info = write_dataset(
        data_root, num_train=preset.num_train, num_val=preset.num_val,
        seed=seed)
    shown = info['thin_first']['val'][:NUM_QUALITATIVE]

    runs = {}
    for index, method in enumerate(METHODS, 1):
        printer(f'[{index}/{len(METHODS)}] {method.name}: training '
                f'{preset.iters} iterations (configs/demo/{method.config})')
        cfg = build_config(method, data_root, osp.join(work_dir, method.key),
                           preset, seed, verbose)
        if not verbose:
            cfg.log_level = 'ERROR'
        result = train_and_test(
            cfg, method.key, preset.log_interval, keep_predictions=shown,
            printer=printer)
        metrics = result['metrics']
        printer(f'  [{method.key}] test on {preset.num_val} val images: '
                f'mIoU {metrics["mIoU"]:.2f}  bF {metrics["bFscore"]:.2f}  '
                f'mIoU_instance {metrics["mIoU_instance"]:.2f}  '
                f'(train {result["train_seconds"]:.0f} s, test '
                f'{result["test_seconds"]:.0f} s)')
        runs[method.name] = result

    baseline = METHODS[0].name
    table = report.benchmark_table(
        {name: run['metrics'] for name, run in runs.items()}, baseline)
    tables = report.write_tables(table, work_dir)

    items = [_load_split_item(data_root, 'val', name) for name in shown]
    qualitative = report.plot_qualitative(
        osp.join(work_dir, 'qualitative.png'),
        images=[image for image, _ in items],
        ground_truths=[label for _, label in items],
        predictions={
            name: [run['predictions'][n] for n in shown]
            for name, run in runs.items()
        },
        classes=CLASSES,
        palette=PALETTE,
        names=shown)
    aaf_sizes = runs[METHODS[-1].name]['kernel_sizes']
    kernel_plot = plot_kernel_sizes(
        CLASSES, aaf_sizes['edge'], aaf_sizes['nonedge'], AAF_KERNEL_SIZES,
        osp.join(work_dir, 'kernel_sizes.png'),
        title=f'{METHODS[-1].name}: learned effective kernel sizes '
        '(uniform start: 5)')

    total = time.perf_counter() - start
    summary = dict(
        preset='quick' if quick else 'full',
        settings=preset.__dict__,
        seed=seed,
        classes=list(CLASSES),
        methods={
            name: dict(
                config=f'configs/demo/{method.config}',
                metrics=run['metrics'],
                train_seconds=round(run['train_seconds'], 1),
                test_seconds=round(run['test_seconds'], 1))
            for method, (name, run) in zip(METHODS, runs.items())
        },
        aaf_effective_kernel_sizes=aaf_sizes,
        qualitative_images=shown,
        total_seconds=round(total, 1))
    report.write_json(osp.join(work_dir, 'results.json'), summary)

    printer('')
    printer(f'Held-out val split ({preset.num_val} images), percent; '
            'synthetic data, small model, CPU:')
    printer('')
    printer(report.to_markdown(table, 2))
    printer('AAF effective kernel sizes (edge / non-edge):')
    for cls, edge, nonedge in zip(CLASSES, aaf_sizes['edge'],
                                  aaf_sizes['nonedge']):
        printer(f'  {cls:<11} {edge:.2f} / {nonedge:.2f}')
    printer('')
    for path in (tables['md'], tables['csv'],
                 osp.join(work_dir, 'results.json'), qualitative,
                 kernel_plot):
        printer(f'wrote {path}')
    printer(f'total time {total / 60:.1f} min')
    return summary
