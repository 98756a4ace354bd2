# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""mmengine checkpoints load weights-only; nothing else is opened up."""
import functools
import importlib
import io
import json
import operator
import os
import pickle
import pickletools
import subprocess
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (_load_checkpoint, load_checkpoint,
                                        save_checkpoint)

import mmseg_aaf  # noqa: F401
from mmseg_aaf.utils import (MissingCheckpointError, UnsafeCheckpointError,
                             load_local_checkpoint)
from tests.conftest import tiny_config

#: Every dtype a checkpoint may hold numpy data of, listed here rather than
#: read from the module so that dropping one from the allow-list fails.
DTYPES = ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
          'uint32', 'uint64', 'float16', 'float32', 'float64', 'longdouble',
          'complex64', 'complex128', 'clongdouble', 'U3', 'S3', 'U0')


def _pickle_globals(path):
    """The ``module name`` of every GLOBAL in a ``torch.save`` file."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith('data.pkl'))
        data = archive.read(name)
    return {arg for op, arg, _ in pickletools.genops(data)
            if op.name == 'GLOBAL'}


def _load_weights_only(path):
    """Load as mmengine 0.10.7 does (``torch.load`` without arguments,
    weights-only on torch >= 2.6) and with ``weights_only=True`` explicitly,
    so the test holds whatever torch's default."""
    explicit = torch.load(path, map_location='cpu', weights_only=True)
    via_mmengine = _load_checkpoint(str(path), map_location='cpu')
    return explicit, via_mmengine


