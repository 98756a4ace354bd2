# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The embedded demo (``tools/demo.py``): synthetic data, runs, report.

Importing this package registers the transform that loads the demo
dataset's instance maps; the rest (data generation, training, figures)
lives in the submodules and is imported by ``tools/demo.py``.
"""
from .transforms import LoadDemoInstanceMap, demo_instance_path

__all__ = ['LoadDemoInstanceMap', 'demo_instance_path']
