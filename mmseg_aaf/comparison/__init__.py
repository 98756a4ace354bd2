# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The method-comparison runners: CE, + affinity and + AAF trained and
tested alike, on the synthetic demo data (``tools/demo.py``) or on CamVid
(``tools/camvid_comparison.py``); and the structure-aware losses (Lovász,
Dice, affinity, AAF) on two CamVid models (``tools/compare_losses.py``).

Importing this package registers the transform that loads the synthetic
dataset's instance maps; the rest (data generation, training, tables and
figures) lives in the submodules and is imported by the tools.
"""
from .transforms import LoadDemoInstanceMap, demo_instance_path

__all__ = ['LoadDemoInstanceMap', 'demo_instance_path']
