# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Comparing methods trained and tested alike: ``mmseg-aaf-compare``,
which derives methods from any mmseg config and compares them over seeds
(:mod:`.study`, :mod:`.methods`, :mod:`.training`, :mod:`.executors`,
:mod:`.slurm`, :mod:`.records`, :mod:`.study_report`), and the synthetic
demo (CE, + affinity, + AAF; ``tools/demo.py``, :mod:`.demo`), a study of
the same engine.

Importing this package registers the transform that loads the synthetic
dataset's instance maps; the rest lives in the submodules and is imported
by the commands.
"""
from .transforms import LoadDemoInstanceMap, demo_instance_path

__all__ = ['LoadDemoInstanceMap', 'demo_instance_path']
