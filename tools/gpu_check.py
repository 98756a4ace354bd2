# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Install, validate and measure the stack on a GPU machine in one run.

``make gpu-check`` runs this on a machine that has CUDA torch but no
network: it installs the rest of the stack from ``wheels/gpu-offline/``
(made by ``make gpu-wheels`` elsewhere) next to that torch, then, each step
in a subprocess with its share of the time budget:

1. ``install``: nothing if the stack already imports; otherwise a venv with
   the system's site packages in ``.venv-gpu/`` and the wheel set installed
   into it with ``--no-index --no-deps`` (mmcv built from its sdist, CPU
   ops only, CUDA hidden from its build). torch, numpy and opencv are never
   replaced; their versions are compared before and after.
2. ``imports``: the stack imports; versions.
3. ``tests``: the device-parametrized tests on the device.
4. ``benchmark``: ``tools/benchmark_affinity.py --suite gpu-check``: P4, P5
   and P6 against their targets, each beside its floor.
5. ``train-fp16``, ``train-bf16``: ``tools/train.py --amp`` for 50
   iterations on generated data; finite losses, size logits ascend.
6. ``dist-train``: ``tools/dist_train.sh CONFIG 1`` (NCCL and SyncBN).

A step that overruns its share is stopped and the next one starts. It
writes ``report.md`` and ``report.json`` with each step's PASS, FAIL, MISS
(a performance target missed) or SKIP (with the reason), the versions and
the timings. ``--device cpu`` is the rehearsal: every step that does not
need CUDA, at small sizes; CUDA-only steps are reported as SKIP.

This file uses the standard library only: it runs before the stack exists.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / 'requirements' / 'gpu-offline.txt'
DEFAULT_WHEELS = REPO / 'wheels' / 'gpu-offline'
VENV = REPO / '.venv-gpu'
TINY_CONFIG = REPO / 'tests' / 'data' / 'configs' / 'tiny_pspnet_aaf.py'
TEST_FILES = (
    'tests/models/losses/test_affinity_field.py',
    'tests/models/losses/test_affinity_loss.py',
    'tests/models/losses/test_device_agreement.py',
    'tests/engine/test_optim_wrapper.py',
    # The fused kernel: Triton on CUDA against the torch reference, and
    # against the CPU kernel.
    'tests/ops/test_affinity_field_ops.py',
    'tests/ops/test_affinity_field_triton.py',
)
#: The wheel set's limit, and the packages it must never hold.
WHEELS_MAX_MIB = 60
PREINSTALLED = ('torch', 'numpy', 'opencv-python', 'opencv-python-headless',
                'triton')
PURE_MARK = 'py3-none-any'

#: Seconds of the budget each step may use (scaled to --budget). A step
#: may also use what the steps before it left unused.
SHARES = dict(install=200, imports=20, tests=50, benchmark=100,
              train_fp16=30, train_bf16=30, train_fp32=30, dist_train=50)
TRAIN_ITERS = dict(cuda=50, cpu=6)

#: Imports the stack and prints what the report shows (run by the stack's
#: interpreter).
STACK_PROBE = r'''
import json, sys
import torch, numpy, cv2
import mmcv, mmcv.ops, mmengine, mmseg
from mmcv.ops import get_compiler_version, get_compiling_cuda_version
import mmseg_aaf
cuda = torch.cuda.is_available()
info = dict(
    python=sys.version.split()[0], executable=sys.executable,
    torch=torch.__version__, torch_cuda=torch.version.cuda,
    cudnn=torch.backends.cudnn.version() if cuda else None,
    numpy=numpy.__version__, opencv=cv2.__version__,
    mmcv=mmcv.__version__, mmcv_ops_compiler=get_compiler_version(),
    mmcv_ops_cuda=get_compiling_cuda_version(),
    mmengine=mmengine.__version__, mmseg=mmseg.__version__,
    mmseg_aaf=mmseg_aaf.__version__, cuda_available=cuda,
    gpu=torch.cuda.get_device_name(0) if cuda else None,
    nccl='.'.join(map(str, torch.cuda.nccl.version())) if cuda else None)
print(json.dumps(info))
'''
BASE_PROBE = (
    'import json, torch, numpy, cv2; print(json.dumps(dict('
    'torch=torch.__version__, numpy=numpy.__version__, '
    'opencv=cv2.__version__, cuda=torch.cuda.is_available())))')
