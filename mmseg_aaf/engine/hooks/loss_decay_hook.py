# Copyright (c) mmseg_aaf contributors. All rights reserved.
import logging

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ...models.losses import AffinityLoss


@HOOKS.register_module()
class AffinityLossDecayHook(Hook):
    """Scale every affinity loss by ``base ** (-iter / max_iters)``.

    The published training decays the whole affinity term from 1 to
    ``1 / base`` over the run, and its author reports that this matters.
    The factor is recomputed from the runner before every iteration, so it
    needs no state of its own and resumes correctly. ``base=1`` disables
    the decay. Without this hook the factor stays 1.

    Args:
        base (float): Decay base; 10 in the paper. Default: 10.0.
    """

    priority = 'NORMAL'

    def __init__(self, base: float = 10.0):
        if not base >= 1:
            raise ValueError(f'base must be >= 1 (1 disables), got {base}')
        self.base = float(base)

    def before_train(self, runner) -> None:
        if not self._affinity_losses(runner):
            print_log(
                'AffinityLossDecayHook: the model has no AffinityLoss or '
                'AAFLoss, so AAF is NOT active: this run trains without it '
                'and the hook does nothing. Put the loss in a decode '
                "head's loss_decode (tools/aaf_config.py writes a config "
                'that does).',
                logger='current',
                level=logging.WARNING)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        factor = self.base**(-runner.iter / max(runner.max_iters, 1))
        for loss in self._affinity_losses(runner):
            loss.decay = factor

    @staticmethod
    def _affinity_losses(runner):
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        return [m for m in model.modules() if isinstance(m, AffinityLoss)]
