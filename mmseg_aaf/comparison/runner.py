# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Train and evaluate one demo method with mmengine's ``Runner``."""
import os.path as osp
import time
from dataclasses import dataclass
from typing import Dict, Iterable, Optional

import numpy as np
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from ..models.losses import AAFLoss

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'demo')


@dataclass(frozen=True)
class Method:
    key: str
    name: str
    config: str


#: The compared methods, baseline first.
METHODS = (
    Method('ce', 'CE', 'pspnet_ce_synthetic.py'),
    Method('affinity', 'CE + affinity', 'pspnet_affinity_synthetic.py'),
    Method('aaf', 'CE + AAF', 'pspnet_aaf_synthetic.py'),
)


@dataclass(frozen=True)
class Preset:
    """Size of a demo run."""
    num_train: int
    num_val: int
    iters: int
    batch_size: int
    log_interval: int


PRESETS = dict(
    full=Preset(num_train=200, num_val=48, iters=800, batch_size=8,
                log_interval=50),
    quick=Preset(num_train=96, num_val=24, iters=300, batch_size=8,
                 log_interval=50),
)


def set_schedule(cfg: Config, iters: int) -> None:
    """Make every iteration count of ``cfg`` follow ``iters``.

    A linear warm-up keeps its length (capped at a tenth of the run) and
    a poly decay runs from its end (or from 0 without one) to ``iters``;
    any other scheduler's ``begin`` / ``end`` are scaled by the ratio of
    the lengths. The one checkpoint is the last iteration's.

    Raises:
        ValueError: ``cfg`` does not train by iterations.
    """
    old = cfg.train_cfg.get('max_iters')
    if not old or cfg.train_cfg.get('by_epoch', False):
        raise ValueError('another schedule length needs an iteration-based '
                         'train loop (train_cfg.max_iters)')
    cfg.train_cfg.max_iters = iters
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    warmup_end = 0
    for scheduler in schedulers:
        if scheduler.type == 'LinearLR':
            scheduler.end = min(scheduler.get('end', old),
                                max(iters // 10, 1))
            warmup_end = scheduler.end
    for scheduler in schedulers:
        if scheduler.type == 'PolyLR':
            scheduler.begin = warmup_end
            scheduler.end = iters
        elif scheduler.type != 'LinearLR':
            for key in ('begin', 'end'):
                if key in scheduler:
                    scheduler[key] = min(
                        int(round(scheduler[key] * iters / old)), iters)
    cfg.default_hooks.checkpoint.interval = iters


def build_config(method: Method,
                 data_root: str,
                 work_dir: str,
                 preset: Preset,
                 seed: int,
                 verbose: bool = False) -> Config:
    """The method's config, pointed at the data and sized by ``preset``."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, method.config))
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.test_dataloader.dataset.data_root = data_root
    cfg.train_dataloader.batch_size = preset.batch_size
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed, deterministic=True)
    set_schedule(cfg, preset.iters)
    cfg.default_hooks.logger.interval = preset.log_interval
    # mmengine's own INFO output (config dump, per-class tables) goes to
    # the log file under work_dir only with --verbose; the demo prints a
    # progress line of its own.
    cfg.log_level = 'INFO' if verbose else 'WARNING'
    return cfg


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 60}m{seconds % 60:02d}s'


class ProgressHook(Hook):
    """Print one compact line every ``interval`` iterations."""

    priority = 'LOW'

    def __init__(self, label: str, interval: int, printer=print):
        self.label = label
        self.interval = interval
        self.printer = printer
        self._losses = []
        self._start = None

    def before_train(self, runner) -> None:
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if outputs and 'loss' in outputs:
            self._losses.append(float(outputs['loss'].detach()))
        done = runner.iter + 1
        if done % self.interval and done != runner.max_iters:
            return
        elapsed = time.perf_counter() - self._start
        rate = done / max(elapsed, 1e-9)
        eta = (runner.max_iters - done) / max(rate, 1e-9)
        loss = np.mean(self._losses) if self._losses else float('nan')
        self._losses = []
        self.printer(f'  [{self.label}] iter {done:>4}/{runner.max_iters}  '
                     f'loss {loss:.3f}  {rate:.1f} it/s  '
                     f'elapsed {_format_seconds(elapsed)}  '
                     f'eta {_format_seconds(eta)}')


class PredictionCollector(Hook):
    """Keep the test predictions of the images named in ``names``."""

    priority = 'LOW'

    def __init__(self, names: Iterable[str]):
        self.names = set(names)
        self.predictions: Dict[str, np.ndarray] = {}

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        for sample in outputs or ():
            name = osp.basename(sample.img_path)
            if name in self.names:
                self.predictions[name] = (
                    sample.pred_sem_seg.data[0].cpu().numpy().astype(
                        np.uint8))


def aaf_kernel_sizes(model) -> Optional[Dict[str, np.ndarray]]:
    """Effective kernel sizes of the first ``AAFLoss`` in ``model``:
    ``edge`` and ``nonedge`` ``(C,)`` arrays, and ``candidates``, the
    ``K`` sizes the loss mixes."""
    if is_model_wrapper(model):
        model = model.module
    for module in model.modules():
        if isinstance(module, AAFLoss):
            sizes = {
                key: value.cpu().numpy()
                for key, value in module.effective_kernel_sizes().items()
            }
            sizes['candidates'] = np.asarray(module.kernel_sizes)
            return sizes
    return None


def train_and_test(cfg: Config, label: str, log_interval: int,
                   keep_predictions: Iterable[str] = (),
                   printer=print) -> Dict:
    """Train ``cfg`` from scratch, then test it on its test split.

    Returns:
        dict: ``metrics`` (from ``runner.test()``), ``predictions`` (image
        name -> ``(H, W)`` uint8 class map, for ``keep_predictions``),
        ``kernel_sizes`` (``AAFLoss`` effective sizes or None),
        ``train_seconds`` and ``test_seconds``.
    """
    runner = Runner.from_cfg(cfg)
    runner.register_hook(ProgressHook(label, log_interval, printer))
    collector = PredictionCollector(keep_predictions)
    runner.register_hook(collector)
    start = time.perf_counter()
    runner.train()
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    metrics = runner.test()
    test_seconds = time.perf_counter() - start
    return dict(
        metrics={k: float(v) for k, v in metrics.items()},
        predictions=collector.predictions,
        kernel_sizes=aaf_kernel_sizes(runner.model),
        train_seconds=train_seconds,
        test_seconds=test_seconds)
