# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The fused affinity-field operators, registered with ``torch.library``.

``torch.ops.mmseg_aaf.affinity_field_forward(probs, labels, half_sizes,
margin)`` returns, for probabilities ``(N, C, H, W)`` and labels
``(N, H, W)`` (int64, negative where ignored):

* ``edge``, ``nonedge``: ``(C, K)``, the sums of the edge hinges and of the
  non-edge divergences of every centre pixel of class ``c`` at half-size
  ``half_sizes[k]``;
* ``edge_count``, ``nonedge_count``: ``(K,)``, the number of entries.

The semantics are those of
:func:`mmseg_aaf.models.losses.affinity_field.affinity_field_terms`, which
calls these operators for ``implementation='fused'`` and weighs the
per-class sums by the per-class size weights itself, so that autograd gives
the weights' gradient and the kernels never see them.
``affinity_field_backward`` is the gradient w.r.t. ``probs`` given the
gradients of ``edge`` and ``nonedge``; it is registered as the forward's
autograd formula. Both have fake kernels, so they trace under
``torch.compile``.

Implementations, one per device type:

* CPU: C++ with OpenMP (``csrc/cpu/affinity_field_cpu.cpp``), compiled by
  the package's install into ``mmseg_aaf.ops._affinity_field_cpu``.
* CUDA: Triton kernels (:mod:`.affinity_field_triton`), compiled at first
  use; registered when Triton imports and CUDA is present.

:func:`fused_available` says whether one is there for a device type,
:func:`unavailable_reason` why not.
"""
import importlib.util
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor

_LIBRARY = torch.library.Library('mmseg_aaf', 'DEF')
_LIBRARY.define('affinity_field_forward(Tensor probs, Tensor labels, '
                'int[] half_sizes, float margin) -> '
                '(Tensor, Tensor, Tensor, Tensor)')
_LIBRARY.define('affinity_field_backward(Tensor grad_edge, '
                'Tensor grad_nonedge, Tensor probs, Tensor labels, '
                'int[] half_sizes, float margin) -> Tensor')

FORWARD = 'mmseg_aaf::affinity_field_forward'
BACKWARD = 'mmseg_aaf::affinity_field_backward'

#: device type -> why the fused kernel is not there (absent when it is).
_MISSING: Dict[str, str] = {}

try:
    from . import _affinity_field_cpu  # noqa: F401  (registers the CPU op)
except ImportError as exc:
    built = importlib.util.find_spec(f'{__package__}._affinity_field_cpu')
    _MISSING['cpu'] = (
        'the C++ extension mmseg_aaf.ops._affinity_field_cpu ' +
        (f'does not load ({exc})' if built else 'is not built') +
        '; reinstall with a C++ compiler present (make install, or pip '
        'install --no-build-isolation --use-pep517 -e .)')


def _register_cuda() -> None:
    if not torch.cuda.is_available():
        _MISSING['cuda'] = 'CUDA is not available'
        return
    try:
        from . import affinity_field_triton
    except ImportError as exc:
        _MISSING['cuda'] = (f'Triton is not importable ({exc}); install '
                            'the triton that matches your torch')
        return
    torch.library.register_kernel(FORWARD, 'cuda',
                                  affinity_field_triton.forward,
                                  lib=_LIBRARY)
    torch.library.register_kernel(BACKWARD, 'cuda',
                                  affinity_field_triton.backward,
                                  lib=_LIBRARY)


_register_cuda()


def fused_available(device_type: str) -> bool:
    """Whether the fused kernel runs on tensors of ``device_type``."""
    return device_type in ('cpu', 'cuda') and device_type not in _MISSING


def unavailable_reason(device_type: str) -> Optional[str]:
    """Why the fused kernel does not run on ``device_type`` (None if it
    does)."""
    if device_type not in ('cpu', 'cuda'):
        return f'there is no fused kernel for {device_type} tensors'
    return _MISSING.get(device_type)


@torch.library.register_fake(FORWARD, lib=_LIBRARY)
def _forward_fake(probs: Tensor, labels: Tensor, half_sizes: Sequence[int],
                  margin: float) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    table = probs.new_empty((probs.shape[1], len(half_sizes)))
    count = probs.new_empty((len(half_sizes), ))
    return table, torch.empty_like(table), count, torch.empty_like(count)


@torch.library.register_fake(BACKWARD, lib=_LIBRARY)
def _backward_fake(grad_edge: Tensor, grad_nonedge: Tensor, probs: Tensor,
                   labels: Tensor, half_sizes: Sequence[int],
                   margin: float) -> Tensor:
    return torch.empty_like(probs, memory_format=torch.contiguous_format)


def _setup_context(ctx, inputs, output) -> None:
    probs, labels, half_sizes, margin = inputs
    ctx.save_for_backward(probs, labels)
    ctx.half_sizes = list(half_sizes)
    ctx.margin = float(margin)
    ctx.mark_non_differentiable(output[2], output[3])


def _backward(ctx, grad_edge, grad_nonedge, _grad_edge_count,
              _grad_nonedge_count):
    probs, labels = ctx.saved_tensors
    grad_probs = None
    if ctx.needs_input_grad[0]:
        grad_probs = torch.ops.mmseg_aaf.affinity_field_backward(
            grad_edge, grad_nonedge, probs, labels, ctx.half_sizes,
            ctx.margin)
    return grad_probs, None, None, None


torch.library.register_autograd(FORWARD, _backward,
                                setup_context=_setup_context, lib=_LIBRARY)


def affinity_field_class_sums(probs: Tensor, labels: Tensor,
                              half_sizes: Sequence[int], margin: float
                              ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """The forward operator (see the module docstring for the outputs)."""
    return torch.ops.mmseg_aaf.affinity_field_forward(
        probs, labels, [int(s) for s in half_sizes], float(margin))
