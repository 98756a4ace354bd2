# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Test-only hook: every rank saves its AAF size logits after training."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankStateDumpHook(Hook):

    def after_train(self, runner):
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        state = {
            name: param.detach().clone()
            for name, param in model.named_parameters()
            if 'size_logits' in name
        }
        torch.save(state, osp.join(runner.work_dir, f'rank{get_rank()}.pth'))