#: Where an interpreter's packages are (its own, and a venv's base's).
SITE_PROBE = (
    'import json, site, sysconfig; p = sysconfig.get_paths(); '
    "print(json.dumps(dict(own=p['purelib'], paths=list(dict.fromkeys("
    "[p['purelib'], p['platlib']] + site.getsitepackages())))))")


class StepFailed(Exception):
    """A step's check failed; the message says which."""


class Check:
    """State shared by the steps of one run."""

    def __init__(self, args):
        self.args = args
        self.device = args.device
        self.out = Path(args.out_dir).resolve()
        self.logs = self.out / 'logs'
        self.python = sys.executable
        self.versions: dict = {}
        self.benchmark_rows: List[dict] = []
        self.config: Optional[Path] = None
        self.deadline = 0.0
        self.steps_done: dict = {}

    # -- subprocesses ----------------------------------------------------
    def env(self, **extra) -> dict:
        bin_dir = str(Path(self.python).parent)
        env = dict(os.environ,
                   PYTHONPATH=os.pathsep.join(
                       filter(None, [str(REPO),
                                     os.environ.get('PYTHONPATH')])),
                   PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}')
        env.update(extra)
        return env

    def run(self, name: str, cmd: List[str], env=None, cwd=REPO) -> str:
        """Run ``cmd`` until the step's deadline; return its output."""
        log = self.logs / f'{name}.log'
        remaining = self.deadline - time.monotonic()
        if remaining <= 0.1:
            raise StepFailed('no time left in its share')
        with open(log, 'a') as f:
            f.write(f'$ {" ".join(map(str, cmd))}\n')
            f.flush()
            proc = subprocess.Popen(
                [str(c) for c in cmd], cwd=cwd, env=env or self.env(),
                stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                code = proc.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                _stop(proc)
                raise StepFailed(
                    f'stopped: it overran its share of the time; see '
                    f'{_rel(log)}') from None
        text = log.read_text(errors='replace')
        if code != 0:
            tail = text.strip().splitlines()[-1:] or ['']
            raise StepFailed(f'a command exited {code}: {tail[0][:300]}; '
                             f'see {_rel(log)}')
        return text


def _stop(proc: subprocess.Popen) -> None:
    """End a step's process group: TERM, then KILL after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _json_line(text: str) -> dict:
    """The last line of ``text`` that is a JSON object."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith('{'):
            return json.loads(line)
    raise StepFailed('no JSON result in the output')


def _requirements() -> List[tuple]:
    """``(requirement, pure)`` for each line of gpu-offline.txt."""
    out = []
    for line in REQUIREMENTS.read_text().splitlines():
        spec, _, comment = line.partition('#')
        if spec.strip():
            out.append((spec.strip(), PURE_MARK in comment))
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------
# Steps. Each returns (status, detail) or raises StepFailed.
# ---------------------------------------------------------------------------
def step_install(check: Check):
    if _stack_imports(check, check.python):
        return 'PASS', (f'the stack already imports in {check.python}; '
                        'nothing installed')
    venv_python = VENV / 'bin' / 'python'
    if venv_python.exists() and _stack_imports(check, venv_python):
        check.python = str(venv_python)
        return 'PASS', f'reused {_rel(VENV)}; nothing installed'
    wheels = Path(check.args.wheels)
    if not wheels.is_dir():
        raise StepFailed(f'no wheel directory {wheels}: run `make '
                         'gpu-wheels` on a machine with network and copy it')
    before = _json_line(check.run('install', [check.python, '-c',
                                              BASE_PROBE]))
    if not venv_python.exists():
        # --without-pip: pip, torch, numpy and opencv come from the
        # interpreter this runs with; no ensurepip needed.
        check.run('install', [check.python, '-m', 'venv',
                              '--system-site-packages', '--without-pip',
                              VENV])
        # --system-site-packages reaches the base installation only; when
        # this interpreter is itself a venv (or conda env) with torch, its
        # packages come in through a .pth file, after the venv's own.
        base = _json_line(check.run('install', [check.python, '-c',
                                                SITE_PROBE]))
        own = _json_line(check.run('install', [venv_python, '-c',
                                               SITE_PROBE]))['own']
        (Path(own) / 'gpu_check_base.pth').write_text(
            '\n'.join(base['paths']) + '\n')
    # tools/dist_train.sh calls torchrun, whose script belongs to the
    # system's Python; this one runs the venv's.
    torchrun = VENV / 'bin' / 'torchrun'
    torchrun.write_text('#!/bin/sh\nexec "$(dirname "$0")/python" -m '
                        'torch.distributed.run "$@"\n')
    torchrun.chmod(0o755)
    pip = [venv_python, '-m', 'pip', 'install', '--no-index',
           '--find-links', wheels, '--no-deps', '--disable-pip-version-check']
    setuptools = [r for r, _ in _requirements() if r.startswith('setuptools')]
    check.run('install', pip + setuptools)
    jobs = str(os.cpu_count() or 1)
    # mmcv builds its CUDA ops whenever torch sees a GPU; mmseg's PSPNet and
    # FCN use none of them, so its build is shown no GPU: CPU ops only.
    build_env = check.env(MMCV_WITH_OPS='1', FORCE_CUDA='0',
                          CUDA_VISIBLE_DEVICES='', MAX_JOBS=jobs)
    started = time.monotonic()
    check.run('install', pip + ['--no-build-isolation', '-r', REQUIREMENTS],
              env=build_env)
    build_seconds = time.monotonic() - started
    # --use-pep517: the editable build then runs here, with torch, and
    # compiles the plugin's fused CPU kernel in place.
    check.run('install', pip + ['--no-build-isolation', '--use-pep517', '-e',
                                REPO])
    check.python = str(venv_python)
    after = _json_line(check.run('install', [check.python, '-c',
                                             BASE_PROBE]))
    changed = [k for k in ('torch', 'numpy', 'opencv')
               if before[k] != after[k]]
    if changed:
        raise StepFailed(f'the install changed {changed}: {before} -> '
                         f'{after}')
    if not _stack_imports(check, check.python):
        raise StepFailed('installed, but the stack does not import; see '
                         f'{_rel(check.logs / "install.log")}')
    return 'PASS', (f'installed into {_rel(VENV)} from {_rel(wheels)} '
                    f'({build_seconds:.0f} s for the wheels and the mmcv '
                    f'build with MAX_JOBS={jobs}); torch {after["torch"]}, '
                    f'numpy {after["numpy"]}, opencv {after["opencv"]} '
                    'unchanged')


def _stack_imports(check: Check, python) -> bool:
    proc = subprocess.run([str(python), '-c', STACK_PROBE],
                          env=check.env(), cwd=REPO, capture_output=True,
                          text=True)
    if proc.returncode == 0:
        check.versions = _json_line(proc.stdout)
        return True
    return False


def step_imports(check: Check):
    # The install step ends with this probe; run it only where it did not.
    versions = check.versions or _json_line(
        check.run('imports', [check.python, '-c', STACK_PROBE]))
    check.versions = versions
    if check.device == 'cuda' and not versions['cuda_available']:
        raise StepFailed('torch.cuda.is_available() is False')
    return 'PASS', (f'torch {versions["torch"]} (CUDA '
                    f'{versions["torch_cuda"]}), numpy {versions["numpy"]}, '
                    f'mmcv {versions["mmcv"]} (ops for '
                    f'{versions["mmcv_ops_cuda"]}), mmengine '
                    f'{versions["mmengine"]}, mmseg {versions["mmseg"]}'
                    + (f', {versions["gpu"]}' if versions['gpu'] else ''))


def step_tests(check: Check):
    report = check.out / 'tests.xml'
    check.run('tests', [
        check.python, '-m', 'pytest', *TEST_FILES, '--device', check.device,
        '-q', '-p', 'no:cacheprovider', f'--junitxml={report}'
    ])
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == 'testsuite' else suite.find('testsuite')
    counts = {k: int(suite.get(k, 0))
              for k in ('tests', 'failures', 'errors', 'skipped')}
    ran = counts['tests'] - counts['skipped']
    if ran == 0:
        raise StepFailed(f'every test was skipped: {counts}')
    return 'PASS', (f'{ran} device-parametrized tests passed on '
                    f'{check.device} ({counts["skipped"]} skipped)')


def step_benchmark(check: Check):
    out = check.out / 'benchmark.json'
    cmd = [check.python, REPO / 'tools' / 'benchmark_affinity.py', '--suite',
           'gpu-check', '--device', check.device, '--json', out]
    if check.device == 'cpu':
        cmd.append('--small')
    check.run('benchmark', cmd)
    rows = json.loads(out.read_text())['rows']
    check.benchmark_rows = rows
    missed = [r['target'] for r in rows if r['result'] == 'MISS']
    met = sum(r['result'] == 'PASS' for r in rows)
    if missed:
        return 'MISS', f'{len(missed)} target(s) missed: {missed}'
    if check.device == 'cpu':
        return 'PASS', ('measured at small sizes on the CPU; the targets '
                        'are for CUDA (rows marked SKIP)')
    return 'PASS', f'all {met} targets met'


def _train_config(check: Check) -> Path:
    """Generated data and a config of the tiny PSPNet + AAF, with the
    probe hook, plain SGD and a schedule over the whole run."""
    if check.config is not None:
        return check.config
    data = check.out / 'data'
    check.run('train-data', [
        check.python, '-c',
        'import sys; from mmseg_aaf.testing.tiny_data import '
        'write_tiny_segmentation_dataset as w; w(sys.argv[1])', data
    ])
    iters = TRAIN_ITERS[check.device]
    config = check.out / 'gpu_check_tiny_pspnet_aaf.py'
    config.write_text(f'''\
# Written by tools/gpu_check.py: the tests' tiny PSPNet + AAF on generated
# data, with the probe hook. Momentum 0 makes an ascending step exactly
# +lr * grad.
_base_ = [{str(TINY_CONFIG)!r}]
custom_imports = dict(
    imports=['mmseg_aaf', 'mmseg_aaf.testing.run_probe'],
    allow_failed_imports=False)
custom_hooks = [
    dict(type='AffinityLossDecayHook', base=10.0),
    dict(type='RunProbeHook'),
]
train_dataloader = dict(dataset=dict(data_root={str(data)!r}))
val_dataloader = dict(dataset=dict(data_root={str(data)!r}))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=0.05, momentum=0.0))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-3, power=0.9, begin=0, end={iters},
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters={iters},
                 val_interval={iters})
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False,
                    interval={iters}))
''')
    check.config = config
    return config


def _check_probe(work_dir: Path, expect: dict) -> str:
    probe_file = work_dir / 'probe.json'
    if not probe_file.exists():
        raise StepFailed(f'the run wrote no {probe_file.name}')
    probe = json.loads(probe_file.read_text())
    iters = probe['iterations']
    problems = []
    if not probe['losses_finite']:
        problems.append('a loss was not finite')
    if not probe['size_logits_finite']:
        problems.append('size logits are not finite')
    if probe['steps_taken'] < max(1, int(0.8 * iters)):
        problems.append(f'only {probe["steps_taken"]} of {iters} steps '
                        'moved the size logits')
    if probe['min_cosine'] is None or probe['min_cosine'] < 0.99:
        problems.append('the size logits did not ascend: min cosine of '
                        f'step and gradient {probe["min_cosine"]}')
    for key, want in expect.items():
        got = probe[key]
        ok = want(got) if callable(want) else got == want
        if not ok:
            problems.append(f'{key} is {got!r}')
    if problems:
        raise StepFailed('; '.join(problems))
    scales = [r['loss_scale'] for r in probe['per_iter'] if 'loss_scale' in r]
    scale = (f', loss scale {scales[0]:g} -> {scales[-1]:g}'
             if scales else '')
    return (f'{iters} iterations, losses finite, {probe["steps_taken"]} '
            f'steps, size logits ascend (cosine >= '
            f'{probe["min_cosine"]:.4f}){scale}; {probe["wrapper"]}, '
            f'{probe["device"]}')


def _train(check: Check, name: str, extra: List[str], expect: dict):
    config = _train_config(check)
    work_dir = check.out / name
    check.run(name, [check.python, REPO / 'tools' / 'train.py', config,
                     '--work-dir', work_dir, *extra])
    return 'PASS', _check_probe(work_dir, expect)


def step_train_fp16(check: Check):
    return _train(check, 'train-fp16', ['--amp'], dict(
        wrapper='AdversarialAmpOptimWrapper', amp_dtype=None,
        device=lambda d: d.startswith('cuda')))


def step_train_bf16(check: Check):
    return _train(check, 'train-bf16', [
        '--amp', '--cfg-options', 'optim_wrapper.dtype=bfloat16'
    ], dict(wrapper='AdversarialAmpOptimWrapper', amp_dtype='bfloat16',
            device=lambda d: d.startswith('cuda')))


def step_train_fp32(check: Check):
    return _train(check, 'train-fp32', [], dict(
        wrapper='AdversarialOptimWrapper', device='cpu'))


def step_dist_train(check: Check):
    config = _train_config(check)
    work_dir = check.out / 'dist-train'
    check.run('dist-train', [
        'bash', REPO / 'tools' / 'dist_train.sh', config, '1', '--work-dir',
        work_dir
    ], env=check.env(PORT=str(_free_port())))
    if check.device == 'cuda':
        expect = dict(backend='nccl', world_size=1,
                      sync_bn=lambda n: n > 0,
                      model_wrapper='MMDistributedDataParallel')
    else:
        expect = dict(backend='gloo', world_size=1, sync_bn=0,
                      model_wrapper='CPUDistributedDataParallel')
    detail = _check_probe(work_dir, expect)
    probe = json.loads((work_dir / 'probe.json').read_text())
    return 'PASS', (f'torchrun, 1 process, backend {probe["backend"]}, '
                    f'{probe["sync_bn"]} SyncBN / {probe["bn"]} BN layers; '
                    + detail)


STEPS = [
    ('install', step_install, None),
    ('imports', step_imports, None),
    ('tests', step_tests, None),
    ('benchmark', step_benchmark, None),
    ('train-fp16', step_train_fp16,
     "needs CUDA: mmengine's AmpOptimWrapper (fp16, dynamic loss scale) "
     'runs on an accelerator only'),
    ('train-bf16', step_train_bf16,
     "needs CUDA: mmengine's AmpOptimWrapper runs on an accelerator only"),
    ('train-fp32', step_train_fp32, 'the CPU stand-in of the AMP runs'),
    ('dist-train', step_dist_train, None),
]
#: Steps that only run on one device; elsewhere they are SKIP with the
#: reason above.
ONLY_ON = {'train-fp16': 'cuda', 'train-bf16': 'cuda', 'train-fp32': 'cpu'}
#: Steps that need an earlier one to have passed.
NEEDS = {name: 'imports' for name, _, _ in STEPS
         if name not in ('install', 'imports')}
NEEDS['imports'] = 'install'


def run_steps(check: Check) -> List[dict]:
    scale = check.args.budget / sum(SHARES[n.replace('-', '_')]
                                    for n, _, _ in STEPS
                                    if ONLY_ON.get(n, check.device) ==
                                    check.device)
    began = time.monotonic()
    allotted = 0.0
    results = []
    for name, fn, skip_reason in STEPS:
        result = dict(name=name, status='SKIP', seconds=0.0, detail='')
        results.append(result)
        only = ONLY_ON.get(name)
        if only and only != check.device:
            result['detail'] = (skip_reason if check.device == 'cpu' else
                                'runs only in the CPU rehearsal')
            continue
        share = SHARES[name.replace('-', '_')] * scale
        allotted += share
        result['share_seconds'] = round(share, 1)
        needed = NEEDS.get(name)
        if needed and check.steps_done.get(needed) != 'PASS':
            result['detail'] = f'not run: step {needed} did not pass'
            continue
        # A step may use its share and whatever earlier steps left over.
        check.deadline = began + allotted
        print(f'[gpu-check] {name} (up to '
              f'{check.deadline - time.monotonic():.0f} s) ...', flush=True)
        start = time.monotonic()
        try:
            status, detail = fn(check)
        except StepFailed as exc:
            status, detail = 'FAIL', str(exc)
        except Exception as exc:  # a bug in a check is a failed check
            status, detail = 'FAIL', f'{type(exc).__name__}: {exc}'
        result.update(status=status, detail=detail,
                      seconds=round(time.monotonic() - start, 1))
        check.steps_done[name] = status
        print(f'[gpu-check] {name}: {status} in {result["seconds"]:.0f} s: '
              f'{detail}', flush=True)
    return results


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
def write_report(check: Check, results: List[dict], seconds: float) -> None:
    data = dict(
        format='mmseg_aaf.gpu_check', version=1, device=check.device,
        budget_seconds=check.args.budget, total_seconds=round(seconds, 1),
        machine=dict(platform=platform.platform(), cpus=os.cpu_count(),
                     host=platform.node()),
        versions=check.versions, steps=results,
        benchmark=check.benchmark_rows)
    (check.out / 'report.json').write_text(json.dumps(data, indent=2))
    lines = [
        f'# GPU check ({check.device})', '',
        f'{seconds:.0f} s of a {check.args.budget:.0f} s budget; '
        f'{platform.platform()}, {os.cpu_count()} CPUs.', '',
        '| step | result | seconds | share | detail |',
        '| --- | --- | ---: | ---: | --- |'
    ]
    for r in results:
        lines.append(f'| {r["name"]} | {r["status"]} | {r["seconds"]:.0f} | '
                     f'{r.get("share_seconds", 0):.0f} | '
                     f'{r["detail"].replace("|", "/")} |')
    if check.versions:
        lines += ['', '## Versions', '']
        lines += [f'- {k}: {v}' for k, v in check.versions.items()]
    if check.benchmark_rows:
        lines += ['', '## Benchmark', '',
                  '| target | measured | limit | result | floor | note |',
                  '| --- | --- | --- | --- | --- | --- |']
        for r in check.benchmark_rows:
            lines.append('| ' + ' | '.join(
                str(r[c]).replace('|', '/') for c in (
                    'target', 'measured', 'limit', 'result', 'floor',
                    'note')) + ' |')
    (check.out / 'report.md').write_text('\n'.join(lines) + '\n')


# ---------------------------------------------------------------------------
# The wheel set
# ---------------------------------------------------------------------------
PLATFORM_ARGS = ['--platform', 'manylinux2014_x86_64', '--platform',
                 'manylinux_2_17_x86_64', '--platform',
                 'manylinux_2_27_x86_64', '--platform',
                 'manylinux_2_28_x86_64']


def download_wheels(args) -> int:
    """Download the wheel set for Python ``--python-version`` (needs the
    network and, for mmcv's sdist metadata, torch in this interpreter)."""
    dest = Path(args.wheels)
    dest.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, '-m', 'pip', 'download', '--no-deps',
            '--disable-pip-version-check', '-d', str(dest)]
    binary = base + ['--only-binary=:all:', '--python-version',
                     args.python_version, '--implementation', 'cp']
    abi = 'cp' + args.python_version.replace('.', '')
    reqs = _requirements()
    groups = [
        ([r for r, pure in reqs if pure],
         binary + ['--platform', 'any', '--abi', 'none']),
        ([r for r, pure in reqs if not pure and not r.startswith('mmcv')],
         binary + PLATFORM_ARGS + ['--abi', abi, '--abi', 'abi3', '--abi',
                                   'none', '--platform', 'any']),
        ([r for r, _ in reqs if r.startswith('mmcv')],
         base + ['--no-binary=:all:', '--no-build-isolation']),
    ]
    for names, cmd in groups:
        print(f'[gpu-wheels] {" ".join(names)}', flush=True)
        if subprocess.run(cmd + names).returncode != 0:
            return _error(f'pip download failed for {names}')
    files = sorted(dest.iterdir())
    wanted = {_normalise(r.split('==')[0]) for r, _ in reqs}
    stray = [f.name for f in files
             if _normalise(re.split(r'-\d', f.name)[0]) not in wanted]
    forbidden = [f.name for f in files
                 if _normalise(re.split(r'-\d', f.name)[0]) in
                 {_normalise(p) for p in PREINSTALLED}]
    if forbidden:
        return _error(f'the wheel set holds {forbidden}, which the GPU '
                      'machine has already; remove them')
    total = sum(f.stat().st_size for f in files) / (1 << 20)
    print(f'[gpu-wheels] {len(files)} files, {total:.1f} MiB in {dest}'
          + (f' (not in the requirements: {stray})' if stray else ''))
    if total > WHEELS_MAX_MIB:
        return _error(f'the wheel set is {total:.1f} MiB, over '
                      f'{WHEELS_MAX_MIB} MiB')
    return 0