def _assert_same(a, b):
    """Equal values of equal types, numpy dtypes and shapes included."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, HistoryBuffer):
        _assert_same(a.data, b.data)
        assert a.max_length == b.max_length
    elif torch.is_tensor(a):
        assert torch.equal(a, b)
    else:
        assert a == b


def _numpy_values(dtype):
    """A scalar, 0-d, empty and non-empty arrays (C and Fortran order) of
    ``dtype``."""
    dtype = np.dtype(dtype)
    values = np.arange(6).reshape(2, 3).astype(dtype)
    return dict(
        scalar=values.reshape(-1)[-1],
        zero_dim=np.array(values.reshape(-1)[1]),
        empty=np.zeros((0, ), dtype),
        empty_2d=np.zeros((3, 0), dtype),
        array=values,
        fortran=np.asfortranarray(values))


@pytest.mark.parametrize('dtype', DTYPES)
def test_numpy_data_of_each_dtype_loads(tmp_path, dtype):
    values = _numpy_values(dtype)
    path = tmp_path / 'numpy.pth'
    save_checkpoint(dict(meta=dict(values=values)), str(path))
    for checkpoint in _load_weights_only(path):
        _assert_same(checkpoint['meta']['values'], values)


def _message_hub():
    """A message hub as a run leaves it, plus what a run can add: empty
    buffers (a fresh HistoryBuffer), numpy scalars of every dtype."""
    hub = MessageHub(
        'checkpoint_compat_test',
        log_scalars=OrderedDict(empty=HistoryBuffer(),
                                empty_short=HistoryBuffer(max_length=3)),
        resumed_keys=OrderedDict(empty=True, empty_short=True))
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', np.float64(0.5), count=2)
    hub.update_scalar('train/lr', torch.tensor(0.01))
    hub.update_info('iter', 3)
    hub.update_info('best_score', np.float64(21.31))
    hub.update_info('scalars', {d: _numpy_values(d)['scalar']
                                for d in DTYPES})
    hub.update_info('zero_dim', np.array(2.5, np.float32))
    hub.update_info('empty', np.zeros((0, 4), np.int64))
    return hub


def test_message_hub_with_empty_buffers_loads_through_mmengine(tmp_path):
    hub = _message_hub()
    path = tmp_path / 'hub.pth'
    save_checkpoint(
        dict(meta=dict(iter=3, dataset_meta=dict(classes=('a', 'b'))),
             state_dict=OrderedDict(w=torch.ones(2)),
             message_hub=hub.state_dict()), str(path))
    # The case of the issue: b'' (the data of an empty array) is pickled
    # by protocol 2 as a call of builtins.bytes.
    assert '__builtin__ bytes' in _pickle_globals(path)
    for checkpoint in _load_weights_only(path):
        _assert_same(checkpoint['message_hub'], hub.state_dict())
        loaded = MessageHub('checkpoint_compat_loaded')
        loaded.load_state_dict(checkpoint['message_hub'])
        assert loaded.get_scalar('empty').data[0].size == 0
        # (1.5 * 1 + 0.5 * 1) / (1 + 2): mean() weighs by the counts.
        assert loaded.get_scalar('train/loss').mean() == pytest.approx(2 / 3)
        # The statistics of an empty buffer work after loading too.
        loaded.get_scalar('empty').update(2.0)
        assert loaded.get_scalar('empty').current() == 2.0
        assert loaded.get_info('best_score') == np.float64(21.31)
        assert checkpoint['meta']['dataset_meta']['classes'] == ('a', 'b')


def test_load_checkpoint_reads_state_dict_and_message_hub(tmp_path):
    model = torch.nn.Linear(2, 1)
    path = tmp_path / 'model.pth'
    save_checkpoint(dict(meta=dict(iter=3),
                         state_dict=model.state_dict(),
                         message_hub=_message_hub().state_dict()), str(path))
    target = torch.nn.Linear(2, 1)
    checkpoint = load_checkpoint(target, str(path), map_location='cpu',
                                 strict=True)
    assert torch.equal(target.weight, model.weight)
    assert checkpoint['message_hub']['log_scalars']['empty'].data[0].size \
        == 0


def test_a_fresh_process_loads_a_message_hub(tmp_path):
    # As tools/test.py does: the checkpoint is the first place the process
    # meets a HistoryBuffer, so its class-level statistics table is empty.
    path = tmp_path / 'hub.pth'
    save_checkpoint(dict(message_hub=_message_hub().state_dict()), str(path))
    code = ('import torch, mmseg_aaf\n'
            'from mmengine.logging import HistoryBuffer\n'
            'assert not HistoryBuffer._statistics_methods\n'
            f'hub = torch.load({str(path)!r})["message_hub"]\n'
            'print(hub["log_scalars"]["train/loss"].mean())\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert float(proc.stdout.split()[-1]) == pytest.approx(2 / 3)


class _Exploit:

    def __reduce__(self):
        # getattr(HistoryBuffer, '__init__') would be the first step of an
        # escape through function globals.
        return getattr, (HistoryBuffer, '__init__')


class _GetattrRegistered:

    def __reduce__(self):
        # A method of HistoryBuffer that is not one of its statistics.
        return getattr, (HistoryBuffer, 'update')


class _GetattrElsewhere:

    def __reduce__(self):
        # A statistic's name on another allowed class: the owner counts too.
        return getattr, (np.ndarray, 'min')


class _Foreign:

    def __reduce__(self):
        return print, ('ran',)


class _BytesWithArguments:

    def __reduce__(self):
        # bytes(iterable) iterates its argument (bytes(n) would allocate n
        # bytes); only bytes() is a checkpoint's.
        return bytes, ([104, 105], )


class _NumpyCall:

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


@pytest.mark.parametrize('payload, message', [
    (_Exploit(), 'only HistoryBuffer statistics'),
    (_GetattrElsewhere(), 'only HistoryBuffer statistics'),
    (_GetattrRegistered(), 'only HistoryBuffer statistics'),
    (_Foreign(), 'GLOBAL print was not an allowed global'),
    (_BytesWithArguments(), r'only bytes\(\)'),
])
def test_weights_only_still_refuses_other_objects(payload, message):
    buffer = io.BytesIO()
    torch.save({'x': payload}, buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError, match=message):
        torch.load(buffer)


def test_getattr_ignores_registered_statistic_names():
    # The table of registered statistics is open to any name: a statistic
    # registered as "update" must not open HistoryBuffer.update.
    def update(buffer):
        return buffer.current()

    HistoryBuffer.register_statistics(update)
    try:
        buffer = io.BytesIO()
        torch.save({'x': _GetattrRegistered()}, buffer)
        buffer.seek(0)
        with pytest.raises(pickle.UnpicklingError,
                           match='only HistoryBuffer statistics'):
            torch.load(buffer)
    finally:
        HistoryBuffer._statistics_methods.pop('update')


@pytest.mark.parametrize('function', ['save', 'load'])
def test_numpy_functions_stay_refused(tmp_path, function):
    # numpy as a whole stays out: np.save writes files, and np.load(path,
    # None, True) would unpickle anything (allow_pickle).
    target = tmp_path / 'written.npy'
    if function == 'save':
        payload = _NumpyCall(np.save, str(target), np.zeros(1))
    else:
        np.save(tmp_path / 'present.npy', np.zeros(1))
        payload = _NumpyCall(np.load, str(tmp_path / 'present.npy'))
    buffer = io.BytesIO()
    torch.save({'x': payload}, buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError, match=f'numpy.{function}'):
        torch.load(buffer)
    assert not target.exists()


#: What ``import mmseg_aaf`` adds to torch's weights-only allow-list,
#: written out so that any addition (``eval``, ``builtins.getattr``, an
#: object dtype, ...) fails. ``name=function`` is a global bound to a
#: stand-in of this package.
ALLOW_LIST = {
    'mmengine.logging.history_buffer.HistoryBuffer',
    'builtins.getattr='
    'mmseg_aaf.utils.checkpoint_compat._history_buffer_statistic',
    'builtins.bytes=mmseg_aaf.utils.checkpoint_compat._empty_bytes',
    'numpy.ndarray', 'numpy.dtype',
    'numpy.core.multiarray._reconstruct=numpy.core.multiarray._reconstruct',
    'numpy.core.multiarray.scalar=numpy.core.multiarray.scalar',
    'numpy.dtypes.BoolDType', 'numpy.dtypes.Int8DType',
    'numpy.dtypes.Int16DType', 'numpy.dtypes.Int32DType',
    'numpy.dtypes.Int64DType', 'numpy.dtypes.UInt8DType',
    'numpy.dtypes.UInt16DType', 'numpy.dtypes.UInt32DType',
    'numpy.dtypes.UInt64DType', 'numpy.dtypes.Float16DType',
    'numpy.dtypes.Float32DType', 'numpy.dtypes.Float64DType',
    'numpy.dtypes.LongDoubleDType', 'numpy.dtypes.Complex64DType',
    'numpy.dtypes.Complex128DType', 'numpy.dtypes.CLongDoubleDType',
    'numpy.dtypes.StrDType', 'numpy.dtypes.BytesDType',
}


def test_the_import_adds_exactly_the_allow_list():
    # In a fresh process: what torch allows before and after the import.
    # torch adds its own types (DTensor, ...) when mmengine imports the
    # modules that define them; those are torch's, not this package's.
    code = (
        'import json, torch\n'
        'def names():\n'
        '    out = set()\n'
        '    for g in torch.serialization.get_safe_globals():\n'
        '        f, bound = g if isinstance(g, tuple) else (g, None)\n'
        '        name = f"{f.__module__}.{f.__qualname__}"\n'
        '        out.add(f"{bound}={name}" if bound else name)\n'
        '    return out\n'
        'before = names()\n'
        'import mmseg_aaf\n'
        'added = {n for n in names() - before if not n.startswith("torch.")}\n'
        'print(json.dumps(sorted(added)))\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert set(json.loads(proc.stdout.splitlines()[-1])) == ALLOW_LIST


class _Call:
    """Pickles as ``function(*args)``."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _dangerous_calls(marker):
    """Calls that would touch ``marker`` (or could lead there) if a
    checkpoint were allowed to make them."""
    touch = f'import pathlib; pathlib.Path({str(marker)!r}).touch()'
    shell = f'touch {marker}'
    return {
        'eval': _Call(eval, f'exec({touch!r})'),
        'exec': _Call(exec, touch),
        'compile': _Call(compile, touch, 'x', 'exec'),
        'open': _Call(open, str(marker), 'w'),
        'setattr': _Call(setattr, HistoryBuffer, 'mean', print),
        'delattr': _Call(delattr, HistoryBuffer, 'mean'),
        '__import__': _Call(__import__, 'os'),
        'importlib.import_module': _Call(importlib.import_module, 'os'),
        'os.system': _Call(os.system, shell),
        'os.popen': _Call(os.popen, shell),
        'subprocess.Popen': _Call(subprocess.Popen, ['touch', str(marker)]),
        'subprocess.run': _Call(subprocess.run, ['touch', str(marker)]),
        'functools.partial': _Call(functools.partial, os.system, shell),
        'operator.attrgetter': _Call(operator.attrgetter, 'system'),
        'operator.methodcaller': _Call(operator.methodcaller, 'system',
                                       shell),
        'pickle.loads': _Call(pickle.loads, pickle.dumps(1)),
        'torch.load': _Call(torch.load, str(marker)),
        'type': _Call(type, 'X', (object, ), {}),
    }


