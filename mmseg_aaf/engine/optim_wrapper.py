# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Optimizer wrappers that ascend the AAF size logits (Eq. 6 of the paper).

The network descends the affinity loss while the per-class size weights of
every ``AAFLoss`` ascend it. The wrappers negate the gradients of the
parameters marked with :func:`mark_for_ascent` right before the optimizer
step (once per step, however many backward passes were accumulated) and
restore them afterwards. Negation does not change a gradient norm, so
``clip_grad`` behaves exactly as with the parent wrapper.

On construction the marked parameters move into a param group of their own
that keeps the lr (and so the lr schedule) of the group they came from but
has no weight decay, as in the published training code.

A guard on every ``torch.optim.Optimizer.step`` refuses to step marked
parameters that no ascending wrapper has flipped: descending them silently
would collapse AAF onto its cheapest kernel size.
"""
import logging
from typing import List

import torch
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch.optim.optimizer import register_optimizer_step_pre_hook

from ..models.losses.affinity_loss import AffinityLoss, is_marked_for_ascent

_ASCENDING_ATTR = '_mmseg_aaf_ascending'


def isolate_ascent_params(optimizer: torch.optim.Optimizer
                          ) -> List[torch.nn.Parameter]:
    """Move marked parameters into groups without weight decay.

    Each source group that holds marked parameters gives one new group with
    its settings (lr, momentum, ...) and ``weight_decay=0``; groups left
    empty are dropped. The result is deterministic, so a resumed run builds
    the same groups and its optimizer state loads.

    Returns:
        list[Parameter]: the marked parameters, in group order.
    """
    ascent, kept_groups, new_groups = [], [], []
    for group in optimizer.param_groups:
        marked = [p for p in group['params'] if is_marked_for_ascent(p)]
        if marked:
            group['params'] = [
                p for p in group['params'] if not is_marked_for_ascent(p)
            ]
            settings = {k: v for k, v in group.items() if k != 'params'}
            if 'weight_decay' in settings:
                settings['weight_decay'] = 0.
            new_groups.append(dict(settings, params=marked))
            ascent.extend(marked)
        if group['params']:
            kept_groups.append(group)
    optimizer.param_groups[:] = kept_groups
    for group in new_groups:
        optimizer.add_param_group(group)
    return ascent


class _GradientAscentMixin:
    """Negate the marked gradients around the parent's ``step``.

    Also refuses to train an AAF that is not active: at the first step it
    looks at the model (handed over by ``optim_context``) and warns when no
    affinity loss is in it, and every step it raises when a size logit got
    no gradient, i.e. its loss was built but never called.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ascent_params = isolate_ascent_params(self.optimizer)
        self._ascent_places = None
        if self.ascent_params:
            numel = sum(p.numel() for p in self.ascent_params)
            print_log(
                f'{type(self).__name__}: {len(self.ascent_params)} size-logit '
                f'tensors ({numel} values) ascend the loss, without weight '
                'decay', logger='current')

    def optim_context(self, model):
        if self._ascent_places is None:
            self._inspect_model(model)
        return super().optim_context(model)

    def _inspect_model(self, model) -> None:
        """Name the ascent parameters; warn if the model has no AAF."""
        if is_model_wrapper(model):
            model = model.module
        names = {id(p): n for n, p in model.named_parameters()}
        self._ascent_places = {
            id(p): names.get(id(p), f'<a size-logit tensor of shape '
                             f'{tuple(p.shape)}>')
            for p in self.ascent_params
        }
        self._head_types = {
            name: type(module).__name__
            for name, module in model.named_modules()
        }
        affinity = [
            m for m in model.modules() if isinstance(m, AffinityLoss)
        ]
        if not affinity:
            print_log(
                f'{type(self).__name__}: the model has no AAFLoss or '
                'AffinityLoss, so AAF is NOT active: this run trains '
                'without it. Put the loss in a decode head\'s loss_decode '
                '(or the loss_affinity of AffinityMask2FormerHead / '
                'AffinityMaskFormerHead; tools/aaf_config.py writes a config '
                'that does).',
                logger='current', level=logging.WARNING)
        elif not self.ascent_params:
            print_log(
                f'{type(self).__name__}: the model has affinity losses with '
                'fixed kernel sizes only (no AAFLoss); the wrapper behaves '
                'like its parent', logger='current')

    def _check_ascent_grads(self) -> None:
        """Raise when an AAFLoss was built but never called."""
        for param in self.ascent_params:
            if param.requires_grad and param.grad is None:
                raise RuntimeError(self._uncalled_message(param))

    def _uncalled_message(self, param) -> str:
        name = (self._ascent_places or {}).get(
            id(param), f'<size logits of shape {tuple(param.shape)}>')
        place = name.rsplit('.', 1)[0]
        head, _, slot = place.partition('.loss_decode')
        if not slot and place.endswith('.loss_affinity'):
            head = place[:-len('.loss_affinity')]
            what = 'its loss_affinity'
        else:
            what = 'that entry of its loss_decode'
        head_type = getattr(self, '_head_types', {}).get(head, 'its head')
        return (
            f'The AAFLoss at {place} got no gradient in this step: it was '
            f'built but never called. {head_type} does not apply {what} to '
            'dense class scores (DDRHead and PIDHead call their losses by '
            'position; heads with their own loss(), such as PointHead, '
            'ignore appended losses; Mask2FormerHead and MaskFormerHead take '
            'the loss only as the loss_affinity of AffinityMask2FormerHead / '
            'AffinityMaskFormerHead, whose loss() calls it), so AAF would '
            'not train. Write the config with tools/aaf_config.py, which '
            'puts the loss where it is called or refuses the head, or remove '
            'the loss.')

    def _flip_ascent_grads(self, ascending: bool) -> None:
        for param in self.ascent_params:
            setattr(param, _ASCENDING_ATTR, ascending)
            if param.grad is not None:
                param.grad.neg_()

    def step(self, **kwargs) -> None:
        self._check_ascent_grads()
        self._flip_ascent_grads(True)
        try:
            super().step(**kwargs)
        finally:
            self._flip_ascent_grads(False)


