# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``--launcher slurm``: each (method, seed) of a study is one Slurm job.

Jobs are submitted with submitit (Meta's small, maintained library around
``sbatch``): it writes the batch script, pickles the call, keeps one log
folder per job, starts one task per GPU through ``srun`` and, when a job
reaches its time limit or is preempted, requeues it (the run then resumes
from its last checkpoint). Each job runs :func:`~.training.run_spec`, the
same train-and-test as a local run, and writes the run's record itself;
a run of several GPUs initialises with mmengine's own Slurm launcher.

The study keeps ``<work_dir>/slurm/jobs.json`` (run -> job id, log). On a
rerun, a recorded run is skipped, a run whose job is still queued or
running (``squeue``) is not submitted again, and a run whose job left the
queue without a record (failed, cancelled, out of time without requeue)
is submitted again. Only ``squeue`` is read: accounting (``sacct``) need
not be enabled.
"""
import getpass
import json
import math
import os
import os.path as osp
import shutil
import subprocess
import time
from typing import Callable, Dict, List, Sequence

import submitit

from .executors import Execution, ExecutionError, last_line

#: The default ``--time``: one day.
DEFAULT_TIME = '1-00:00:00'


def parse_time(text: str) -> int:
    """A Slurm time limit (``minutes``, ``MM:SS``, ``HH:MM:SS``,
    ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``) in whole minutes, rounded up.

    Raises:
        ExecutionError: not a time Slurm reads.
    """
    try:
        days, dash, rest = text.rpartition('-')
        parts = [int(p) for p in rest.split(':')]
        days = int(days) if dash else 0
        if days < 0 or any(p < 0 for p in parts) or len(parts) > 3:
            raise ValueError
        if dash:
            hours, minutes, seconds = (parts + [0, 0])[:3]
        elif len(parts) == 1:
            hours, minutes, seconds = 0, parts[0], 0
        elif len(parts) == 2:
            hours, minutes, seconds = 0, parts[0], parts[1]
        else:
            hours, minutes, seconds = parts
    except ValueError:
        raise ExecutionError(
            f'--time {text!r}: give minutes, HH:MM:SS or D-HH:MM:SS')
    total = days * 1440 + hours * 60 + minutes + math.ceil(seconds / 60)
    if total < 1:
        raise ExecutionError(f'--time {text!r} is under a minute')
    return total


def parse_slurm_args(tokens: Sequence[str]) -> Dict[str, object]:
    """``["--qos=high", "--account", "seg", "--exclusive"]`` ->
    ``{"qos": "high", "account": "seg", "exclusive": True}``, the form
    submitit writes as ``#SBATCH`` lines.

    Raises:
        ExecutionError: a short option or a stray value.
    """
    options, index = {}, 0
    tokens = list(tokens)
    while index < len(tokens):
        token = tokens[index]
        if not token.startswith('--') or len(token) < 3:
            raise ExecutionError(
                f'--slurm-args: {token!r} is not a long sbatch option '
                '(write --account=x, not -A x)')
        key, eq, value = token[2:].partition('=')
        if not eq:
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if following is not None and not following.startswith('-'):
                value, index = following, index + 1
            else:
                value = True
        options[key.replace('-', '_')] = value
        index += 1
    return options


class SlurmRun(submitit.helpers.Checkpointable):
    """The job's call: train and test one run from its spec file.
    Checkpointable: submitit requeues the same call when the job is
    preempted or reaches its time limit, and the run resumes."""

    def __init__(self, spec_file: str):
        self.spec_file = spec_file

    def __call__(self) -> str:
        import mmseg_aaf  # noqa: F401  (registers the plugin's modules)
        from .study import quiet_libraries
        from .training import RunSpec, run_spec
        spec = RunSpec.load(self.spec_file)
        if not spec.verbose:
            quiet_libraries()
        tasks = int(os.environ.get('SLURM_NTASKS', '1'))
        run_spec(spec, lambda line: print(line, flush=True),
                 'slurm' if tasks > 1 else 'none')
        if tasks > 1:
            from ..utils.dist import teardown_distributed
            teardown_distributed()
        return spec.record_file


def queue_states() -> Dict[str, str]:
    """Job id -> state (``PENDING``, ``RUNNING``, ...) of this user's jobs
    in the queue.

    Raises:
        ExecutionError: ``squeue`` fails (no controller reachable).
    """
    proc = subprocess.run(
        ['squeue', '-h', '-u', getpass.getuser(), '-o', '%i|%T'],
        capture_output=True, text=True)
    if proc.returncode:
        raise ExecutionError('squeue failed: ' + (
            proc.stderr.strip().splitlines() or ['no output'])[-1])
    states = {}
    for line in proc.stdout.splitlines():
        job, _, state = line.strip().partition('|')
        if job:
            states[job] = state
    return states


class SlurmExecutor:
    """Submits, watches and collects a study's runs as Slurm jobs."""

    def __init__(self, study, execution: Execution,
                 printer: Callable[[str], None] = print):
        for tool in ('sbatch', 'squeue'):
            if shutil.which(tool) is None:
                raise ExecutionError(
                    f'--launcher slurm: {tool} is not on PATH (on this '
                    'machine, `make slurm-up` starts a one-node cluster)')
        self.study = study
        self.execution = execution
        self.printer = printer
        self.folder = osp.join(study.work_dir, 'slurm')
        self.jobs_file = osp.join(self.folder, 'jobs.json')
        self.minutes = parse_time(execution.time or DEFAULT_TIME)
        self.extra = parse_slurm_args(execution.slurm_args)
        self.gpus = execution.gpus_per_run or 0
        self.threads = execution.threads or (4 if self.gpus else 1)

    @staticmethod
    def key(run) -> str:
        return f'{run.method.slug}/seed{run.seed}'

    def load_jobs(self) -> Dict[str, Dict]:
        if not osp.isfile(self.jobs_file):
            return {}
        with open(self.jobs_file) as f:
            return json.load(f)

    def save_jobs(self, jobs: Dict[str, Dict]) -> None:
        os.makedirs(self.folder, exist_ok=True)
        tmp = self.jobs_file + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(jobs, f, indent=1)
        os.replace(tmp, self.jobs_file)

    def executor(self) -> 'submitit.SlurmExecutor':
        executor = submitit.SlurmExecutor(
            folder=osp.join(self.folder, '%j'), max_num_timeout=3)
        parameters = dict(
            time=self.minutes, nodes=1, ntasks_per_node=max(self.gpus, 1),
            cpus_per_task=self.threads,
            additional_parameters=dict(self.extra))
        if self.gpus:
            parameters['gpus_per_node'] = self.gpus
        if self.execution.partition:
            parameters['partition'] = self.execution.partition
        executor.update_parameters(**parameters)
        return executor

    def describe(self, runs: Sequence) -> None:
        """One line per run that has no record: its job and state."""
        jobs, states = self.load_jobs(), queue_states()
        for run in runs:
            if run.recorded:
                continue
            job = jobs.get(self.key(run))
            head = f'{run.method.name}, seed {run.seed}'
            if job is None:
                self.printer(f'{head}: not submitted')
            elif job['job_id'] in states:
                self.printer(f'{head}: Slurm job {job["job_id"]} '
                             f'{states[job["job_id"]].lower()}')
            else:
                self.printer(f'{head}: Slurm job {job["job_id"]} ended '
                             f'without a record; log {job["log"]}')

    def execute(self, runs: Sequence, recorded: Callable,
                elapsed: Callable[[], str]) -> List[str]:
        """Submit what needs submitting, then (``execution.wait``) watch
        the queue and collect the records; returns the failures."""
        from .study import run_spec_of
        jobs, states = self.load_jobs(), queue_states()
        total, watched, submit = len(runs), [], []
        for index, run in enumerate(runs, 1):
            head = f'[{index}/{total}] {run.method.name}, seed {run.seed}'
            if run.recorded:
                self.printer(f'{head} (recorded)')
                continue
            job = jobs.get(self.key(run))
            if job and job['job_id'] in states:
                self.printer(f'{head}: Slurm job {job["job_id"]} '
                             f'{states[job["job_id"]].lower()}; not '
                             'submitted again')
                watched.append((index, run))
                continue
            if job:
                self.printer(f'{head}: Slurm job {job["job_id"]} ended '
                             'without a record (failed or cancelled; log '
                             f'{job["log"]}); submitting again')
            submit.append((index, run))
        if submit:
            executor = self.executor()
            for index, run in submit:
                spec = run_spec_of(self.study, run, self.threads)
                spec.save()
                executor.update_parameters(
                    job_name=f'aaf-{run.method.slug}-seed{run.seed}')
                job = executor.submit(SlurmRun(spec.spec_file))
                jobs[self.key(run)] = dict(
                    job_id=str(job.job_id), log=str(job.paths.stderr),
                    submitted=time.strftime('%Y-%m-%d %H:%M:%S'))
                self.save_jobs(jobs)  # a stop loses no submitted job
                self.printer(f'[{index}/{total}] {run.method.name}, seed '
                             f'{run.seed}: submitted as Slurm job '
                             f'{job.job_id}')
                watched.append((index, run))
        if not watched or not self.execution.wait:
            if watched:
                self.printer(f'{len(watched)} job(s) in Slurm; the same '
                             'command collects their records (--no-wait '
                             'again to only look), --report-only reports '
                             'what is recorded')
            return []
        watched.sort(key=lambda item: item[0])
        try:
            return self._watch(watched, jobs, total, recorded, elapsed)
        except KeyboardInterrupt:
            ids = ' '.join(jobs[self.key(run)]['job_id']
                           for _, run in watched)
            self.printer(f'stopped watching; the jobs go on in Slurm. The '
                         'same command collects their records; `scancel '
                         f'{ids}` stops them')
            raise

    def _watch(self, watched, jobs, total, recorded, elapsed) -> List[str]:
        failures, last_states, last_report = [], None, 0.0
        done = total - len(watched)
        while watched:
            states = queue_states()
            for index, run in list(watched):
                job = jobs[self.key(run)]
                head = f'[{index}/{total}] {run.method.name}, seed {run.seed}'
                if osp.isfile(run.record_file):
                    watched.remove((index, run))
                    done += 1
                    self.printer(f'{head}: Slurm job {job["job_id"]} done')
                    with open(run.record_file) as f:
                        record = json.load(f)
                    recorded(run, float(record.get('train_seconds') or 0) +
                             float(record.get('test_seconds') or 0))
                elif job['job_id'] not in states and \
                        not osp.isfile(run.record_file):
                    watched.remove((index, run))
                    line = (f'{head}: FAILED: Slurm job {job["job_id"]} '
                            f'ended without a record; log {job["log"]}')
                    failures.append(line)
                    self.printer(line)
                    error = last_line(job['log'])
                    if error:
                        self.printer(f'    {error}')
            counts = {}
            for _, run in watched:
                state = states.get(jobs[self.key(run)]['job_id'], 'ENDING')
                counts[state] = counts.get(state, 0) + 1
            now = time.perf_counter()
            if watched and (counts != last_states or now - last_report > 60):
                summary = ', '.join(f'{n} {s.lower()}'
                                    for s, n in sorted(counts.items()))
                self.printer(f'  {done}/{total} recorded, {summary}; '
                             f'elapsed {elapsed()}')
                last_states, last_report = counts, now
            if watched:
                time.sleep(self.execution.poll_seconds)
        return failures

