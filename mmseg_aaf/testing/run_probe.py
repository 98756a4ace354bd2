# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""A hook that records what ``tools/gpu_check.py`` asserts about a run.

Add it with ``custom_imports=dict(imports=['mmseg_aaf',
'mmseg_aaf.testing.run_probe'])`` and ``custom_hooks=[...,
dict(type='RunProbeHook')]``. Per iteration it records whether the losses
were finite, the loss scale of an AMP wrapper, and how every AAF size logit
moved against the gradient its backward pass produced: with plain SGD
(momentum 0) an ascending step is ``+lr * grad``, so the cosine between
step and gradient is 1, and -1 for a descending one. A step an AMP wrapper
skipped (an inf in fp16) leaves the logits where they were. At the end of
the run rank 0 writes ``probe.json`` into the work dir, with the process
group's backend and world size and the number of SyncBN and BN layers.
"""
import json
import math
import os.path as osp
from typing import Dict, List, Optional

import torch
import torch.distributed as torch_dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS
from torch.nn import SyncBatchNorm
from torch.nn.modules.batchnorm import _BatchNorm

from ..models.losses import AAFLoss


@HOOKS.register_module()
class RunProbeHook(Hook):
    """Record losses, loss scale and the steps of the AAF size logits.

    Args:
        out_file (str): Name of the JSON file in the work dir.
            Default: 'probe.json'.
    """

    priority = 'VERY_LOW'

    def __init__(self, out_file: str = 'probe.json'):
        self.out_file = out_file
        self._grads: Dict[str, torch.Tensor] = {}
        self._before: Dict[str, torch.Tensor] = {}
        self.iterations: List[dict] = []
        self.facts: dict = {}

    def before_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self._params = {
            f'{name}.{key}': param
            for name, module in model.named_modules()
            if isinstance(module, AAFLoss)
            for key, param in (('edge_size_logits',
                                module.edge_size_logits),
                               ('nonedge_size_logits',
                                module.nonedge_size_logits))
        }
        for name, param in self._params.items():
            param.register_hook(
                lambda grad, name=name: self._grads.__setitem__(
                    name, grad.detach().float().clone()))
        wrapper = runner.optim_wrapper
        cast = getattr(wrapper, 'cast_dtype', None)
        self.facts = dict(
            wrapper=type(wrapper).__name__,
            amp_dtype=None if cast is None else str(cast).replace(
                'torch.', ''),
            backend=(torch_dist.get_backend()
                     if torch_dist.is_initialized() else None),
            world_size=(torch_dist.get_world_size()
                        if torch_dist.is_initialized() else 1),
            model_wrapper=type(runner.model).__name__,
            device=str(next(model.parameters()).device),
            sync_bn=sum(isinstance(m, SyncBatchNorm)
                        for m in model.modules()),
            bn=sum(isinstance(m, _BatchNorm)
                   and not isinstance(m, SyncBatchNorm)
                   for m in model.modules()),
            size_logits=sorted(self._params))

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        self._grads.clear()
        self._before = {
            name: param.detach().float().clone()
            for name, param in self._params.items()
        }

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        losses = {
            key: float(value)
            for key, value in (outputs or {}).items()
            if key.startswith('loss')
        }
        record = dict(
            iter=runner.iter,
            losses_finite=all(math.isfinite(v) for v in losses.values()),
            loss=losses.get('loss'))
        scaler = getattr(runner.optim_wrapper, 'loss_scaler', None)
        if scaler is not None:
            record['loss_scale'] = float(scaler.get_scale())
        steps = {
            name: param.detach().float() - self._before[name]
            for name, param in self._params.items()
        }
        if steps:
            step = torch.cat([s.flatten() for s in steps.values()])
            record['stepped'] = bool(step.any())
            if record['stepped'] and len(self._grads) == len(steps):
                grad = torch.cat([self._grads[n].flatten() for n in steps])
                record['cosine'] = float(
                    torch.nn.functional.cosine_similarity(step, grad, dim=0))
        self.iterations.append(record)

    def after_run(self, runner) -> None:
        if torch_dist.is_initialized() and torch_dist.get_rank() != 0:
            return
        final = [p.detach() for p in self._params.values()]
        summary = dict(
            self.facts,
            iterations=len(self.iterations),
            losses_finite=all(r['losses_finite'] for r in self.iterations),
            steps_taken=sum(r.get('stepped', False)
                            for r in self.iterations),
            min_cosine=min((r['cosine'] for r in self.iterations
                            if 'cosine' in r),
                           default=None),
            size_logits_finite=all(
                bool(torch.isfinite(p).all()) for p in final),
            size_logits_moved=any(bool(p.any()) for p in final),
            per_iter=self.iterations)
        with open(osp.join(runner.work_dir, self.out_file), 'w') as f:
            json.dump(summary, f, indent=1)
