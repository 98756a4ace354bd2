# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The engine of ``mmseg-aaf-compare``: train and test every (method,
seed) of a study with mmengine's ``Runner``, record each finished run, and
report from the records.

A study is a baseline config, the methods derived from it
(:mod:`.methods`) and the seeds. :func:`run_study` checks everything it
can before training anything (configs, derivations, records), then runs
seed by seed over all methods, so that a stop leaves every method compared
on the first seeds. A run whose record exists is not trained again; a
training cut off in a run folder resumes from its last checkpoint; a
record of another config is refused (:class:`~.records.StaleRecord`).
Reports (:mod:`.study_report`) are rewritten after every finished run,
from whatever records exist.

Each run is :func:`~.training.run_spec`: in this process one after
another, or through an :class:`~.executors.Execution`, up to N at once in
processes of their own (:class:`~.executors.LocalExecutor`) or as Slurm
jobs (:class:`~.slurm.SlurmExecutor`).
"""
import json
import os
import os.path as osp
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config

from ..apis.aaf_config import resolve_config_path
from . import study_report
from .methods import Method, derive_configs
from .records import (StaleRecord, config_hash, read_record, record_path,
                      write_record)
from .executors import Execution
from .training import RunSpec, format_seconds, set_schedule, train_and_test

#: What ``--quick`` changes: a smoke test of the whole study (every
#: method builds, trains, tests and reports) before the real one.
QUICK_ITERS = 2
QUICK_BATCH_SIZE = 2
#: ... and tests each run on at most this many test images, so that the
#: check costs the same whatever the size of the test split.
QUICK_TEST_IMAGES = 2


class StudyError(ValueError):
    """Input a study cannot run with; the message names it."""


@dataclass
class Study:
    """What to compare, and where the runs, records and reports go.

    Attributes:
        baseline (str): The baseline config (a path or ``mmseg::...``).
        methods (list[Method]): The compared methods, in table order.
        seeds (list[int]): Every method trains once per seed.
        work_dir (str): Derived configs (``configs/``), one folder per run
            (``<method slug>/seed<k>/``) and, by default, records and
            reports.
        records_dir (str, optional): Default ``<work_dir>/records``.
        report_dir (str, optional): Default ``work_dir``.
        iters (int, optional): Another schedule length (warm-up and decay
            rescaled, :func:`~.training.set_schedule`).
        cfg_options (dict, optional): Applied to every method's config.
        loss_options (dict, optional): Settings of the pairwise losses of
            derived methods (``+aaf``, ``+affinity``).
        focus (list[str], optional): The methods whose "minus each other
            method" tables are written; default the last method.
        subsets (dict): Name -> class names, reported as ``<name> mIoU``.
        measures (list[str], optional): Keys shown in the tables (evaluator
            keys and ``<subset>_mIoU``); default every evaluator key.
        quick (bool): 2 iterations of batch 2 per run (records and runs
            under ``<work_dir>/quick``).
        verbose (bool): Keep mmengine's log output.
        title (str, optional): Heading of the reports; default the
            baseline's file name.
        show (int): Keep the first seed's predictions of this many test
            images for ``qualitative.png``: those with most pixels of the
            first subset's classes (of every class but 0 without one).
        zoom (float): The figure shows a window of this fraction of each
            image side around the densest such pixels (1: whole images).
    """
    baseline: str
    methods: List[Method]
    seeds: List[int]
    work_dir: str
    records_dir: Optional[str] = None
    report_dir: Optional[str] = None
    iters: Optional[int] = None
    cfg_options: Optional[dict] = None
    loss_options: Optional[dict] = None
    focus: Optional[List[str]] = None
    subsets: Dict[str, List[str]] = field(default_factory=dict)
    measures: Optional[List[str]] = None
    quick: bool = False
    verbose: bool = False
    title: Optional[str] = None
    show: int = 0
    zoom: float = 1.0

    def __post_init__(self):
        if self.title is None:
            self.title = osp.splitext(osp.basename(self.baseline))[0]
        self.work_dir = osp.abspath(self.work_dir)
        if self.quick:
            self.work_dir = osp.join(self.work_dir, 'quick')
        self.records_dir = osp.abspath(self.records_dir or osp.join(
            self.work_dir, 'records'))
        self.report_dir = osp.abspath(self.report_dir or self.work_dir)
        keys = [m.key for m in self.methods]
        if not self.methods:
            raise StudyError('no methods to compare')
        if isinstance(self.focus, str):
            self.focus = [self.focus]
        self.focus = list(self.focus or keys[-1:])
        for focus in self.focus:
            if focus not in keys:
                raise StudyError(f'--focus {focus} is not one of the '
                                 f'methods ({", ".join(keys)})')
        if not self.seeds or len(set(self.seeds)) != len(self.seeds) or \
                min(self.seeds) < 0:
            raise StudyError('seeds must be distinct numbers >= 0')
        if self.show < 0 or not 0 < self.zoom <= 1:
            raise StudyError('--show must be >= 0 and --zoom in (0, 1]')

    @property
    def shown_file(self) -> str:
        """The test images whose predictions are kept (JSON)."""
        return osp.join(self.work_dir, 'shown.json')

    @property
    def reference(self) -> Method:
        """The method the others are paired against: the baseline if it
        is compared, else the first method."""
        return next((m for m in self.methods if m.is_baseline),
                    self.methods[0])


@dataclass
class PlannedRun:
    method: Method
    seed: int
    config: Config
    config_file: str
    config_hash: str
    record_file: str
    recorded: bool


def quiet_libraries() -> None:
    warnings.filterwarnings('ignore', module=r'(mmseg|mmengine|mmcv)(\.|$)')
    warnings.filterwarnings('ignore', category=UserWarning)


def resolved_config(path: str, study: Study) -> Config:
    """``path`` as the study trains it: ``cfg_options``, ``--quick`` and
    ``--iters`` applied, before it is pointed at a run folder. Its
    :func:`~.records.config_hash` identifies the run's records."""
    cfg = Config.fromfile(resolve_config_path(path))
    if study.cfg_options:
        cfg.merge_from_dict(study.cfg_options)
    iters = QUICK_ITERS if study.quick else study.iters
    if study.quick:
        cfg.train_dataloader.batch_size = QUICK_BATCH_SIZE
        limit_images(cfg.test_dataloader.dataset, QUICK_TEST_IMAGES)
    if iters is not None:
        set_schedule(cfg, iters)
    return cfg