@pytest.mark.parametrize('name', sorted(_dangerous_calls('m')))
def test_dangerous_calls_are_refused(tmp_path, name):
    marker = tmp_path / 'marker'
    buffer = io.BytesIO()
    torch.save({'x': _dangerous_calls(marker)[name]}, buffer)
    buffer.seek(0)
    # torch names modules it blocks outright (os, subprocess) differently.
    with pytest.raises(pickle.UnpicklingError,
                       match='not an allowed global|whose module .* blocked'):
        torch.load(buffer, weights_only=True)
    assert not marker.exists()


@pytest.mark.parametrize('array', [
    np.array([1, 'two', None], dtype=object),
    np.array([1, 2], dtype=object),
    np.array(['2024-01-01'], dtype='datetime64[D]'),
    np.array([3], dtype='timedelta64[s]'),
    np.zeros(2, dtype=[('a', 'i4'), ('b', 'f4')]),
], ids=['object', 'object_ints', 'datetime64', 'timedelta64', 'structured'])
def test_other_numpy_dtypes_are_refused(array):
    buffer = io.BytesIO()
    torch.save({'x': array}, buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buffer, weights_only=True)


def _not_a_checkpoint(path):
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    return path


def test_refused_file_is_named_without_the_unsafe_advice(tmp_path):
    path = _not_a_checkpoint(tmp_path / 'random.pth')
    # Both directly and through mmengine's loader (resume, load_from).
    for load in (load_local_checkpoint, _load_checkpoint):
        with pytest.raises(UnsafeCheckpointError) as error:
            load(str(path))
        message = str(error.value)
        assert message.startswith(
            f'{path} is not a checkpoint that loads weights-only (')
        assert message.endswith(
            'it will not be unpickled with weights_only=False, which would '
            'run any code the file holds')
        assert 'will likely succeed' not in message
        assert '\n' not in message


