# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The plugin as a user meets it: a wheel installed into an environment
that already has the stack, used from a directory outside the checkout.

The wheel is built from the checkout (``pip wheel --no-deps
--no-build-isolation``) and installed into a new virtual environment that
sees the project's packages through a ``.pth`` line (so the editable
install of the checkout is *not* active there: a ``.pth`` line adds a
directory but runs none of its ``.pth`` files). From a temporary directory
the user writes a twin with the ``mmseg-aaf-config`` command and trains it
for 2 iterations through mmengine's ``Runner`` with ``custom_imports``
only, as their own ``tools/train.py`` would."""
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, TINY_CONFIG

pytestmark = pytest.mark.integration

USER_TRAIN = textwrap.dedent('''
    import json, sys
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(sys.argv[1])
    cfg.work_dir = sys.argv[2]
    Runner.from_cfg(cfg).train()
    import mmseg_aaf
    print(json.dumps(dict(plugin=mmseg_aaf.__file__)))
''')


def run(args, cwd, env=None):
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, (args, proc.stdout[-3000:],
                                  proc.stderr[-3000:])
    return proc


@pytest.fixture(scope='module')
def user_env(tmp_path_factory):
    root = tmp_path_factory.mktemp('user')
    wheels = root / 'wheels'
    run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '--quiet', '-w', str(wheels),
         str(REPO_ROOT)], cwd=root)
    wheel, = wheels.glob('mmseg_aaf-*.whl')
    venv = root / 'venv'
    run([sys.executable, '-m', 'venv', str(venv)], cwd=root)
    python = venv / 'bin' / 'python'
    site = run([str(python), '-c',
                'import sysconfig; print(sysconfig.get_path("purelib"))'],
               cwd=root).stdout.strip()
    # The stack of the project's environment, seen by the new one.
    Path(site, 'project_stack.pth').write_text(
        sysconfig.get_path('purelib') + '\n')
    run([str(python), '-m', 'pip', 'install', '--no-deps', '--no-index',
         '--quiet', str(wheel)], cwd=root)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env['PATH'] = f'{venv / "bin"}:{env["PATH"]}'
    work = root / 'work'
    work.mkdir()
    return dict(python=python, venv=venv, env=env, work=work, site=site,
                wheel=wheel)


def test_wheel_holds_the_package_only(user_env):
    python, work = user_env['python'], user_env['work']
    proc = run([str(python), '-c', textwrap.dedent('''
        import json, sys, mmseg_aaf
        from mmseg.registry import MODELS
        from mmseg_aaf.ops import fused_available, unavailable_reason
        print(json.dumps(dict(file=mmseg_aaf.__file__,
                              path=sys.path,
                              aaf=MODELS.get('AAFLoss') is not None,
                              fused=fused_available('cpu'),
                              why=unavailable_reason('cpu'))))
    ''')], cwd=work, env=user_env['env'])
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found['file'].startswith(user_env['site']), found['file']
    assert str(REPO_ROOT) not in found['path']
    assert found['aaf']
    # The wheel carries the compiled CPU kernel.
    assert found['fused'], found['why']
    installed = Path(found['file']).parent
    assert not (installed.parent / 'tools').exists()
    assert (installed / 'cli' / 'aaf_config.py').is_file()


def write_user_config(path, data_root):
    """The user's own config: the tiny PSPNet with cross-entropy only,
    without the plugin."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(TINY_CONFIG))
    cfg.model.decode_head.loss_decode = dict(type='CrossEntropyLoss')
    cfg.optim_wrapper.type = 'OptimWrapper'
    cfg.pop('custom_hooks')
    cfg.pop('custom_imports')
    for part in ('backbone', 'decode_head'):
        cfg.model[part].norm_cfg = dict(type='BN', requires_grad=True)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(data_root)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2,
                         val_interval=100)
    cfg.dump(str(path))