@OPTIM_WRAPPERS.register_module()
class AdversarialOptimWrapper(_GradientAscentMixin, OptimWrapper):
    """``OptimWrapper`` that ascends every ``AAFLoss`` size logit.

    Config::

        optim_wrapper = dict(
            type='AdversarialOptimWrapper',
            optimizer=dict(type='SGD', lr=0.01, momentum=0.9,
                           weight_decay=0.0005))

    Accepts every argument of :class:`mmengine.optim.OptimWrapper`
    (``clip_grad``, ``accumulative_counts``) and works with any
    ``paramwise_cfg``.
    """


@OPTIM_WRAPPERS.register_module()
class AdversarialAmpOptimWrapper(_GradientAscentMixin, AmpOptimWrapper):
    """The mixed-precision variant, used by ``tools/train.py --amp``."""


def _refuse_unflipped_ascent_params(optimizer, args, kwargs) -> None:
    for group in optimizer.param_groups:
        for param in group['params']:
            if (param.grad is not None and is_marked_for_ascent(param)
                    and not getattr(param, _ASCENDING_ATTR, False)):
                raise RuntimeError(
                    'An optimizer is about to descend AAFLoss size logits '
                    f'(shape {tuple(param.shape)}); they must ascend the '
                    "loss. Use optim_wrapper=dict(type='AdversarialOptim"
                    "Wrapper', optimizer=...) (or 'AdversarialAmpOptim"
                    "Wrapper' for AMP), or freeze them with "
                    'requires_grad=False.')


_guard_handle = register_optimizer_step_pre_hook(
    _refuse_unflipped_ascent_params)
