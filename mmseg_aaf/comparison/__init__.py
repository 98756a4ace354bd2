# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Comparing methods trained and tested alike: the synthetic demo (CE,
+ affinity, + AAF; ``tools/demo.py``) and ``mmseg-aaf-compare``, which
derives methods from any mmseg config and compares them over seeds
(:mod:`.study`, :mod:`.methods`, :mod:`.records`, :mod:`.study_report`).

Importing this package registers the transform that loads the synthetic
dataset's instance maps; the rest lives in the submodules and is imported
by the commands.
"""
from .transforms import LoadDemoInstanceMap, demo_instance_path

__all__ = ['LoadDemoInstanceMap', 'demo_instance_path']
