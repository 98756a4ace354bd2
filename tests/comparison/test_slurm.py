# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``--launcher slurm``: the time and sbatch options it passes through,
and a 2-method x 2-seed study of 2 iterations through a real one-node
Slurm cluster (``tools/slurm/cluster.sh up``, Debian's slurm-wlm): jobs
queued or running are not submitted again, a cancelled one is, every run
is collected into the records, ``--report-only`` reads the queue."""
import json
import shutil
import subprocess
import time

import pytest

from mmseg_aaf.comparison.executors import ExecutionError
from mmseg_aaf.comparison.slurm import parse_slurm_args, parse_time
from tests.comparison.tiny_study import (compare, study_args,
                                         without_timings, write_data)
from tests.conftest import REPO_ROOT

CLUSTER = ['bash', str(REPO_ROOT / 'tools' / 'slurm' / 'cluster.sh')]


@pytest.mark.parametrize('text, minutes', [
    ('90', 90), ('30:30', 31), ('02:00:00', 120), ('1-00:00:00', 1440),
    ('2-3', 2 * 1440 + 180), ('1-01:30', 1530), ('0:59', 1)])
def test_parse_time(text, minutes):
    assert parse_time(text) == minutes


@pytest.mark.parametrize('text', ['', 'soon', '1:2:3:4', '-5', '0'])
def test_bad_time_is_refused(text):
    with pytest.raises(ExecutionError, match='--time'):
        parse_time(text)


def test_parse_slurm_args():
    assert parse_slurm_args(['--qos=high', '--account', 'seg', '--exclusive',
                             '--mail-type=END']) == dict(
        qos='high', account='seg', exclusive=True, mail_type='END')
    with pytest.raises(ExecutionError, match='long sbatch option'):
        parse_slurm_args(['-A', 'seg'])
    with pytest.raises(ExecutionError, match='long sbatch option'):
        parse_slurm_args(['stray'])


@pytest.fixture(scope='module')
def slurm_cluster():
    """The one-node cluster: used if it is up, else started (and stopped
    at the end); the tests skip, saying why, where it cannot start."""
    if shutil.which('sbatch') and subprocess.run(
            [*CLUSTER, 'status'], capture_output=True).returncode == 0:
        yield
        return
    up = subprocess.run([*CLUSTER, 'up'], capture_output=True, text=True,
                        timeout=600)
    if up.returncode:
        reason = (up.stderr.strip().splitlines() or ['no output'])[-1]
        pytest.skip(f'Slurm cannot be started here: {reason}')
    try:
        yield
    finally:
        subprocess.run([*CLUSTER, 'down'], capture_output=True, timeout=120)


def _queue():
    out = subprocess.run(['squeue', '-h', '-o', '%i|%T'], capture_output=True,
                         text=True, check=True).stdout
    return dict(line.split('|') for line in out.split())


@pytest.mark.integration
def test_a_study_through_slurm(tmp_path, slurm_cluster):
    data = write_data(tmp_path / 'data', num_val=3)
    args = [*study_args(data), '--iters', '2', '--launcher', 'slurm',
            '--threads', '1', '--poll', '1', '--work-dir', 'cmp']
    submitted = compare(*args, '--no-wait', cwd=tmp_path)
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    assert submitted.stdout.count('submitted as Slurm job') == 4
    jobs = json.loads((tmp_path / 'cmp' / 'slurm' / 'jobs.json').read_text())
    assert sorted(jobs) == ['aaf/seed0', 'aaf/seed1', 'ce/seed0',
                            'ce/seed1']

    # Cancel a run still waiting in the queue (two CPUs, four jobs).
    queue = _queue()
    waiting = sorted(jobs, key=lambda key: (
        queue.get(jobs[key]['job_id']) != 'PENDING',
        jobs[key]['job_id'] not in queue))
    assert jobs[waiting[0]]['job_id'] in queue, 'every job ended already'
    cancelled = jobs[waiting[0]]['job_id']
    subprocess.run(['scancel', cancelled], check=True)
    deadline = time.time() + 60
    while cancelled in _queue() and time.time() < deadline:
        time.sleep(0.5)

    # Again at once: the cancelled run is submitted again; each other one
    # is recorded or still in the queue, and not submitted twice.
    again = compare(*args, '--no-wait', cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f'Slurm job {cancelled} ended without a record' in again.stdout
    assert again.stdout.count('submitted as Slurm job') == 1
    assert again.stdout.count('not submitted again') + \
        again.stdout.count('(recorded)') == 3
    report = compare(*args, '--report-only', cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]

    # Waiting: every run is collected as its job finishes.
    done = compare(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert 'submitted as' not in done.stdout
    records = {path.relative_to(tmp_path / 'cmp' / 'records').as_posix():
               json.loads(path.read_text()) for path in
               (tmp_path / 'cmp' / 'records').rglob('seed*.json')}
    assert sorted(records) == ['aaf/seed0.json', 'aaf/seed1.json',
                               'ce/seed0.json', 'ce/seed1.json']
    assert all(r['iters'] == 2 and r['test_images'] == 3
               for r in records.values())
    assert '| + AAF | 2 |' in (tmp_path / 'cmp' / 'results.md').read_text()

    # The same run trained here, in this process, gives the same record.
    local = compare(*study_args(data, 'ce', seeds=1), '--iters', '2',
                    '--threads', '1', '--work-dir', 'local', cwd=tmp_path)
    assert local.returncode == 0, local.stderr[-3000:]
    here = json.loads((tmp_path / 'local' / 'records' / 'ce' /
                       'seed0.json').read_text())
    there = records['ce/seed0.json']
    assert {k: v for k, v in without_timings(here).items() if k != 'config'} \
        == {k: v for k, v in without_timings(there).items() if k != 'config'}

    # Everything recorded: a rerun submits nothing.
    final = compare(*args, cwd=tmp_path)
    assert final.returncode == 0 and 'submitted' not in final.stdout
    assert final.stdout.count('(recorded)') == 4
