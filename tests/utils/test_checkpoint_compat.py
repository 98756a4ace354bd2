# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""mmengine checkpoints load weights-only; nothing else is opened up."""
import io
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import _load_checkpoint

import mmseg_aaf  # noqa: F401


def _checkpoint_like_mmengine(path):
    hub = MessageHub.get_instance('checkpoint_compat_test')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', np.float64(0.5))
    torch.save(
        dict(
            meta=dict(iter=3, dataset_meta=dict(classes=('a', 'b'))),
            state_dict=dict(w=torch.ones(2)),
            message_hub=hub.state_dict(),
            optimizer=torch.optim.SGD([torch.nn.Parameter(torch.ones(1))],
                                      lr=0.1).state_dict()), path)


def test_mmengine_loader_reads_its_checkpoint_weights_only(tmp_path):
    path = tmp_path / 'ckpt.pth'
    _checkpoint_like_mmengine(path)
    checkpoint = _load_checkpoint(str(path), map_location='cpu')
    buffer = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == pytest.approx(1.0)
    assert checkpoint['meta']['dataset_meta']['classes'] == ('a', 'b')


class _Exploit:

    def __reduce__(self):
        # getattr(HistoryBuffer, '__init__') would be the first step of an
        # escape through function globals.
        return getattr, (HistoryBuffer, '__init__')


class _Foreign:

    def __reduce__(self):
        return print, ('ran',)


@pytest.mark.parametrize('payload, message', [
    (_Exploit(), 'only HistoryBuffer statistics'),
    (_Foreign(), 'GLOBAL print was not an allowed global'),
])
def test_weights_only_still_refuses_other_objects(payload, message):
    buffer = io.BytesIO()
    torch.save({'x': payload}, buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError, match=message):
        torch.load(buffer)
