# Copyright (c) mmseg_aaf contributors. All rights reserved.
import importlib.util
import json
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.dataloader import default_collate

import mmseg_aaf  # noqa: F401
from mmseg_aaf.engine.hooks import KernelSizeLoggerHook
from mmseg_aaf.models.losses import AAFLoss

CLASSES = ('background', 'road', 'car')


class StripesDataset(Dataset):
    """Four 8x8 images whose label is a vertical stripe pattern."""

    metainfo = dict(classes=CLASSES)

    def __len__(self):
        return 4

    def __getitem__(self, index):
        generator = torch.Generator().manual_seed(index)
        labels = torch.arange(8).div(3, rounding_mode='floor').expand(8, 8)
        inputs = torch.randn(3, 8, 8, generator=generator)
        return dict(inputs=inputs, labels=labels.clone())


class TinyAAFModel(BaseModel):
    """A 1x1 convolution trained by AAF alone."""

    def __init__(self, with_aaf: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(3, len(CLASSES), 1)
        self.aaf = AAFLoss(num_classes=len(CLASSES), downsample=1,
                           kernel_sizes=(3, 5)) if with_aaf else None

    def forward(self, inputs, labels=None, mode='tensor'):
        logits = self.conv(inputs)
        if mode != 'loss':
            return logits
        if self.aaf is None:
            return dict(loss_l2=logits.pow(2).mean())
        return dict(loss_aaf=self.aaf(logits, labels))


def build_runner(work_dir: Path, model: nn.Module) -> Runner:
    return Runner(
        model=model,
        work_dir=str(work_dir),
        # Runners named alike (by start time) would share one message hub.
        experiment_name=f'kernel_size_hook_{work_dir.name}',
        train_dataloader=DataLoader(
            StripesDataset(), batch_size=2, collate_fn=default_collate),
        train_cfg=dict(by_epoch=False, max_iters=2),
        optim_wrapper=dict(
            type='AdversarialOptimWrapper',
            optimizer=dict(type='SGD', lr=1.0)),
        custom_hooks=[dict(type='KernelSizeLoggerHook', interval=1)],
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=2)),
        log_processor=dict(by_epoch=False),
        visualizer=dict(
            type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]),
        default_scope='mmengine')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('kernel_hook')
    runner = build_runner(work_dir, TinyAAFModel())
    runner.train()
    return runner


def test_hook_writes_kernel_sizes_to_message_hub(trained):
    expected = trained.model.aaf.effective_kernel_sizes()
    for kind in ('edge', 'nonedge'):
        for index, name in enumerate(CLASSES):
            key = f'train/aaf_kernel/{kind}/{name}'
            buffer = trained.message_hub.get_scalar(key)
            # One record per iteration; the last one is the final state.
            assert len(buffer.data[0]) == 2
            assert buffer.current() == pytest.approx(
                expected[kind][index].item())
    # Two iterations of ascent moved the weights away from the uniform
    # mixture (mean size 4), at least for some class.
    assert (expected['edge'] - 4).abs().max() > 1e-6


def test_hook_values_reach_the_visualizer_backend(trained):
    scalars = Path(trained.log_dir) / 'vis_data' / 'scalars.json'
    records = [json.loads(line) for line in scalars.read_text().splitlines()]
    assert [r['step'] for r in records] == [1, 2]
    assert {'aaf_kernel/edge/car', 'aaf_kernel/nonedge/road'} <= set(
        records[-1])
    final = trained.model.aaf.effective_kernel_sizes()
    assert records[-1]['aaf_kernel/edge/car'] == pytest.approx(
        final['edge'][2].item(), abs=1e-4)


def test_hook_logs_a_compact_line(trained):
    log = next(Path(trained.log_dir).glob('*.log')).read_text()
    assert 'AAF kernel sizes [loss_aaf] iter 2 edge: background=' in log


def test_plot_tool_reads_the_run_checkpoint(trained, repo_root, tmp_path):
    path = repo_root / 'tools' / 'analysis' / 'plot_kernel_sizes.py'
    spec = importlib.util.spec_from_file_location('plot_kernel_sizes', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / 'fig4.png'
    checkpoint = Path(trained.work_dir) / 'iter_2.pth'
    # The loss was built with kernel sizes (3, 5): the default (3, 5, 7)
    # does not fit its logits.
    with pytest.raises(ValueError, match=r'\(3, 5, 7\)'):
        tool.main([str(checkpoint), '--out', str(out)])
    config = tmp_path / 'cfg.py'
    config.write_text(
        "model = dict(loss=dict(type='AAFLoss', kernel_sizes=(3, 5)))\n")
    tool.main([str(checkpoint), '--config', str(config), '--out', str(out)])
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_hook_warns_once_without_aaf(tmp_path):
    runner = build_runner(tmp_path, TinyAAFModel(with_aaf=False))
    runner.train()
    hub_keys = [k for k in runner.message_hub.log_scalars
                if 'aaf_kernel' in k]
    assert hub_keys == []
    log = next(Path(runner.log_dir).glob('*.log')).read_text()
    assert log.count('KernelSizeLoggerHook: the model has no AAFLoss') == 1


@pytest.mark.parametrize('interval', [0, 1.5, True])
def test_bad_interval(interval):
    with pytest.raises(ValueError, match='interval'):
        KernelSizeLoggerHook(interval=interval)
