# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``--jobs N``: the plan of local runs (jobs, GPUs, threads), and real
studies through ``mmseg-aaf-compare``: two runs at once give the records of
one at a time; a failed run is reported with its log while the others go
on; Ctrl-C stops every run and the same command resumes them."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mmseg_aaf.comparison.executors import (Execution, ExecutionError,
                                            last_iteration, local_plan)
from tests.comparison.tiny_study import (compare, study_args,
                                         without_timings, write_data)


@pytest.mark.parametrize('settings, devices, expected', [
    (dict(), [], dict(jobs=1, gpus_per_run=0, threads=None)),
    (dict(), ['0', '1', '2', '3'], dict(jobs=4, gpus_per_run=1)),
    (dict(gpus_per_run=2), ['0', '1', '2', '3'], dict(jobs=2)),
    (dict(gpus_per_run=3), ['0', '1', '2', '3'], dict(jobs=1)),
    (dict(jobs=2, gpus_per_run=0), ['0', '1'], dict(jobs=2,
                                                    gpus_per_run=0)),
    (dict(jobs=3, threads=2), [], dict(jobs=3, threads=2)),
])
def test_local_plan(settings, devices, expected):
    plan = local_plan(Execution(**settings), devices)
    assert {k: plan[k] for k in expected} == expected


def test_local_plan_divides_the_threads_among_the_runs(monkeypatch):
    import torch
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 8)
    assert local_plan(Execution(jobs=3), [])['threads'] == 2
    assert local_plan(Execution(jobs=16), [])['threads'] == 1


@pytest.mark.parametrize('settings, devices, message', [
    (dict(jobs=3, gpus_per_run=2), ['0', '1', '2', '3'],
     'need 6 GPU(s); 4 visible'),
    (dict(gpus_per_run=1), [], 'need 1 GPU(s); 0 visible'),
])
def test_more_gpus_than_visible_is_refused(settings, devices, message):
    with pytest.raises(ExecutionError, match=message.replace('(', r'\(')
                       .replace(')', r'\)')):
        local_plan(Execution(**settings), devices)


@pytest.mark.parametrize('settings, message', [
    (dict(jobs=0), '--jobs must be >= 1'),
    (dict(threads=0), '--threads must be >= 1'),
    (dict(gpus_per_run=-1), '--gpus-per-run must be >= 0'),
    (dict(partition='gpu'), 'are for --launcher slurm'),
    (dict(launcher='slurm', jobs=2), '--jobs is for --launcher local'),
    (dict(launcher='mpi'), 'local or slurm'),
])
def test_bad_execution_settings(settings, message):
    with pytest.raises(ExecutionError, match=message):
        Execution(**settings)


def test_last_iteration_reads_the_progress_line(tmp_path):
    log = tmp_path / 'run.log'
    assert last_iteration(str(log)) is None
    log.write_text('  [ce seed 0] iter    6/40  loss 1.0\n'
                   '  [ce seed 0] iter   12/40  loss 0.9\nother line\n')
    assert last_iteration(str(log)) == '12/40'


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return write_data(tmp_path_factory.mktemp('synthetic') / 'data')


def _records(folder):
    return {str(path.relative_to(folder)): json.loads(path.read_text())
            for path in sorted(folder.rglob('seed*.json'))}


