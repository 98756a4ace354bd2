# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""tools/gpu_check.py: its CPU rehearsal, time shares, errors, wheel list."""
import json
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from tests.conftest import REPO_ROOT, load_tool, run_tool

pytestmark = pytest.mark.integration

STEPS = ['install', 'imports', 'tests', 'benchmark', 'train-fp16',
         'train-bf16', 'train-fp32', 'dist-train']


@pytest.fixture(scope='module')
def gpu_check():
    return load_tool('tools/gpu_check.py')


@pytest.fixture(scope='module')
def rehearsal(tmp_path_factory):
    """``make gpu-check DEVICE=cpu`` with this interpreter's stack."""
    out = tmp_path_factory.mktemp('gpu_check') / 'report'
    began = time.monotonic()
    proc = run_tool([
        'make', '--no-print-directory', 'gpu-check', 'DEVICE=cpu',
        f'GPU_CHECK_PYTHON={sys.executable}', f'GPU_CHECK_OUT={out}'
    ], cwd=REPO_ROOT, timeout=400)
    report = json.loads((out / 'report.json').read_text())
    return SimpleNamespace(out=out, proc=proc, report=report,
                           seconds=time.monotonic() - began)


def test_rehearsal_runs_every_step_that_needs_no_cuda(rehearsal):
    report = rehearsal.report
    assert report['format'] == 'mmseg_aaf.gpu_check'
    assert report['device'] == 'cpu'
    steps = {s['name']: s for s in report['steps']}
    assert list(steps) == STEPS
    for name in ('install', 'imports', 'tests', 'benchmark', 'train-fp32',
                 'dist-train'):
        assert steps[name]['status'] == 'PASS', steps[name]
        assert steps[name]['share_seconds'] > 0
    # The stack of this interpreter is reused, not installed again.
    assert 'nothing installed' in steps['install']['detail']
    assert 'passed on cpu' in steps['tests']['detail']
    assert 'gloo' in steps['dist-train']['detail']
    assert 'size logits ascend' in steps['train-fp32']['detail']
    assert report['total_seconds'] <= report['budget_seconds']
    assert report['versions']['torch'] and report['versions']['mmcv']


def test_cuda_only_parts_are_skipped_with_a_reason(rehearsal):
    steps = {s['name']: s for s in rehearsal.report['steps']}
    for name in ('train-fp16', 'train-bf16'):
        assert steps[name]['status'] == 'SKIP'
        assert steps[name]['detail'].startswith('needs CUDA')
        assert not (rehearsal.out / name).exists()
    # The GPU targets were measured but are not judged on the CPU.
    rows = rehearsal.report['benchmark']
    targets = [r for r in rows if r['result'] not in ('info', )]
    names = ' '.join(r['target'] for r in rows)
    for part in ('P4', 'P5', 'P6'):
        assert part in names
    assert targets and all(r['result'] == 'SKIP' for r in targets)
    assert all(r['floor'] for r in targets if 'time' in r['target']
               or 'fwd+bwd' in r['target'])
    amp = [r for r in rows if 'AMP' in r['target']]
    assert amp and 'needs CUDA' in amp[0]['note'] and not amp[0]['measured']


def test_report_md_has_a_row_per_step(rehearsal):
    text = (rehearsal.out / 'report.md').read_text()
    for name in STEPS:
        assert f'| {name} | ' in text
    assert '## Versions' in text and '## Benchmark' in text
    assert '[gpu-check] dist-train: PASS' in rehearsal.proc.stdout


def test_a_step_over_its_share_is_stopped_and_the_next_runs(
        gpu_check, tmp_path, monkeypatch):
    ran = []

    def slow(check):
        check.run('slow', ['sleep', '60'])
        return 'PASS', 'never'

    def quick(check):
        ran.append(check.deadline - time.monotonic())
        return 'PASS', 'ok'

    monkeypatch.setattr(gpu_check, 'STEPS', [('install', slow, None),
                                             ('imports', quick, None)])
    monkeypatch.setattr(gpu_check, 'SHARES', dict(install=2, imports=2))
    monkeypatch.setattr(gpu_check, 'NEEDS', {})
    args = gpu_check.parse_args(['--device', 'cpu', '--out-dir',
                                 str(tmp_path / 'out'), '--budget', '4'])
    check = gpu_check.Check(args)
    check.logs.mkdir(parents=True)
    began = time.monotonic()
    results = gpu_check.run_steps(check)
    assert time.monotonic() - began < 10
    assert [r['status'] for r in results] == ['FAIL', 'PASS']
    assert 'overran its share' in results[0]['detail']
    # The second step has its own share, not what the first one used up.
    assert 1.5 < ran[0] <= 2


def test_cuda_without_a_gpu_is_one_error_line(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip('a CUDA device is present')
    proc = subprocess.run([
        sys.executable,
        str(REPO_ROOT / 'tools' / 'gpu_check.py'), '--device', 'cuda',
        '--out-dir',
        str(tmp_path / 'out')
    ], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith('error: no CUDA device')
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / 'out').exists()


def test_foreign_out_dir_is_refused(tmp_path):
    (tmp_path / 'keep.txt').write_text('mine')
    proc = subprocess.run([
        sys.executable,
        str(REPO_ROOT / 'tools' / 'gpu_check.py'), '--device', 'cpu',
        '--out-dir',
        str(tmp_path)
    ], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.startswith('error: --out-dir')
    assert len(proc.stderr.strip().splitlines()) == 1
    assert (tmp_path / 'keep.txt').read_text() == 'mine'


def test_wheel_list_is_exact_and_leaves_torch_numpy_opencv(gpu_check):
    reqs = gpu_check._requirements()
    names = [gpu_check._normalise(r.split('==')[0]) for r, _ in reqs]
    assert all('==' in r for r, _ in reqs)
    assert {'mmcv', 'mmengine', 'mmsegmentation', 'setuptools',
            'pytest'} <= set(names)
    assert not set(names) & {gpu_check._normalise(p)
                             for p in gpu_check.PREINSTALLED}
    assert [r for r, pure in reqs if pure] == ['fonttools==4.68.0']
    assert len(names) == len(set(names))