def _normalise(name: str) -> str:
    return re.sub(r'[-_.]+', '-', name).lower()


def _error(message: str) -> int:
    print(f'error: {message}', file=sys.stderr)
    return 1


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Install, validate and measure the stack on a GPU '
        'machine in one run (see docs/user_guides/7_gpu_check.md).')
    parser.add_argument('--device', choices=('cuda', 'cpu'), default='cuda',
                        help='cuda: the GPU check; cpu: its rehearsal at '
                        'small sizes (default: cuda)')
    parser.add_argument('--out-dir', default='work_dirs/gpu_check',
                        help='where report.md, report.json and the logs go '
                        '(default: work_dirs/gpu_check)')
    parser.add_argument('--wheels', default=str(DEFAULT_WHEELS),
                        help='the offline wheel set (default: '
                        'wheels/gpu-offline)')
    parser.add_argument('--budget', type=float, default=None,
                        help='seconds for the whole check, install included '
                        '(default: 480 on cuda, 300 on cpu)')
    parser.add_argument('--download-wheels', action='store_true',
                        help='download the wheel set into --wheels instead '
                        '(needs the network)')
    parser.add_argument('--python-version', default='3.12',
                        help='Python of the GPU machine, for '
                        '--download-wheels (default: 3.12)')
    args = parser.parse_args(argv)
    if args.budget is None:
        args.budget = 480.0 if args.device == 'cuda' else 300.0
    if args.budget <= 0:
        parser.error('--budget must be > 0')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.download_wheels:
        return download_wheels(args)
    if args.device == 'cuda':
        proc = subprocess.run([sys.executable, '-c', BASE_PROBE],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not _json_line(proc.stdout)['cuda']:
            return _error(f'no CUDA device visible to torch in '
                          f'{sys.executable}; --device cpu runs the CPU '
                          'rehearsal')
    check = Check(args)
    out = check.out
    if out.exists() and any(out.iterdir()):
        if not (out / 'report.json').exists() and not (out / 'logs').is_dir():
            return _error(f'--out-dir {args.out_dir} holds files that no GPU '
                          'check wrote; choose another directory')
        print(f'[gpu-check] replacing the previous check in {_rel(out)}')
        shutil.rmtree(out)
    try:
        check.logs.mkdir(parents=True)
    except OSError as exc:
        return _error(f'cannot use --out-dir {args.out_dir}: {exc}')
    began = time.monotonic()
    results = run_steps(check)
    seconds = time.monotonic() - began
    write_report(check, results, seconds)
    print(f'[gpu-check] {seconds:.0f} s; report: '
          f'{_rel(check.out / "report.md")}')
    return 1 if any(r['status'] == 'FAIL' for r in results) else 0


if __name__ == '__main__':
    sys.exit(main())