def limit_images(dataset: dict, count: int) -> None:
    """Make a dataset config hold at most its first ``count`` samples
    (mmengine's ``indices``); of a concatenation, the first dataset's."""
    if dataset.get('datasets'):
        dataset['datasets'] = dataset['datasets'][:1]
        limit_images(dataset['datasets'][0], count)
    elif dataset.get('dataset'):
        limit_images(dataset['dataset'], count)
        dataset.pop('times', None)
    else:
        dataset['indices'] = count


def plan_study(study: Study, printer: Callable = print) -> List[PlannedRun]:
    """Derive the configs, resolve them and read the records there are:
    ``(method, seed)`` runs seed by seed over all methods.

    Raises:
        StudyError: a config that cannot be read, a method that cannot be
            derived, or a record of another config.
    """
    baseline = study.baseline
    if not osp.isfile(resolve_config_path(baseline)):
        raise StudyError(f'config not found: {baseline}')
    paths = derive_configs(baseline, study.methods,
                           osp.join(study.work_dir, 'configs'),
                           study.loss_options)
    resolved = {}
    for index, method in enumerate(study.methods):
        try:
            cfg = resolved_config(paths[method.key], study)
        except ValueError as exc:
            raise StudyError(f'{method.key}: {exc}') from exc
        except Exception as exc:  # mmengine's errors on a broken config
            raise StudyError(f'cannot read the config of {method.key} '
                             f'({paths[method.key]}): '
                             f'{type(exc).__name__}: {exc}') from exc
        if not cfg.get('test_evaluator') or not cfg.get('test_dataloader'):
            raise StudyError(f'{paths[method.key]} has no test_dataloader '
                             'and test_evaluator to score the runs with')
        resolved[method.key] = (cfg, config_hash(cfg))
        if index == 0 and study.subsets:
            classes = dataset_classes(cfg)
            if classes:
                check_subsets(study, classes)
        if not method.is_baseline:
            printer(f'{method.key}: {osp.relpath(paths[method.key])}')
    if study.show:
        choose_shown(resolved[study.methods[0].key][0], study)
    runs = []
    for seed in study.seeds:
        for method in study.methods:
            cfg, digest = resolved[method.key]
            path = record_path(study.records_dir, method.slug, seed)
            recorded = osp.isfile(path)
            if recorded:
                read_record(path, digest)  # raises StaleRecord
            runs.append(PlannedRun(method, seed, cfg, paths[method.key],
                                   digest, path, recorded))
    return runs


