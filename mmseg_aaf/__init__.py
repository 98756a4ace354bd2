# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Adaptive Affinity Fields for MMSegmentation 1.x.

Importing the package (``custom_imports=dict(imports=['mmseg_aaf'])``)
registers the losses, the adversarial optimizer wrappers, the hooks, the
GTA5 and CamVid datasets and the metrics, and lets mmengine load its own
checkpoints under the weights-only ``torch.load`` of torch >= 2.6.
"""
from .utils import allow_mmengine_checkpoints
from .version import __version__

allow_mmengine_checkpoints()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__']