def test_hostile_checkpoint_is_refused_naming_the_global(tmp_path):
    marker = tmp_path / 'marker'
    path = tmp_path / 'hostile.pth'
    torch.save({'state_dict': _Call(os.system, f'touch {marker}')}, path)
    with pytest.raises(UnsafeCheckpointError,
                       match=r'\(Trying to load unsupported GLOBAL '
                       r'posix.system whose module posix is blocked\); it '
                       'will not'):
        _load_checkpoint(str(path))
    assert not marker.exists()


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(MissingCheckpointError,
                       match=f'checkpoint {tmp_path}/none.pth not found'):
        _load_checkpoint(str(tmp_path / 'none.pth'))


@pytest.fixture(scope='module')
def trained_run(tmp_path_factory):
    """A tiny run: 2 iterations, validated after each, keeping the best
    checkpoint; its meta and message hub hold numpy scalars (eta, best
    score) and the validation scalars."""
    from mmseg_aaf.testing.tiny_data import write_tiny_segmentation_dataset
    root = tmp_path_factory.mktemp('checkpoint_compat')
    data_root = write_tiny_segmentation_dataset(root / 'data')
    cfg = tiny_config(data_root, root / 'work', 'checkpoint_compat',
                      train_cfg=dict(max_iters=2, val_interval=1))
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=2, save_best='mIoU')
    cfg.default_hooks.logger.interval = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    return data_root, root / 'work', runner


def test_checkpoints_of_a_run_load_weights_only(trained_run):
    _, work_dir, runner = trained_run
    best = sorted(work_dir.glob('best_mIoU_iter_*.pth'))
    assert len(best) == 1
    for path in [work_dir / 'iter_2.pth'] + best:
        for checkpoint in _load_weights_only(path):
            hub = checkpoint['message_hub']
            assert 'val/mIoU' in hub['log_scalars']
            assert isinstance(hub['runtime_info']['best_score'], np.float64)
            assert checkpoint['meta']['iter'] in (1, 2)
            assert checkpoint['meta']['dataset_meta']['classes'] == (
                'background', 'a', 'b', 'c')
            if path.name == 'iter_2.pth':
                _assert_same(checkpoint['state_dict'],
                             OrderedDict((k, v.cpu()) for k, v in
                                         runner.model.state_dict().items()))


def test_a_run_resumes_from_its_checkpoint(trained_run, tmp_path):
    data_root, work_dir, runner = trained_run
    cfg = tiny_config(data_root, tmp_path, 'checkpoint_compat_resumed',
                      train_cfg=dict(max_iters=2, val_interval=1))
    cfg.resume = True
    cfg.load_from = str(work_dir / 'iter_2.pth')
    resumed = Runner.from_cfg(cfg)
    resumed.train()  # resumes at iteration 2 of 2: nothing left to train
    assert resumed.iter == 2
    # iter_2.pth is written after iteration 2, before its validation: its
    # hub holds the validation of iteration 1.
    saved = torch.load(work_dir / 'iter_2.pth', weights_only=True)
    hub = resumed.message_hub
    assert hub.get_info('best_score') == saved['message_hub'][
        'runtime_info']['best_score']
    np.testing.assert_array_equal(
        hub.get_scalar('val/mIoU').data[0],
        saved['message_hub']['log_scalars']['val/mIoU'].data[0])
    for key, value in runner.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
