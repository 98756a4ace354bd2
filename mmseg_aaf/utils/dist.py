# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Multi-process training and testing on machines without CUDA.

mmengine's launcher path assumes one CUDA device per process: it calls
``torch.cuda.set_device`` and hands ``device_ids=[LOCAL_RANK]`` to DDP,
both of which fail on CPU. On CPU the tools here initialise the process
group with gloo themselves (mmengine then skips its own initialisation)
and wrap the model with :class:`CPUDistributedDataParallel`.
"""
import inspect
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

_GPU_ONLY_NORMS = {'SyncBN': 'BN', 'MMSyncBN': 'BN'}


# torch 2.13 renamed DDP's ``broadcast_buffers`` to ``forward_sync_buffers``
# and warns on the old name; older torch knows only the old one.
_FORWARD_SYNC_ARG = ('forward_sync_buffers' if 'forward_sync_buffers' in
                     inspect.signature(
                         torch.nn.parallel.DistributedDataParallel).parameters
                     else 'broadcast_buffers')


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for CPU processes.

    DDP refuses ``device_ids`` for a CPU module, but mmengine's Runner
    always passes ``[LOCAL_RANK]``; this wrapper drops it.

    The buffers of the module (BN running statistics) are made equal on
    every process: after each training step, every process takes rank 0's.
    Each process otherwise keeps statistics of its own batches (BN, since
    SyncBN has no CPU kernels), the checkpoint holds rank 0's, and the
    validation at the end of training, which runs on all processes, would
    not score the model the checkpoint holds. DDP's own buffer broadcast
    runs *before* each forward, which leaves the processes apart after the
    last step; it is switched off (``forward_sync_buffers`` /
    ``broadcast_buffers`` False, unless the config sets it).
    """

    def __init__(self, module, device_ids=None, **kwargs):
        if not {'broadcast_buffers', 'forward_sync_buffers'} & kwargs.keys():
            kwargs[_FORWARD_SYNC_ARG] = False
        super().__init__(module=module, device_ids=None, **kwargs)
        self.sync_buffers_from_rank0()

    @torch.no_grad()
    def sync_buffers_from_rank0(self) -> None:
        """Overwrite every process's module buffers with rank 0's."""
        buffers = [buffer for buffer in self.module.buffers()
                   if buffer.numel()]
        if not buffers or torch_dist.get_world_size(self.process_group) < 2:
            return
        # One broadcast per dtype: the buffers are small and many.
        by_dtype = {}
        for buffer in buffers:
            by_dtype.setdefault(buffer.dtype, []).append(buffer)
        for group in by_dtype.values():
            flat = torch.cat([buffer.reshape(-1) for buffer in group])
            torch_dist.broadcast(flat, src=0, group=self.process_group)
            offset = 0
            for buffer in group:
                buffer.copy_(flat[offset:offset + buffer.numel()].view_as(
                    buffer))
                offset += buffer.numel()

    def train_step(self, data, optim_wrapper):
        log_vars = super().train_step(data, optim_wrapper)
        self.sync_buffers_from_rank0()
        return log_vars


def replace_gpu_only_norms(node) -> int:
    """Turn SyncBN norm configs into BN in place; return how many."""
    replaced = 0
    if isinstance(node, dict):
        if node.get('type') in _GPU_ONLY_NORMS:
            node['type'] = _GPU_ONLY_NORMS[node['type']]
            replaced += 1
        for value in node.values():
            replaced += replace_gpu_only_norms(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            replaced += replace_gpu_only_norms(value)
    return replaced


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Prepare ``cfg`` for a multi-process run when CUDA is unavailable.

    Does nothing (returns False) for ``launcher='none'`` or when CUDA is
    available. Otherwise initialises gloo from the torchrun environment,
    selects :class:`CPUDistributedDataParallel` and turns SyncBN into BN
    (SyncBN has no CPU kernels; batch statistics are then per process).
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise ValueError(
            f'multi-process training without CUDA supports --launcher '
            f'pytorch (torchrun) only, got {launcher!r}')
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    wrapper_cfg = cfg.get('model_wrapper_cfg', None) or dict()
    if wrapper_cfg.get('type',
                       'MMDistributedDataParallel') == (
                           'MMDistributedDataParallel'):
        wrapper_cfg['type'] = 'CPUDistributedDataParallel'
        wrapper_cfg.setdefault('find_unused_parameters',
                               cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper_cfg
    replaced = replace_gpu_only_norms(cfg.model)
    if replaced:
        print_log(
            f'No CUDA: {replaced} SyncBN config(s) were turned into BN for '
            'this CPU run; batch statistics are per process, and the '
            'running statistics are rank 0\'s (copied to every process '
            'after each step).', logger='current', level=30)
    return True


def teardown_distributed() -> None:
    """Leave the process group cleanly at the end of a run.

    mmengine never destroys the group; with gloo, a process that exits while
    the group's threads are alive may abort, failing a finished run.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
