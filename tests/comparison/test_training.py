# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""One run of a study in a process of its own: its spec, the refusal of a
config that changed since the study planned, and the worker under torchrun
with two processes (the path of a run of several GPUs, here on CPU with
gloo): one record, written by the first process."""
import json
import subprocess
import sys

import pytest

from mmseg_aaf.comparison.executors import LocalExecutor
from mmseg_aaf.comparison.methods import parse_methods
from mmseg_aaf.comparison.records import StaleRecord
from mmseg_aaf.comparison.study import Study, plan_study, run_spec_of
from mmseg_aaf.comparison.training import RunSpec, run_spec
from tests.comparison.tiny_study import BASELINE, write_data


def _spec(tmp_path, data, iters=2, threads=1):
    study = Study(
        baseline=BASELINE, methods=parse_methods(['+aaf']), seeds=[0],
        work_dir=str(tmp_path / 'cmp'), iters=iters,
        cfg_options={'train_dataloader.dataset.data_root': str(data),
                     'test_dataloader.dataset.data_root': str(data)},
        loss_options=dict(downsample=2))
    run, = plan_study(study, printer=lambda line: None)
    return run_spec_of(study, run, threads)


def test_spec_round_trip(tmp_path):
    spec = _spec(tmp_path, tmp_path / 'data')
    path = spec.save()
    assert path == str(tmp_path / 'cmp' / 'aaf' / 'seed0' / 'run_spec.json')
    assert RunSpec.load(path) == spec
    assert spec.label == '+aaf seed 0' and spec.threads == 1
    assert spec.record_file.endswith('records/aaf/seed0.json')


def test_a_config_changed_since_planning_is_refused(tmp_path):
    spec = _spec(tmp_path, tmp_path / 'data')
    spec.iters = 3  # the study planned 2
    with pytest.raises(StaleRecord, match='changed since the study planned'):
        run_spec(spec)


@pytest.mark.integration
def test_worker_under_torchrun_writes_one_record(tmp_path):
    data = write_data(tmp_path / 'data', num_val=3)
    spec = _spec(tmp_path, data, iters=4)
    spec_file = spec.save()
    # The command the study starts for a run of 2 GPUs (LocalExecutor).
    command = LocalExecutor(1, 2, ['0', '1']).command(spec_file)
    assert command[1:4] == ['-m', 'torch.distributed.run',
                            '--nproc_per_node=2']
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads(open(spec.record_file).read())
    assert record['iters'] == 4 and record['method'] == '+aaf'
    assert record['test_images'] == 3
    assert len(record['kernel_sizes']['edge']) == 6
    # The first process alone reports progress and the record.
    assert proc.stdout.count('recorded:') == 1
    assert proc.stdout.count('iter    4/4') == 1
    trained = json.loads((tmp_path / 'cmp' / 'aaf' / 'seed0' /
                          'trained.json').read_text())
    assert trained['checkpoint'].endswith('iter_4.pth')


def test_training_time_is_kept_across_a_resume(monkeypatch):
    """A checkpoint carries the seconds trained so far; a run resumed from
    it counts on from them."""
    from mmseg_aaf.comparison import training
    from mmseg_aaf.comparison.training import ProgressHook
    clock = iter([1000.0, 1030.0, 2000.0, 2050.0])
    monkeypatch.setattr(training.time, 'perf_counter', lambda: next(clock))
    first = ProgressHook('ce seed 0', 10, printer=lambda line: None)
    first.start_clock()  # 1000
    checkpoint = dict(meta=dict(seed=0))
    first.before_save_checkpoint(None, checkpoint)  # 1030: 30 s trained
    assert checkpoint['meta'] == dict(seed=0, train_seconds=30.0)
    resumed = ProgressHook('ce seed 0', 10, printer=lambda line: None)
    resumed.after_load_checkpoint(None, checkpoint)
    resumed.start_clock()  # 2000
    assert resumed.train_seconds == 80.0  # 2050: 30 + 50
    fresh = ProgressHook('ce seed 0', 10)
    fresh.after_load_checkpoint(None, dict(meta={}))  # an older checkpoint
    assert fresh._before == 0.0
