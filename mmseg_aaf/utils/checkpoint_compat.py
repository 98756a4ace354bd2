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
* the class-level statistics table of :class:`HistoryBuffer`, which every
  buffer pickles with itself (``__getstate__``). Pickle protocol 2 writes
  a method by its dotted name as ``getattr(HistoryBuffer, 'min')``, so
  only methods of :class:`HistoryBuffer` itself come this way: the four
  built-in statistics (a custom statistic is a module-level function,
  written as a global of its module, and refused). ``builtins.getattr``
  itself would open every attribute of every allowed object, so the
  checkpoint's ``getattr`` is bound to :func:`_history_buffer_statistic`,
  which resolves only those four names on that class;
* numpy arrays and scalars (in ``meta`` and the message hub's
  ``runtime_info`` too, e.g. a best score), of the dtypes in
  :data:`NUMPY_DTYPES`. Their raw data is a ``bytes`` object, which
  ``torch.save``'s pickle protocol 2 writes as ``_codecs.encode(text,
  'latin1')`` (allowed by torch) unless it is empty: ``b''``, the data of
  an empty array such as a fresh :class:`HistoryBuffer`'s history, is
  written as the call ``builtins.bytes()``. ``builtins.bytes`` itself would
  accept any argument (``bytes(n)`` allocates ``n`` bytes, ``bytes(obj)``
  calls ``obj.__bytes__`` or iterates ``obj``), so the checkpoint's
  ``bytes`` is bound to :func:`_empty_bytes`, which takes no argument.

Object, datetime and structured arrays stay refused: mmengine writes none.

A file the weights-only unpickler refuses (not a checkpoint, or one that
holds other objects) makes torch suggest ``weights_only=False``, which would
run any code the file holds. :func:`load_local_checkpoint`, which the
import also installs as mmengine's loader of local files, turns that into
:class:`UnsafeCheckpointError`, which names the file and says that it is
not unpickled unsafely; the tools print it as their one error line.
"""
import os.path as osp
import pickle

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


# The statistics HistoryBuffer registers itself. Named here, not read from
# HistoryBuffer._statistics_methods: that table is filled lazily (empty in
# a process that has made no buffer yet) and open to any registered name.
_BUILTIN_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_statistic(owner, name):
    """The only ``getattr`` an mmengine checkpoint needs."""
    if owner is HistoryBuffer and name in _BUILTIN_STATISTICS:
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'weights-only load refused getattr({owner!r}, {name!r}): only '
        'HistoryBuffer statistics are allowed')


def _empty_bytes(*args):
    """The only ``bytes`` call pickle protocol 2 writes: ``bytes()``, for
    ``b''``; non-empty bytes come as ``_codecs.encode``."""
    if args:
        raise pickle.UnpicklingError(
            f'weights-only load refused bytes{args!r}: only bytes() (an '
            'empty bytes object) is allowed')
    return b''


#: The dtypes whose numpy arrays and scalars load: every numeric one, bool,
#: and fixed-width strings. A dtype is unpickled as ``np.dtype(...)``
#: whose state is then set, which torch allows only on allow-listed types:
#: the dtype's own class (``numpy.dtypes.Float64DType``, ...).
NUMPY_DTYPES = ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
                'uint32', 'uint64', 'float16', 'float32', 'float64',
                'longdouble', 'complex64', 'complex128', 'clongdouble', 'U',
                'S')


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
    ] + [type(np.dtype(name)) for name in NUMPY_DTYPES]


MMENGINE_CHECKPOINT_GLOBALS = (
    [HistoryBuffer, (_history_buffer_statistic, 'builtins.getattr'),
     (_empty_bytes, 'builtins.bytes')] + _numpy_globals())


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A file that weights-only loading refuses; it is not loaded at all."""


class MissingCheckpointError(FileNotFoundError):
    """The checkpoint file does not exist."""


#: What the tools catch and print as one ``error:`` line.
CHECKPOINT_ERRORS = (UnsafeCheckpointError, MissingCheckpointError)


def _refusal_reason(error: Exception) -> str:
    """torch's reason for refusing a file (``Unsupported operand 95``,
    ``Unsupported global: GLOBAL eval ...``), without its advice to load it
    with ``weights_only=False`` and its pointers to the documentation."""
    text = str(error)
    marker = 'WeightsUnpickler error:'
    if marker in text:
        text = text[text.index(marker) + len(marker):]
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(('Weights only load failed',
                                         'Check the documentation')):
            return line.split('. Please ')[0].rstrip('.')
    return 'refused by the weights-only unpickler'


def load_local_checkpoint(filename: str, map_location=None, **kwargs):
    """``torch.load`` of a local file, as mmengine's local loader does,
    with the weights-only refusal turned into a message that names the
    file.

    Raises:
        MissingCheckpointError: No such file.
        UnsafeCheckpointError: The weights-only unpickler refused it.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise MissingCheckpointError(f'checkpoint {filename} not found')
    try:
        return torch.load(filename, map_location=map_location, **kwargs)
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpointError(
            f'{filename} is not a checkpoint that loads weights-only '
            f'({_refusal_reason(error)}); it will not be unpickled with '
            'weights_only=False, which would run any code the file holds'
        ) from None


def allow_mmengine_checkpoints() -> None:
    """Allow-list the objects of mmengine checkpoints for weights-only
    ``torch.load`` and install :func:`load_local_checkpoint` as mmengine's
    loader of local files. Idempotent; the allow-list is skipped on torch
    without one."""
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:
        add_safe_globals(MMENGINE_CHECKPOINT_GLOBALS)
    CheckpointLoader.register_scheme(
        prefixes='', force=True)(load_local_checkpoint)
