# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""tools/train.py and tools/dist_train.sh as a user runs them."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import mmseg_aaf  # noqa: F401  (weights-only loading of checkpoints)
from tests.conftest import (DATA_DIR, REPO_ROOT, TINY_CONFIG, run_tool,
                            tiny_cfg_options)

pytestmark = pytest.mark.integration


def _train(work_dir, data_root, *extra):
    return run_tool([
        sys.executable,
        str(REPO_ROOT / 'tools' / 'train.py'),
        str(TINY_CONFIG), '--work-dir',
        str(work_dir), *extra, '--cfg-options',
        *tiny_cfg_options(data_root)
    ], cwd=work_dir.parent)


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if torch.is_tensor(a[key]):
            assert torch.equal(a[key], b[key]), key
        elif isinstance(a[key], dict):
            _assert_same_state(a[key], b[key])
        elif isinstance(a[key], list):
            assert len(a[key]) == len(b[key]), key
            for x, y in zip(a[key], b[key]):
                if isinstance(x, dict):
                    _assert_same_state(x, y)
                else:
                    assert x == y, key
        else:
            assert a[key] == b[key], key


def test_resume_matches_an_uninterrupted_run(tiny_data_root, tmp_path):
    straight = tmp_path / 'straight'
    straight.mkdir()
    _train(straight, tiny_data_root)

    # Resume from the checkpoint the run wrote halfway, as after a crash.
    resumed = tmp_path / 'resumed'
    resumed.mkdir()
    shutil.copy(straight / 'iter_2.pth', resumed / 'iter_2.pth')
    (resumed / 'last_checkpoint').write_text(str(resumed / 'iter_2.pth'))
    proc = _train(resumed, tiny_data_root, '--resume')
    assert 'resumed epoch: 0, iter: 2' in proc.stdout + proc.stderr

    final_a = torch.load(straight / 'iter_4.pth')
    final_b = torch.load(resumed / 'iter_4.pth')
    assert any('edge_size_logits' in k for k in final_a['state_dict'])
    _assert_same_state(final_a['state_dict'], final_b['state_dict'])
    _assert_same_state(final_a['optimizer'], final_b['optimizer'])
    halfway = torch.load(straight / 'iter_2.pth')['state_dict']
    key = 'decode_head.loss_decode.1.edge_size_logits'
    assert not torch.equal(halfway[key], final_a['state_dict'][key])