def test_console_command_writes_a_twin_and_it_trains(user_env,
                                                     tiny_data_root):
    work, env = user_env['work'], user_env['env']
    write_user_config(work / 'my_pspnet.py', tiny_data_root)

    command = user_env['venv'] / 'bin' / 'mmseg-aaf-config'
    proc = run([str(command), 'my_pspnet.py', '--out', 'my_pspnet_aaf.py'],
               cwd=work, env=env)
    assert 'decode_head (PSPHead): aaf loss appended' in proc.stdout
    # mmseg's own zoo configs resolve through the installed mmseg.
    zoo = run([str(command),
               'mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py',
               '--out', 'zoo_twin.py'], cwd=work, env=env)
    assert 'wrote zoo_twin.py' in zoo.stdout
    assert "custom_imports = dict(imports=['mmseg_aaf']" in (
        work / 'zoo_twin.py').read_text()
    bad = subprocess.run([str(command), 'missing.py'], cwd=work, env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stderr.startswith('error: ')
    assert run([str(user_env['python']), '-m', 'mmseg_aaf.cli.aaf_config',
                '--help'], cwd=work, env=env).stdout.startswith('usage:')

    (work / 'train.py').write_text(USER_TRAIN)
    proc = run([str(user_env['python']), 'train.py', 'my_pspnet_aaf.py',
                str(work / 'run')], cwd=work, env=env)
    plugin = json.loads(proc.stdout.strip().splitlines()[-1])['plugin']
    assert plugin.startswith(user_env['site'])
    assert (work / 'run' / 'iter_2.pth').is_file()
    scalars = next((work / 'run').glob('*/vis_data/scalars.json'))
    rows = [json.loads(line) for line in scalars.read_text().splitlines()]
    assert any('decode.loss_aaf' in row for row in rows)


def test_compare_command_runs_a_user_config(user_env, tiny_data_root):
    """``mmseg-aaf-compare --quick`` from outside the checkout: the user's
    config, the methods derived from it, records and reports."""
    work = user_env['work'] / 'compare'
    work.mkdir()
    write_user_config(work / 'mine.py', tiny_data_root)
    command = user_env['venv'] / 'bin' / 'mmseg-aaf-compare'
    proc = run([str(command), 'mine.py', '--methods', 'ce', '+dice', '+aaf',
                '--seeds', '2', '--quick', '--work-dir', 'cmp',
                '--threads', '1'], cwd=work, env=user_env['env'])
    assert '[6/6] + AAF, seed 1' in proc.stdout
    results = json.loads((work / 'cmp' / 'quick' / 'results.json')
                         .read_text())
    assert list(results['methods']) == ['ce', '+dice', '+aaf']
    assert results['paired']['+aaf']['mIoU']['seeds'] == [0, 1]
    assert (work / 'cmp' / 'quick' / 'configs' / 'mine_aaf.py').is_file()
    text = (work / 'cmp' / 'quick' / 'results.md').read_text()
    assert 'AAF - Dice' in text
    proc = run([str(user_env['python']), '-m', 'mmseg_aaf.cli.compare',
                '--help'], cwd=work, env=user_env['env'])
    assert proc.stdout.startswith('usage:')


def test_tests_extra_is_the_test_requirements(user_env):
    """One list: the wheel's ``tests`` extra is requirements/tests.txt."""
    with zipfile.ZipFile(user_env['wheel']) as wheel:
        info = next(n for n in wheel.namelist()
                    if n.endswith('.dist-info/METADATA'))
        metadata = wheel.read(info).decode()
        entry_points = wheel.read(
            info.replace('METADATA', 'entry_points.txt')).decode()
    extra = sorted(
        line[len('Requires-Dist: '):].split(';')[0].strip().replace(' ', '')
        for line in metadata.splitlines()
        if line.startswith('Requires-Dist:') and 'extra == "tests"' in line)
    listed = sorted(
        line.split('#')[0].strip()
        for line in (REPO_ROOT / 'requirements' / 'tests.txt').read_text()
        .splitlines() if line.split('#')[0].strip())
    assert extra == listed
    assert 'mmseg-aaf-config = mmseg_aaf.cli.aaf_config:main' in entry_points
    assert 'mmseg-aaf-publish = mmseg_aaf.cli.publish_model:main' in \
        entry_points
    assert 'mmseg-aaf-compare = mmseg_aaf.cli.compare:main' in entry_points
