# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Where a study's runs execute: one after another in the study's process,
up to N at once in processes of their own on this machine
(:class:`LocalExecutor`), or as Slurm jobs (:mod:`.slurm`).

Whatever the executor, a run is the same :func:`~.training.run_spec` and
leaves the same record; the study rewrites its reports from the records
each time a run ends.
"""
import os
import os.path as osp
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

from .training import format_seconds

#: A run's progress, as :class:`~.training.ProgressHook` logs it.
_ITER = re.compile(r'iter\s+(\d+)/(\d+)')


class ExecutionError(ValueError):
    """Execution settings this machine or cluster cannot honour."""


@dataclass
class Execution:
    """How a study's runs execute.

    Attributes:
        launcher (str): ``local`` (this machine) or ``slurm``.
        jobs (int, optional): Local runs at once; default the visible GPUs
            // ``gpus_per_run``, or 1 without GPUs.
        threads (int, optional): torch threads per run; default this
            process's count, divided among the runs with ``jobs > 1``.
        gpus_per_run (int, optional): GPUs per run; default 1 where CUDA
            devices are visible, else 0. Several train with one process
            per GPU (torchrun locally, one Slurm task per GPU).
        partition, time, slurm_args: Slurm's (``--partition``, ``--time``
            and any other sbatch options).
        wait (bool): Slurm: wait for the jobs and collect their records
            (else submit and return).
        poll_seconds (float): Slurm: how often the queue is looked at.
    """
    launcher: str = 'local'
    jobs: Optional[int] = None
    threads: Optional[int] = None
    gpus_per_run: Optional[int] = None
    partition: Optional[str] = None
    time: Optional[str] = None
    slurm_args: List[str] = field(default_factory=list)
    wait: bool = True
    poll_seconds: float = 30.0

    def __post_init__(self):
        if self.launcher not in ('local', 'slurm'):
            raise ExecutionError(f'--launcher must be local or slurm, got '
                                 f'{self.launcher!r}')
        for name in ('jobs', 'threads'):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ExecutionError(f'--{name} must be >= 1')
        if self.gpus_per_run is not None and self.gpus_per_run < 0:
            raise ExecutionError('--gpus-per-run must be >= 0')
        if self.launcher == 'local' and (
                self.partition or self.time or self.slurm_args):
            raise ExecutionError('--partition, --time and --slurm-args are '
                                 'for --launcher slurm')
        if self.launcher == 'slurm' and self.jobs is not None:
            raise ExecutionError('--jobs is for --launcher local: Slurm '
                                 'runs as many jobs at once as it grants')


def visible_devices() -> List[str]:
    """The CUDA devices this process may give to runs: the entries of
    ``CUDA_VISIBLE_DEVICES`` where it is set, else ``0..count-1``."""
    import torch
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    listed = os.environ.get('CUDA_VISIBLE_DEVICES')
    if listed is not None:
        return [d.strip() for d in listed.split(',') if d.strip()][:count]
    return [str(i) for i in range(count)]


def local_plan(execution: Execution,
               devices: Sequence[str]) -> Dict[str, Optional[int]]:
    """``jobs``, ``gpus_per_run`` and ``threads`` for local runs.

    Raises:
        ExecutionError: more GPUs asked for than are visible.
    """
    gpus = execution.gpus_per_run
    if gpus is None:
        gpus = 1 if devices else 0
    jobs = execution.jobs
    if jobs is None:
        jobs = max(len(devices) // gpus, 1) if gpus else 1
    if gpus * jobs > len(devices):
        raise ExecutionError(
            f'{jobs} run(s) at once with --gpus-per-run {gpus} need '
            f'{gpus * jobs} GPU(s); {len(devices)} visible')
    threads = execution.threads
    if threads is None and jobs > 1:
        import torch
        threads = max(torch.get_num_threads() // jobs, 1)
    return dict(jobs=jobs, gpus_per_run=gpus, threads=threads)


def last_iteration(log_file: str) -> Optional[str]:
    """``"120/400"``: the last iteration a run's log reports, if any."""
    try:
        with open(log_file, 'rb') as f:
            f.seek(max(osp.getsize(log_file) - 4096, 0))
            tail = f.read().decode(errors='replace')
    except OSError:
        return None
    found = _ITER.findall(tail)
    return f'{found[-1][0]}/{found[-1][1]}' if found else None


def last_line(log_file: str) -> str:
    """The last non-empty line of a log (a failed run's error)."""
    try:
        with open(log_file, 'rb') as f:
            f.seek(max(osp.getsize(log_file) - 4096, 0))
            lines = f.read().decode(errors='replace').splitlines()
    except OSError:
        return ''
    return next((line.strip() for line in reversed(lines) if line.strip()),
                '')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@dataclass
class _Running:
    index: int
    run: object
    spec: object
    process: subprocess.Popen
    devices: List[str]
    started: float
    log: object