def _densest_window(mask: np.ndarray, zoom: float) -> List[int]:
    """``[top, left, height, width]``: the window of ``zoom`` times each
    side of ``mask`` that holds most of its true pixels."""
    height, width = mask.shape
    h, w = max(int(round(height * zoom)), 1), max(int(round(width * zoom)), 1)
    sums = np.pad(mask.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    counts = (sums[h:, w:] - sums[:-h, w:] - sums[h:, :-w] + sums[:-h, :-w])
    top, left = np.unravel_index(int(np.argmax(counts)), counts.shape)
    return [int(top), int(left), h, w]


def choose_shown(cfg: Config, study: Study) -> Dict:
    """Pick the test images of the qualitative figure (once per work dir:
    kept in ``study.shown_file``, with the classes, the palette and each
    image's zoom window)."""
    if osp.isfile(study.shown_file):
        with open(study.shown_file) as f:
            return json.load(f)
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS
    from PIL import Image
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
    classes = list(dataset.metainfo['classes'])
    subset = next(iter(study.subsets.values()), None)
    wanted = [classes.index(c) for c in subset] if subset else \
        list(range(1, len(classes)))
    found = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        label = np.asarray(Image.open(info['seg_map_path']))
        mask = np.isin(label, wanted)
        found.append((-int(mask.sum()), index, info, mask))
    found.sort(key=lambda item: item[:2])
    shown = dict(
        classes=classes,
        palette=[list(map(int, c)) for c in dataset.metainfo['palette']],
        images=[dict(name=osp.basename(info['img_path']),
                     img_path=info['img_path'],
                     seg_map_path=info['seg_map_path'],
                     window=_densest_window(mask, study.zoom))
                for _, _, info, mask in found[:study.show]])
    with open(study.shown_file, 'w') as f:
        json.dump(shown, f, indent=1)
    return shown


def seconds_left(to_train: Sequence[str],
                 durations: Dict[str, List[float]]) -> Optional[float]:
    """The time the runs of the methods ``to_train`` (one key per run
    still to train) should take: each at its own method's mean measured
    time (a Lovász run is about 3x a CE run), a method not timed yet at
    the mean of every timed run; None before any run was timed. Recorded
    runs take no time and are not in ``to_train``."""
    timed = [s for runs in durations.values() for s in runs]
    if not timed:
        return None
    overall = float(np.mean(timed))
    return float(sum(np.mean(durations[key]) if key in durations
                     else overall for key in to_train))


def _measured(record: Dict) -> Optional[float]:
    seconds = record.get('train_seconds')
    if seconds is None:
        return None
    return float(seconds) + float(record.get('test_seconds') or 0.0)


class RunsFailed(StudyError):
    """Some runs failed; the others were recorded and reported."""


def run_spec_of(study: Study, run: PlannedRun,
                threads: Optional[int] = None) -> RunSpec:
    """What a process needs to train and test ``run`` of ``study``."""
    shown = []
    if study.show and run.seed == study.seeds[0]:
        with open(study.shown_file) as f:
            shown = json.load(f)['images']
    return RunSpec(
        method=run.method.key, name=run.method.name, seed=run.seed,
        config_file=run.config_file, config_hash=run.config_hash,
        record_file=run.record_file,
        run_dir=osp.join(study.work_dir, run.method.slug,
                         f'seed{run.seed}'),
        cfg_options=study.cfg_options, iters=study.iters, quick=study.quick,
        verbose=study.verbose, shown=shown, threads=threads)


def slurm_executor(study: Study, execution: Execution, printer: Callable):
    """:class:`~.slurm.SlurmExecutor`, or one error line without
    submitit."""
    from .executors import ExecutionError
    try:
        from .slurm import SlurmExecutor
    except ImportError as exc:
        raise ExecutionError(f'--launcher slurm needs submitit ({exc}); '
                             'pip install submitit') from exc
    return SlurmExecutor(study, execution, printer)


def run_study(study: Study, printer: Callable[[str], None] = print,
              report_only: bool = False,
              execution: Optional[Execution] = None) -> Dict[str, str]:
    """Plan, train and test what is not recorded, and write the reports.

    Args:
        execution (Execution, optional): Where the runs execute; default
            one after another in this process (or, where CUDA devices are
            visible, one GPU per run and as many runs at once as GPUs).

    Returns:
        dict: report name -> path (see
        :func:`~.study_report.write_reports`).

    Raises:
        RunsFailed: after the reports, if any run failed.
    """
    execution = execution or Execution()
    if not study.verbose:
        quiet_libraries()
    start = time.perf_counter()
    os.makedirs(study.work_dir, exist_ok=True)
    local = None
    if execution.launcher == 'local':
        from .executors import local_plan, visible_devices
        devices = visible_devices()
        local = local_plan(execution, devices)
    runs = plan_study(study, printer)
    durations: Dict[str, List[float]] = {}
    for run in runs:
        if run.recorded:
            seconds = _measured(read_record(run.record_file))
            if seconds is not None:
                durations.setdefault(run.method.key, []).append(seconds)
    if report_only:
        if execution.launcher == 'slurm':
            slurm_executor(study, execution, printer).describe(runs)
        return study_report.write_reports(study)
    todo = [run for run in runs if not run.recorded]
    printer(f'{len(runs)} runs ({len(study.methods)} methods x '
            f'{len(study.seeds)} seeds), {len(runs) - len(todo)} recorded '
            f'in {study.records_dir}')
    if study.quick and todo:
        printer(f'--quick: {QUICK_ITERS} iterations of batch '
                f'{QUICK_BATCH_SIZE} per run, each tested on at most '
                f'{QUICK_TEST_IMAGES} test images: a check that every '
                'method builds, trains, tests and reports, not a result')

    def elapsed() -> str:
        return format_seconds(time.perf_counter() - start)

    def recorded(run: PlannedRun, seconds: float) -> None:
        record = read_record(run.record_file, run.config_hash)
        durations.setdefault(run.method.key, []).append(seconds)
        run.recorded = True
        printer('  -> ' + study_report.measures_line(study, record))
        study_report.write_reports(study)

    failures = []
    if execution.launcher == 'slurm':
        executor = slurm_executor(study, execution, printer)
        failures = executor.execute(runs, recorded, elapsed)
        if not execution.wait:
            return study_report.write_reports(study)
    elif local['jobs'] == 1 and local['gpus_per_run'] <= 1:
        for index, run in enumerate(runs, 1):
            head = (f'[{index}/{len(runs)}] {run.method.name}, seed '
                    f'{run.seed}')
            if run.recorded:
                printer(f'{head} (recorded)')
                continue
            left = seconds_left(
                [r.method.key for r in runs[index - 1:] if not r.recorded],
                durations)
            eta = '' if left is None else \
                f', about {format_seconds(left)} left'
            printer(f'{head}: elapsed {elapsed()}{eta}')
            began = time.perf_counter()
            spec = run_spec_of(study, run, local['threads'])
            record = train_and_test(run.config, spec, printer)
            write_record(run.record_file, record)
            recorded(run, time.perf_counter() - began)
    else:
        from .executors import LocalExecutor
        jobs = local['jobs']
        printer(f'{jobs} run(s) at once, each in its own process'
                + (f' with {local["gpus_per_run"]} GPU(s)'
                   if local['gpus_per_run'] else '')
                + (f' and {local["threads"]} thread(s)'
                   if local['threads'] else ''))
        for index, run in enumerate(runs, 1):
            if run.recorded:
                printer(f'[{index}/{len(runs)}] {run.method.name}, seed '
                        f'{run.seed} (recorded)')

        def eta(unfinished) -> str:
            left = seconds_left([r.method.key for r in unfinished],
                                durations)
            return '' if left is None else \
                f', about {format_seconds(left / jobs)} left'

        executor = LocalExecutor(jobs, local['gpus_per_run'], devices,
                                 printer)
        failures = executor.execute(
            [(index, run, run_spec_of(study, run, local['threads']))
             for index, run in enumerate(runs, 1) if not run.recorded],
            len(runs), len(runs) - len(todo), recorded, eta, elapsed)
    paths = study_report.write_reports(study)
    printer('')
    if paths:
        with open(paths['md']) as f:
            printer(f.read())
    for path in paths.values():
        printer(f'wrote {path}')
    printer(f'total time {(time.perf_counter() - start) / 60:.1f} min')
    if failures:
        raise RunsFailed(
            f'{len(failures)} of {len(todo)} run(s) failed; the others are '
            'recorded and reported, and the same command trains the failed '
            'ones again. ' + ' | '.join(failures))
    return paths


def dataset_classes(cfg: Config) -> Optional[List[str]]:
    """The class names of ``cfg``'s test dataset (its ``metainfo`` or its
    class's ``METAINFO``); None for a dataset wrapper or an unknown
    type."""
    from mmseg.registry import DATASETS
    dataset = cfg.test_dataloader.get('dataset') or {}
    meta = dataset.get('metainfo') or {}
    if meta.get('classes'):
        return list(meta['classes'])
    try:
        cls = DATASETS.get(dataset.get('type', ''))
    except KeyError:
        cls = None
    classes = getattr(cls, 'METAINFO', {}).get('classes') if cls else None
    return list(classes) if classes else None


def check_subsets(study: Study, classes: Sequence[str]) -> None:
    """Every ``--subset`` class is one of ``classes``."""
    for name, members in study.subsets.items():
        unknown = [c for c in members if c not in classes]
        if unknown:
            raise StudyError(
                f'--subset {name}: no class {", ".join(unknown)} in the '
                f'dataset ({", ".join(classes)})')


__all__ = ['Study', 'StudyError', 'StaleRecord', 'RunsFailed', 'run_study',
           'plan_study', 'seconds_left', 'resolved_config', 'run_spec_of',
           'check_subsets', 'limit_images']