@pytest.mark.integration
def test_two_at_once_gives_the_records_of_one_at_a_time(tmp_path, data_root):
    args = [*study_args(data_root), '--iters', '4', '--threads', '1']
    one = compare(*args, '--work-dir', 'one', cwd=tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    two = compare(*args, '--jobs', '2', '--work-dir', 'two', cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    first, second = (_records(tmp_path / name / 'records')
                     for name in ('one', 'two'))
    assert sorted(first) == ['aaf/seed0.json', 'aaf/seed1.json',
                             'ce/seed0.json', 'ce/seed1.json']
    assert sorted(second) == sorted(first)
    for name in first:
        a, b = without_timings(first[name]), without_timings(second[name])
        # Each study derives its configs into its own work dir.
        assert os.path.basename(a.pop('config')) == \
            os.path.basename(b.pop('config'))
        assert b == a, name
    assert (tmp_path / 'two' / 'results.md').read_text() == \
        (tmp_path / 'one' / 'results.md').read_text()
    out = two.stdout
    assert '2 run(s) at once, each in its own process and 1 thread(s)' in out
    assert '(2 in flight)' in out and ' in flight (' in out
    assert out.count(': done in ') == 4
    for slug in ('ce', 'aaf'):
        log = (tmp_path / 'two' / slug / 'seed1' / 'run.log').read_text()
        assert f'seed 1] iter    4/4' in log and 'recorded:' in log
    # One at a time ran in the study's own process: no run logs.
    assert not list((tmp_path / 'one').rglob('run.log'))


@pytest.mark.integration
def test_a_failed_run_is_reported_and_the_others_go_on(tmp_path, data_root):
    broken = tmp_path / 'broken.py'
    broken.write_text(
        f"_base_ = {study_args(data_root)[0]!r}\n"
        '# 3 classes for labels up to 5: the loss fails at the first '
        'iteration.\n'
        'model = dict(decode_head=dict(num_classes=3))\n')
    args = [*study_args(data_root, 'ce', f'broken={broken}', seeds=1),
            '--iters', '2', '--jobs', '2', '--threads', '1',
            '--work-dir', 'cmp']
    proc = compare(*args, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        'error: 1 of 2 run(s) failed'), proc.stderr
    log = tmp_path / 'cmp' / 'broken' / 'seed0' / 'run.log'
    assert str(log) in lines[0]
    assert f'[2/2] broken, seed 0: FAILED (exit 1)' in proc.stdout
    assert f'log {log}' in proc.stdout
    assert 'Traceback' in log.read_text()
    assert (tmp_path / 'cmp' / 'records' / 'ce' / 'seed0.json').is_file()
    assert not (tmp_path / 'cmp' / 'records' / 'broken').exists()
    assert '| CE | 1 |' in (tmp_path / 'cmp' / 'results.md').read_text()


def _wait_for(condition, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f'timed out waiting for {what}')


def _workers(tmp_path):
    """Processes still running a run of this test's study."""
    out = subprocess.run(['ps', '-ewwo', 'args'], capture_output=True,
                         text=True).stdout
    return [line for line in out.splitlines()
            if 'mmseg_aaf.comparison.training' in line
            and str(tmp_path) in line]


@pytest.mark.integration
def test_ctrl_c_stops_every_run_and_the_study_resumes(tmp_path, data_root):
    args = [*study_args(data_root, seeds=1), '--iters', '48', '--jobs', '2',
            '--threads', '1', '--work-dir', 'cmp']
    logs = [tmp_path / 'cmp' / slug / 'seed0' / 'run.log'
            for slug in ('ce', 'aaf')]

    def past_first_checkpoint():  # checkpoints every 12 iterations
        found = [last_iteration(str(log)) for log in logs]
        return all(f and int(f.split('/')[0]) >= 16 for f in found)

    # As from a terminal: SIGINT raises KeyboardInterrupt in the study (a
    # pytest-xdist worker runs with SIGINT ignored, which children inherit).
    proc = subprocess.Popen(
        [sys.executable, '-m', 'mmseg_aaf.cli.compare', *args],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_for(past_first_checkpoint, 600, 'both runs to checkpoint')
        assert len(_workers(tmp_path)) == 2
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-3000:]
    assert 'stopping 2 run(s) in flight' in out
    assert 'the same command continues' in err
    assert _workers(tmp_path) == []
    assert not (tmp_path / 'cmp' / 'records').exists()

    again = compare(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    for log in logs:
        assert 'resuming from the last checkpoint' in log.read_text()
    records = _records(tmp_path / 'cmp' / 'records')
    assert len(records) == 2 and all(
        r['iters'] == 48 for r in records.values())
    assert all(json.loads((log.parent / 'trained.json').read_text())
               ['resumed'] for log in logs)
    # The time trained before Ctrl-C (at least 16 iterations) counts: the
    # record holds more than the last stretch's own elapsed time, and the
    # last checkpoint carries it.
    import re

    import torch
    for log in logs:
        last = re.findall(r'iter\s+48/48 .* elapsed (\d+)m(\d+)s',
                          log.read_text())[-1]
        stretch = int(last[0]) * 60 + int(last[1])
        record = json.loads((tmp_path / 'cmp' / 'records' /
                             log.parent.parent.name / 'seed0.json')
                            .read_text())
        assert record['train_seconds'] > stretch + 1
        checkpoint = torch.load(log.parent / 'iter_48.pth',
                                map_location='cpu', weights_only=False)
        assert checkpoint['meta']['train_seconds'] > stretch + 1
    assert os.path.isfile(tmp_path / 'cmp' / 'results.md')
