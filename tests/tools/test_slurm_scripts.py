# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""tools/slurm_train.sh and slurm_test.sh, without a Slurm cluster.

No Slurm here: the scripts are checked by ``bash -n`` and run against a
fake ``srun`` on PATH that records the arguments it was given, which are
compared with mmseg's interface (partition, job name, GPUS, GPUS_PER_NODE,
CPUS_PER_TASK, SRUN_ARGS, ``--launcher slurm``). That the tools then run
under Slurm is mmengine's slurm launcher on GPU nodes, not tested here.
"""
import os
import subprocess

import pytest

from tests.conftest import REPO_ROOT

TOOLS = REPO_ROOT / 'tools'
SCRIPTS = ('slurm_launch.sh', 'slurm_train.sh', 'slurm_test.sh')

FAKE_SRUN = '''#!/usr/bin/env bash
printf '%s\\n' "$@" > "$SRUN_LOG"
printf '%s\\n' "$PYTHONPATH" > "$SRUN_LOG.pythonpath"
'''


@pytest.mark.parametrize('script', SCRIPTS)
def test_script_parses_and_is_executable(script):
    path = TOOLS / script
    assert os.access(path, os.X_OK)
    subprocess.run(['bash', '-n', str(path)], check=True)


def _run(tmp_path, script, *args, **env):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / 'srun').write_text(FAKE_SRUN)
    (bin_dir / 'srun').chmod(0o755)
    log = tmp_path / 'srun.log'
    full_env = {
        key: value for key, value in os.environ.items()
        if key not in ('GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK',
                       'SRUN_ARGS', 'PYTHON', 'PYTHONPATH')
    }
    full_env.update(env, PATH=f'{bin_dir}:{os.environ["PATH"]}',
                    SRUN_LOG=str(log))
    proc = subprocess.run([str(TOOLS / script), *args], env=full_env,
                          capture_output=True, text=True, timeout=60)
    srun_args = log.read_text().splitlines() if log.exists() else None
    return proc, srun_args


def test_train_passes_mmseg_interface_to_srun(tmp_path):
    proc, srun_args = _run(
        tmp_path, 'slurm_train.sh', 'dev', 'aaf job', 'configs/x.py',
        '--work-dir', 'work dir', '--cfg-options', 'a=1', 'b=[1,2]',
        GPUS='8', GPUS_PER_NODE='4', CPUS_PER_TASK='3',
        SRUN_ARGS='--time=1:00:00  --quotatype=auto')
    assert proc.returncode == 0, proc.stderr
    assert srun_args == [
        '-p', 'dev', '--job-name=aaf job', '--gres=gpu:4', '--ntasks=8',
        '--ntasks-per-node=4', '--cpus-per-task=3', '--kill-on-bad-exit=1',
        '--time=1:00:00', '--quotatype=auto', 'python', '-u',
        f'{TOOLS}/train.py', 'configs/x.py', '--work-dir', 'work dir',
        '--cfg-options', 'a=1', 'b=[1,2]', '--launcher', 'slurm'
    ]
    # The tools import mmseg_aaf from the checkout.
    pythonpath = (tmp_path / 'srun.log.pythonpath').read_text().strip()
    assert pythonpath.split(':')[0] == f'{TOOLS}/..'


def test_test_defaults_and_fewer_gpus_than_a_node(tmp_path):
    proc, srun_args = _run(tmp_path, 'slurm_test.sh', 'dev', 'job',
                           'configs/x.py', 'iter_4.pth')
    assert proc.returncode == 0, proc.stderr
    assert srun_args[:8] == [
        '-p', 'dev', '--job-name=job', '--gres=gpu:4', '--ntasks=4',
        '--ntasks-per-node=4', '--cpus-per-task=5', '--kill-on-bad-exit=1'
    ]
    assert srun_args[8:] == [
        'python', '-u', f'{TOOLS}/test.py', 'configs/x.py', 'iter_4.pth',
        '--launcher', 'slurm'
    ]
    proc, srun_args = _run(tmp_path, 'slurm_test.sh', 'dev', 'job',
                           'configs/x.py', 'iter_4.pth', '--tta', GPUS='1',
                           PYTHON='/opt/py/bin/python')
    assert proc.returncode == 0, proc.stderr
    assert srun_args[3:6] == ['--gres=gpu:1', '--ntasks=1',
                              '--ntasks-per-node=1']
    assert srun_args[8:] == [
        '/opt/py/bin/python', '-u', f'{TOOLS}/test.py', 'configs/x.py',
        'iter_4.pth', '--tta', '--launcher', 'slurm'
    ]


@pytest.mark.parametrize('script, args', [
    ('slurm_train.sh', ['dev', 'job']),
    ('slurm_test.sh', ['dev', 'job', 'configs/x.py']),
    ('slurm_launch.sh', ['train.py', 'dev']),
])
def test_missing_arguments_are_one_error_line(tmp_path, script, args):
    proc, srun_args = _run(tmp_path, script, *args)
    assert proc.returncode == 1 and srun_args is None
    assert proc.stderr.startswith('error: usage: ')
    assert len(proc.stderr.splitlines()) == 1
