# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""One run of a study: train (or resume) and test one (method, seed) with
mmengine's ``Runner``, and write its record.

The same code runs wherever the study puts the run: in the study's own
process (``--jobs 1``), in a process of its own (``--jobs N``:
``python -m mmseg_aaf.comparison.training SPEC``), under ``torchrun`` for a
run on several local GPUs, and as a Slurm job (:mod:`.slurm`). A run is
described by a :class:`RunSpec`, a small JSON file in its run folder; the
worker resolves the config again and refuses to train if it no longer has
the hash the study planned with.
"""
import argparse
import inspect
import json
import os
import os.path as osp
import sys
import time
from dataclasses import asdict, dataclass, field
from types import SimpleNamespace
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np
from mmengine.config import Config
from mmengine.hooks import Hook

from .records import (FORMAT_NAME, FORMAT_VERSION, StaleRecord,
                      config_hash, write_record)

#: The name of a run's spec and of its log (``--jobs N``, Slurm) in its
#: run folder.
SPEC_FILE = 'run_spec.json'
LOG_FILE = 'run.log'


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 60}m{seconds % 60:02d}s'


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


class ProgressHook(Hook):
    """Print one compact line every ``interval`` iterations (on the first
    process of a distributed run), and keep the training time across
    resumes: each checkpoint carries the seconds trained so far
    (``meta['train_seconds']``), and a resumed run counts on from them."""

    priority = 'LOW'

    def __init__(self, label: str, interval: int, printer=print):
        self.label = label
        self.interval = interval
        self.printer = printer
        self._losses = []
        self._start = None
        self._before = 0.0

    @property
    def train_seconds(self) -> float:
        """Seconds trained, the stretches before a resume included."""
        running = 0.0 if self._start is None else \
            time.perf_counter() - self._start
        return self._before + running

    def after_load_checkpoint(self, runner, checkpoint) -> None:
        self._before = float((checkpoint.get('meta') or {}).get(
            'train_seconds', 0.0))

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        checkpoint.setdefault('meta', {})['train_seconds'] = \
            self.train_seconds

    def start_clock(self) -> None:
        """Count from now (the study starts it as it calls
        ``runner.train()``, so that the run's setup counts, as it always
        has); else from the first iteration."""
        self._start = time.perf_counter()

    def before_train(self, runner) -> None:
        if self._start is None:
            self.start_clock()
        self._first = runner.iter

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        from mmengine.dist import is_main_process
        if outputs and 'loss' in outputs:
            self._losses.append(float(outputs['loss'].detach()))
        done = runner.iter + 1
        if done % self.interval and done != runner.max_iters or \
                not is_main_process():
            return
        elapsed = time.perf_counter() - self._start
        rate = (done - self._first) / max(elapsed, 1e-9)
        eta = (runner.max_iters - done) / max(rate, 1e-9)
        loss = np.mean(self._losses) if self._losses else float('nan')
        self._losses = []
        self.printer(f'  [{self.label}] iter {done:>4}/{runner.max_iters}  '
                     f'loss {loss:.3f}  {rate:.1f} it/s  '
                     f'elapsed {format_seconds(elapsed)}  '
                     f'eta {format_seconds(eta)}')


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
    from mmengine.model import is_model_wrapper

    from ..models.losses import AAFLoss
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


@dataclass
class RunSpec:
    """Everything a process needs to train and test one run.

    Attributes:
        method (str): The method's key (``+dice+aaf``).
        name (str): Its display name (``+ Dice + AAF``).
        seed (int): The run's seed.
        config_file (str): The method's (derived) config.
        config_hash (str): The hash of the config the study planned with.
        record_file (str): Where the record goes when the run ends.
        run_dir (str): The run's folder (checkpoints, logs).
        cfg_options (dict, optional), iters (int, optional),
        quick (bool): How the study resolves the config
            (:func:`~.study.resolved_config`).
        verbose (bool): Keep mmengine's log output.
        shown (list[dict]): Test images whose predictions are kept.
        threads (int, optional): torch's intra-op threads.
    """
    method: str
    name: str
    seed: int
    config_file: str
    config_hash: str
    record_file: str
    run_dir: str
    cfg_options: Optional[dict] = None
    iters: Optional[int] = None
    quick: bool = False
    verbose: bool = False
    shown: List[Dict] = field(default_factory=list)
    threads: Optional[int] = None

    @property
    def label(self) -> str:
        return f'{self.method} seed {self.seed}'

    @property
    def spec_file(self) -> str:
        return osp.join(self.run_dir, SPEC_FILE)

    @property
    def log_file(self) -> str:
        return osp.join(self.run_dir, LOG_FILE)

    def save(self) -> str:
        os.makedirs(self.run_dir, exist_ok=True)
        with open(self.spec_file, 'w') as f:
            json.dump(asdict(self), f, indent=1)
        return self.spec_file

    @classmethod
    def load(cls, path: str) -> 'RunSpec':
        with open(path) as f:
            return cls(**json.load(f))


def _metric_class(metric_type: str):
    from mmseg.registry import METRICS
    try:
        return METRICS.get(metric_type)
    except KeyError:
        return None


def run_config(cfg: Config, spec: RunSpec) -> Config:
    """The run's config: its folder, its seed, no validation during
    training (the run is tested once, at the end), a checkpoint every
    quarter of the run (the last kept, for resuming), and per-class
    results files for the metrics that write them (mmseg's ``IoUMetric``
    becomes :class:`~mmseg_aaf.evaluation.PerClassIoUMetric`, which
    returns the same keys)."""
    run_dir = spec.run_dir
    cfg = cfg.copy()
    cfg.work_dir = run_dir
    cfg.randomness = dict(cfg.get('randomness') or {}, seed=spec.seed)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    max_iters = cfg.train_cfg.get('max_iters')
    if max_iters:
        cfg.train_cfg.val_interval = max_iters + 1
    hooks = cfg.default_hooks
    hooks.pop('visualization', None)
    if 'checkpoint' in hooks:
        hooks.checkpoint.update(
            interval=max((max_iters or 4) // 4, 1), save_last=True,
            max_keep_ckpts=1)
    cfg.log_level = 'INFO' if spec.verbose else 'ERROR'
    evaluator = cfg.test_evaluator
    metrics = evaluator if isinstance(evaluator, list) else [evaluator]
    for index, metric in enumerate(metrics):
        if metric.get('type') == 'IoUMetric':
            metric['type'] = 'PerClassIoUMetric'
        cls = _metric_class(metric.get('type', ''))
        if cls is not None and 'output_file' in inspect.signature(
                cls.__init__).parameters:
            metric['output_file'] = osp.join(
                run_dir, 'per_class', f'{index}_{metric["type"]}.json')
    cfg.test_evaluator = metrics
    return cfg


def _per_class(run_dir: str) -> Dict:
    """The per-class results files of a tested run, merged: classes and
    one list per measure (the first metric that writes a name wins)."""
    from ..evaluation.per_class_results import load_result_file
    folder = osp.join(run_dir, 'per_class')
    merged = {}
    names = sorted(os.listdir(folder), key=lambda n: int(n.split('_')[0])) \
        if osp.isdir(folder) else []
    for name in names:
        result = load_result_file(osp.join(folder, name))
        merged.setdefault('classes', list(result.classes))
        for measure, values in result.per_class.items():
            if measure not in merged:
                merged[measure] = [
                    None if v is None or np.isnan(v) else round(float(v), 4)
                    for v in values
                ]
    return merged


def train_and_test(cfg: Config, spec: RunSpec, printer: Callable = print,
                   launcher: str = 'none') -> Dict:
    """Train (or resume, or reuse a finished training) and test one run
    of the resolved config ``cfg``; returns its record (not yet written).
    The predictions of the ``spec.shown`` test images go to
    ``run_dir/predictions/``. ``launcher`` is mmengine's (``pytorch``
    under torchrun, ``slurm`` in a Slurm job of several tasks)."""
    from mmengine.dist import barrier, is_main_process
    from mmengine.runner import Runner
    run_dir, label = spec.run_dir, spec.label
    cfg = run_config(cfg, spec)
    cfg.launcher = launcher
    if launcher != 'none':
        # Without CUDA, torchrun's processes train on CPU over gloo, as
        # tools/train.py does (mmengine's launcher assumes one GPU each).
        from ..utils.dist import setup_cpu_distributed
        setup_cpu_distributed(cfg, launcher)
    trained_file = osp.join(run_dir, 'trained.json')
    if osp.isfile(trained_file):
        with open(trained_file) as f:
            trained = json.load(f)
        printer(f'  [{label}] trained before: {trained["checkpoint"]}')
    else:
        cfg.resume = osp.isfile(osp.join(run_dir, 'last_checkpoint'))
        if cfg.resume:
            printer(f'  [{label}] resuming from the last checkpoint')
        runner = Runner.from_cfg(cfg)
        max_iters = cfg.train_cfg.get('max_iters') or 1
        progress = ProgressHook(label, max(max_iters // 6, 1), printer)
        runner.register_hook(progress)
        progress.start_clock()
        runner.train()
        seconds = progress.train_seconds
        barrier()  # the first process has saved the last checkpoint
        with open(osp.join(run_dir, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
        trained = dict(train_seconds=seconds, checkpoint=checkpoint,
                       resumed=bool(cfg.resume))
        if is_main_process():
            with open(trained_file, 'w') as f:
                json.dump(trained, f)
        del runner
    test_cfg = cfg.copy()
    test_cfg.load_from = trained['checkpoint']
    test_cfg.resume = False
    runner = Runner.from_cfg(test_cfg)
    collector = None
    if spec.shown:
        collector = PredictionCollector([item['name']
                                         for item in spec.shown])
        runner.register_hook(collector)
    start = time.perf_counter()
    metrics = runner.test()
    test_seconds = time.perf_counter() - start
    if collector is not None:
        from PIL import Image
        folder = osp.join(run_dir, 'predictions')
        os.makedirs(folder, exist_ok=True)
        for name, prediction in collector.predictions.items():
            Image.fromarray(prediction).save(
                osp.join(folder, osp.splitext(name)[0] + '.png'))
    sizes = aaf_kernel_sizes(runner.model)
    return dict(
        format=FORMAT_NAME,
        version=FORMAT_VERSION,
        method=spec.method,
        name=spec.name,
        seed=spec.seed,
        config=spec.config_file,
        config_hash=spec.config_hash,
        iters=cfg.train_cfg.get('max_iters'),
        metrics={k: float(v) for k, v in metrics.items()},
        per_class=_per_class(run_dir),
        kernel_sizes=None if sizes is None else dict(
            edge=[float(x) for x in sizes['edge']],
            nonedge=[float(x) for x in sizes['nonedge']]),
        kernel_size_candidates=None if sizes is None else
        [int(k) for k in sizes['candidates']],
        test_images=len(runner.test_dataloader.dataset),
        train_seconds=round(trained['train_seconds'], 1),
        test_seconds=round(test_seconds, 1))


def run_spec(spec: RunSpec, printer: Callable = print,
             launcher: str = 'none') -> Optional[Dict]:
    """Resolve the spec's config, check it is still the one the study
    planned, train and test, and write the record (on the first process).
    Returns the record there, None on the other processes.

    Raises:
        StaleRecord: the config's hash changed since the study planned.
    """
    from mmengine.dist import is_main_process

    from .study import resolved_config
    if spec.threads:
        import torch
        torch.set_num_threads(spec.threads)
    settings = SimpleNamespace(cfg_options=spec.cfg_options,
                               iters=spec.iters, quick=spec.quick)
    cfg = resolved_config(spec.config_file, settings)
    digest = config_hash(cfg)
    if digest != spec.config_hash:
        raise StaleRecord(
            f'{spec.config_file} changed since the study planned '
            f'{spec.label} (config hash {digest[:12]} != '
            f'{spec.config_hash[:12]}); run the study again')
    record = train_and_test(cfg, spec, printer, launcher)
    if not is_main_process():
        return None
    write_record(spec.record_file, record)
    return record


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The worker: ``python -m mmseg_aaf.comparison.training SPEC
    [--launcher pytorch]``. Exits 0 once the record is written, 1 on an
    error (its traceback in the log), 130 when interrupted."""
    parser = argparse.ArgumentParser(
        description='Train and test one run of an mmseg-aaf-compare study '
        '(the study starts this itself).')
    parser.add_argument('spec', help=f'the run\'s {SPEC_FILE}')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm'])
    args = parser.parse_args(argv)
    import mmseg_aaf  # noqa: F401  (registers the plugin's modules)
    from .study import quiet_libraries
    spec = RunSpec.load(args.spec)
    if not spec.verbose:
        quiet_libraries()
    try:
        record = run_spec(spec, lambda line: print(line, flush=True),
                          args.launcher)
    except KeyboardInterrupt:
        print(f'  [{spec.label}] interrupted', flush=True)
        return 130
    if args.launcher != 'none':
        from ..utils.dist import teardown_distributed
        teardown_distributed()
    if record is not None:
        from .study_report import measures_line
        study = SimpleNamespace(measures=None, subsets={})
        print(f'  [{spec.label}] recorded: {measures_line(study, record)}',
              flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
