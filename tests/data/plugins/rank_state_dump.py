# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Test-only hook: every rank saves what it trained and validated with.

``rank<R>.pth`` holds ``params`` (the AAF size logits), ``buffers`` (every
module buffer: BN running statistics) and ``metrics`` (the last
validation's results as this rank returned them).
"""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankStateDumpHook(Hook):

    def __init__(self):
        self.metrics = None

    def after_val_epoch(self, runner, metrics=None):
        self.metrics = dict(metrics or {})

    def after_train(self, runner):
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        state = dict(
            params={
                name: param.detach().clone()
                for name, param in model.named_parameters()
                if 'size_logits' in name
            },
            buffers={
                name: buffer.detach().clone()
                for name, buffer in model.named_buffers()
            },
            metrics=self.metrics)
        torch.save(state, osp.join(runner.work_dir, f'rank{get_rank()}.pth'))