class LocalExecutor:
    """Up to ``jobs`` runs at once on this machine, each in its own process
    (``python -m mmseg_aaf.comparison.training SPEC``, or torchrun with one
    process per GPU for a run of several GPUs), its output in the run
    folder's ``run.log``.

    A failed run is reported with its log and the others go on; Ctrl-C
    stops every run (each resumes from its last checkpoint next time).
    """

    def __init__(self, jobs: int, gpus_per_run: int, devices: Sequence[str],
                 printer: Callable[[str], None] = print):
        self.jobs = jobs
        self.gpus_per_run = gpus_per_run
        self.free_devices = list(devices)
        self.printer = printer

    def command(self, spec_file: str) -> List[str]:
        worker = ['-m', 'mmseg_aaf.comparison.training', spec_file]
        if self.gpus_per_run > 1:
            return [sys.executable, '-m', 'torch.distributed.run',
                    f'--nproc_per_node={self.gpus_per_run}',
                    f'--master_port={_free_port()}', *worker,
                    '--launcher', 'pytorch']
        return [sys.executable, *worker]

    def _start(self, index: int, run, spec) -> _Running:
        devices = self.free_devices[:self.gpus_per_run]
        del self.free_devices[:self.gpus_per_run]
        env = dict(os.environ)
        env['CUDA_VISIBLE_DEVICES'] = ','.join(devices)
        if spec.threads:
            env['OMP_NUM_THREADS'] = env['MKL_NUM_THREADS'] = str(
                spec.threads)
        spec_file = spec.save()
        log = open(spec.log_file, 'a')
        log.write(f'\n=== {time.strftime("%Y-%m-%d %H:%M:%S")} '
                  f'{" ".join(self.command(spec_file))}\n')
        log.flush()
        # A session of its own: Ctrl-C is forwarded to the whole process
        # tree (torchrun and its workers) by stop(), once.
        process = subprocess.Popen(
            self.command(spec_file), stdout=log, stderr=subprocess.STDOUT,
            env=env, start_new_session=True, preexec_fn=_default_sigint)
        return _Running(index, run, spec, process, devices,
                        time.perf_counter(), log)

    def _stop(self, running: Sequence[_Running]) -> None:
        for item in running:
            try:
                os.killpg(item.process.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        deadline = time.perf_counter() + 30
        for item in running:
            try:
                item.process.wait(max(deadline - time.perf_counter(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(item.process.pid, signal.SIGKILL)
                item.process.wait()
            item.log.close()

    def progress_line(self, done: int, total: int,
                      running: Sequence[_Running], queued: int,
                      elapsed: str, eta: str) -> str:
        flight = ', '.join(
            f'{item.spec.label}: iter {last_iteration(item.spec.log_file)}'
            if last_iteration(item.spec.log_file) else
            f'{item.spec.label}: starting' for item in running)
        return (f'  {done}/{total} done, {len(running)} in flight'
                f'{f" ({flight})" if flight else ""}, {queued} queued; '
                f'elapsed {elapsed}{eta}')

    def execute(self, todo: Sequence, total: int, done: int,
                on_recorded: Callable, eta: Callable[[List], str],
                elapsed: Callable[[], str],
                report_every: float = 60.0) -> List[str]:
        """Run ``todo`` (``(index, run, spec)`` in order); returns the
        failures, one line each. ``on_recorded(run, seconds)`` is called as
        each run's record appears."""
        queue = list(todo)
        running: List[_Running] = []
        failures = []
        last_report = time.perf_counter()

        def interrupt(signum, frame):
            raise KeyboardInterrupt

        # The runs have sessions of their own (so that a stop reaches each
        # whole process tree once): a study ended by SIGTERM or a closed
        # terminal stops them as Ctrl-C does, rather than orphaning them.
        previous = {sig: signal.signal(sig, interrupt)
                    for sig in (signal.SIGTERM, signal.SIGHUP)}
        try:
            while queue or running:
                changed = False
                while queue and len(running) < self.jobs:
                    index, run, spec = queue.pop(0)
                    item = self._start(index, run, spec)
                    running.append(item)
                    self.printer(
                        f'[{index}/{total}] {spec.name}, seed {spec.seed}: '
                        f'started ({len(running)} in flight)'
                        f'{", GPU " + ",".join(item.devices) if item.devices else ""}'
                        f'; log {osp.relpath(spec.log_file)}')
                    changed = True
                for item in list(running):
                    code = item.process.poll()
                    if code is None:
                        continue
                    running.remove(item)
                    item.log.close()
                    self.free_devices.extend(item.devices)
                    seconds = time.perf_counter() - item.started
                    head = (f'[{item.index}/{total}] {item.spec.name}, '
                            f'seed {item.spec.seed}')
                    if code == 0 and osp.isfile(item.spec.record_file):
                        done += 1
                        self.printer(f'{head}: done in '
                                     f'{format_seconds(seconds)}')
                        on_recorded(item.run, seconds)
                    else:
                        line = (f'{head}: FAILED (exit {code}) after '
                                f'{format_seconds(seconds)}; log '
                                f'{item.spec.log_file}')
                        failures.append(line)
                        self.printer(line)
                        error = last_line(item.spec.log_file)
                        if error:
                            self.printer(f'    {error}')
                    changed = True
                now = time.perf_counter()
                if changed or now - last_report >= report_every:
                    if running or queue:
                        self.printer(self.progress_line(
                            done, total, running, len(queue), elapsed(),
                            eta([item.run for item in running] +
                                [run for _, run, _ in queue])))
                    last_report = now
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.printer(f'stopping {len(running)} run(s) in flight; the '
                         'same command resumes them from their last '
                         'checkpoints')
            self._stop(running)
            raise
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return failures


def _default_sigint() -> None:
    """In a run's process, before it starts: SIGINT interrupts it even
    where the study itself was started with SIGINT ignored (``nohup``, a
    background job, a test runner), so that stopping a run is the same
    everywhere."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
