# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Let mmengine 0.10.7 load its own checkpoints under torch >= 2.6.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``, which
unpickles only allow-listed globals; mmengine 0.10.7 calls it without
arguments, so resuming and testing fail on the non-tensor objects its
checkpoints carry. This module allow-lists exactly those objects, and only
for weights-only loading; nothing turns weights-only loading off.

What an mmengine checkpoint carries besides tensors and builtin containers:

* ``message_hub.log_scalars``: :class:`HistoryBuffer` objects holding numpy
  arrays and numpy scalars;
* the class-level statistics table of :class:`HistoryBuffer`, pickled as
  ``getattr(HistoryBuffer, 'min')`` and so on. ``builtins.getattr`` itself
  would open every attribute of every allowed object, so the checkpoint's
  ``getattr`` is bound to :func:`_history_buffer_statistic`, which resolves
  only those names on that class.
"""
import pickle

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer


# HistoryBuffer fills its table lazily, so name the built-in statistics too.
_BUILTIN_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_statistic(owner, name):
    """The only ``getattr`` an mmengine checkpoint needs."""
    if owner is HistoryBuffer and (name in _BUILTIN_STATISTICS or
                                   name in HistoryBuffer._statistics_methods):
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'weights-only load refused getattr({owner!r}, {name!r}): only '
        'HistoryBuffer statistics are allowed')


def _numpy_globals():
    # numpy 1.x pickles its internals under numpy.core, 2.x under
    # numpy._core; allow whichever this numpy writes and reads.
    from numpy.core import multiarray
    core = 'numpy._core' if np.__version__.startswith('2') else 'numpy.core'
    return [
        np.ndarray,
        np.dtype,
        (multiarray._reconstruct, f'{core}.multiarray._reconstruct'),
        (multiarray.scalar, f'{core}.multiarray.scalar'),
    ] + [type(np.dtype(name)) for name in (
        'float64', 'float32', 'float16', 'int64', 'int32', 'int16', 'int8',
        'uint8', 'bool')]


MMENGINE_CHECKPOINT_GLOBALS = (
    [HistoryBuffer, (_history_buffer_statistic, 'builtins.getattr')] +
    _numpy_globals())


def allow_mmengine_checkpoints() -> None:
    """Allow-list the objects of mmengine checkpoints for weights-only
    ``torch.load``. Idempotent; a no-op on torch without the allow-list."""
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:
        add_safe_globals(MMENGINE_CHECKPOINT_GLOBALS)