def test_resume_from_a_file_that_is_not_a_checkpoint(tiny_data_root,
                                                     tmp_path):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    bad = work_dir / 'iter_2.pth'
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    (work_dir / 'last_checkpoint').write_text(str(bad))
    proc = subprocess.run([
        sys.executable, str(REPO_ROOT / 'tools' / 'train.py'),
        str(TINY_CONFIG), '--work-dir', str(work_dir), '--resume',
        '--cfg-options', *tiny_cfg_options(tiny_data_root)
    ], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 1
    output = proc.stdout + proc.stderr
    assert 'Traceback' not in output and 'will likely succeed' not in output
    assert proc.stderr.splitlines()[-1].startswith(
        f'error: {bad} is not a checkpoint that loads weights-only (')
    assert not (work_dir / 'iter_4.pth').exists()


def _rank_dump_config(tmp_path):
    """The tiny config plus the hook that saves each rank's state."""
    config = tmp_path / 'tiny_with_rank_dump.py'
    config.write_text(
        f"_base_ = [{str(TINY_CONFIG)!r}]\n"
        "custom_imports = dict(imports=['mmseg_aaf', 'rank_state_dump'])\n"
        "custom_hooks = [dict(type='AffinityLossDecayHook'), "
        "dict(type='RankStateDumpHook')]\n")
    return config


def _assert_ranks_agree(work_dir):
    """Both ranks hold the same size logits (which moved) and buffers;
    returns rank 0's dump."""
    rank0 = torch.load(work_dir / 'rank0.pth')
    rank1 = torch.load(work_dir / 'rank1.pth')
    assert len(rank0['params']) == 2
    for name in rank0['params']:
        assert torch.equal(rank0['params'][name], rank1['params'][name])
        assert rank0['params'][name].abs().sum() > 0  # they did move
    assert rank0['buffers'].keys() == rank1['buffers'].keys()
    for name in rank0['buffers']:
        assert torch.equal(rank0['buffers'][name], rank1['buffers'][name])
    return rank0


def test_two_processes_on_cpu(tiny_data_root, tmp_path):
    """Two processes (BN, gloo) end with one model: the same size logits
    and the same BN running statistics on both ranks as in the checkpoint,
    so the validation at the end of training scores what a test of the
    saved checkpoint scores."""
    work_dir = tmp_path / 'dist'
    config = _rank_dump_config(tmp_path)
    proc = run_tool([
        'bash',
        str(REPO_ROOT / 'tools' / 'dist_train.sh'),
        str(config), '2', '--work-dir',
        str(work_dir), '--cfg-options', *tiny_cfg_options(tiny_data_root)
    ], cwd=tmp_path, env_extra=dict(
        PYTHONPATH=str(DATA_DIR / 'plugins'), PORT='29517'))
    output = proc.stdout + proc.stderr
    assert 'CPUDistributedDataParallel' in output
    # DDP's deprecated broadcast_buffers argument is not used.
    assert 'broadcast_buffers' not in output
    rank0 = _assert_ranks_agree(work_dir)
    checkpoint = torch.load(work_dir / 'iter_4.pth')['state_dict']
    running = [name for name in rank0['buffers'] if 'running_' in name]
    assert running and set(running) <= checkpoint.keys()
    for name in running:
        assert torch.equal(rank0['buffers'][name], checkpoint[name]), name
    var = next(name for name in running if name.endswith('running_var'))
    assert not torch.equal(checkpoint[var], torch.ones_like(checkpoint[var]))

    # Both ranks returned the metrics of the whole validation set; a
    # single-process test of the checkpoint gives the same numbers.
    rank1 = torch.load(work_dir / 'rank1.pth')
    assert rank0['metrics'] == rank1['metrics']
    test_dir = tmp_path / 'test'
    run_tool([
        sys.executable,
        str(REPO_ROOT / 'tools' / 'test.py'),
        str(TINY_CONFIG),
        str(work_dir / 'iter_4.pth'), '--work-dir',
        str(test_dir), '--cfg-options', *tiny_cfg_options(tiny_data_root)
    ], cwd=tmp_path)
    [result] = test_dir.glob('*/*.json')
    tested = json.loads(result.read_text())
    assert {key: tested[key] for key in rank0['metrics']} == rank0['metrics']


def test_two_nodes_on_one_machine(tiny_data_root, tmp_path):
    """NNODES=2: two node ranks of one process each, started here as a
    cluster would start them on two machines, meet at MASTER_ADDR:PORT
    (gloo) and train one model."""
    work_dir = tmp_path / 'nodes'
    command = [
        'bash', str(REPO_ROOT / 'tools' / 'dist_train.sh'),
        str(_rank_dump_config(tmp_path)), '1', '--work-dir', str(work_dir),
        '--cfg-options', *tiny_cfg_options(tiny_data_root)
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1', NNODES='2',
               MASTER_ADDR='127.0.0.1', PORT='29527',
               PYTHONPATH=str(DATA_DIR / 'plugins'),
               PATH=f'{Path(sys.executable).parent}:{os.environ["PATH"]}')
    nodes = [
        subprocess.Popen(command, cwd=tmp_path, env=dict(env, NODE_RANK=str(
            rank)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True) for rank in (0, 1)
    ]
    try:
        outputs = [node.communicate(timeout=600)[0] for node in nodes]
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
    for node, output in zip(nodes, outputs):
        assert node.returncode == 0, output[-6000:]
    # mmengine logs the world size as the "GPU number".
    assert 'GPU number: 2' in outputs[0]
    _assert_ranks_agree(work_dir)
    assert (work_dir / 'iter_4.pth').is_file()
