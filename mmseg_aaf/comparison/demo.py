# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The demo (``tools/demo.py``, ``make demo``): a study like any other.

It writes the seeded synthetic thin-structure dataset
(:mod:`.synthetic`), then runs the study engine (:func:`~.study.run_study`)
over the small CPU PSPNet of ``configs/demo/`` with the methods ``ce
+affinity +aaf``, derived from ``pspnet_ce_synthetic.py`` by the config
tool exactly as ``pspnet_affinity_synthetic.py`` and
``pspnet_aaf_synthetic.py`` spell them out (``downsample=2``). The reports
are the study's: ``results.md`` (mIoU, boundary F-score, instance-wise
mIoU and the thin classes' mIoU), ``chart.png``, ``qualitative.png`` (the
four validation images with most thin-structure pixels) and
``kernel_sizes_aaf.png``.
"""
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from .methods import parse_methods
from .study import Study, run_study
from .synthetic import CLASSES, MARKER, THIN_CLASSES, write_dataset

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'demo')
BASELINE = osp.join(CONFIG_DIR, 'pspnet_ce_synthetic.py')
#: The compared methods, baseline first, and the setting that makes the
#: derived configs those of configs/demo/.
METHODS = ('ce', '+affinity', '+aaf')
LOSS_OPTIONS = dict(downsample=2)
MEASURES = ['mIoU', 'bFscore', 'mIoU_instance', 'thin_mIoU']
SUBSETS = dict(thin=[CLASSES[i] for i in THIN_CLASSES])
#: Validation images in the qualitative figure.
NUM_SHOWN = 4


@dataclass(frozen=True)
class Preset:
    """Size of a demo run."""
    num_train: int
    num_val: int
    iters: int


PRESETS = dict(
    full=Preset(num_train=200, num_val=48, iters=800),
    quick=Preset(num_train=96, num_val=24, iters=300),
)


def prepare_data(root: str, preset: Preset, seed: int,
                 printer: Callable = print) -> None:
    """Write the synthetic dataset under ``root``, unless the one there was
    written with the same settings."""
    marker = osp.join(root, MARKER)
    if osp.isfile(marker):
        with open(marker) as f:
            info = json.load(f)
        if info.get('seed') == seed and info.get('splits') == dict(
                train=preset.num_train, val=preset.num_val):
            printer(f'Synthetic data: {preset.num_train} train + '
                    f'{preset.num_val} val images, seed {seed}, in {root} '
                    '(written before)')
            return
    printer(f'Synthetic data: {preset.num_train} train + {preset.num_val} '
            f'val images, seed {seed} -> {root}')
    write_dataset(root, num_train=preset.num_train, num_val=preset.num_val,
                  seed=seed)


def demo_study(work_dir: str, preset: Preset, seed: int,
               verbose: bool = False) -> Study:
    """The demo's study. Data and runs go into folders named by the preset
    and seed (``<work_dir>/data/...``, ``<work_dir>/runs/...``), so that a
    rerun with the same settings continues from the records and another
    setting never meets a record it would refuse; the reports go to
    ``work_dir``."""
    work_dir = osp.abspath(work_dir)
    tag = f'{preset.num_train}train-{preset.num_val}val-seed{seed}'
    data_root = osp.join(work_dir, 'data', tag)
    return Study(
        baseline=BASELINE,
        methods=parse_methods(METHODS),
        seeds=[seed],
        work_dir=osp.join(work_dir, 'runs', f'{tag}-{preset.iters}it'),
        report_dir=work_dir,
        iters=preset.iters,
        cfg_options={
            'train_dataloader.dataset.data_root': data_root,
            'test_dataloader.dataset.data_root': data_root,
        },
        loss_options=dict(LOSS_OPTIONS),
        subsets=dict(SUBSETS),
        measures=list(MEASURES),
        verbose=verbose,
        title=f'Demo: synthetic thin structures, {preset.num_train} train '
        f'and {preset.num_val} val images, {preset.iters} iterations, '
        f'seed {seed}',
        show=NUM_SHOWN)


def run_demo(work_dir: str, quick: bool = False, seed: int = 0,
             iters: Optional[int] = None, verbose: bool = False,
             printer: Callable[[str], None] = print,
             execution=None) -> Dict[str, str]:
    """Write the data and run the demo's study; returns the reports'
    paths (:func:`~.study_report.write_reports`)."""
    preset = PRESETS['quick' if quick else 'full']
    if iters is not None:
        preset = Preset(preset.num_train, preset.num_val, iters)
    study = demo_study(work_dir, preset, seed, verbose)
    os.makedirs(study.report_dir, exist_ok=True)
    prepare_data(study.cfg_options['train_dataloader.dataset.data_root'],
                 preset, seed, printer)
    return run_study(study, printer, execution=execution)
