# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Loading of the demo dataset's instance maps.

``InstanceIoUMetric`` reads ``data_sample.gt_instance_seg``. The demo
dataset keeps its instance maps next to the class maps, in ``inst_dir``
instead of ``ann_dir``, as single-channel PNGs with 0 = no instance::

    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='LoadDemoInstanceMap'),
        dict(type='PackSegInputsWithInstances'),
    ]
"""
from pathlib import PurePath
from typing import Optional

from mmseg.registry import TRANSFORMS

from ..datasets.transforms import LoadInstanceAnnotations


def demo_instance_path(seg_map_path: str, ann_dir: str = 'ann_dir',
                       inst_dir: str = 'inst_dir') -> str:
    """``.../ann_dir/<split>/x.png`` -> ``.../inst_dir/<split>/x.png``.

    The last directory named ``ann_dir`` is replaced, so a data root that
    happens to contain that name is left alone.
    """
    parts = list(PurePath(seg_map_path).parts)
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] == ann_dir:
            parts[index] = inst_dir
            return str(PurePath(*parts))
    raise ValueError(f'cannot derive an instance path from {seg_map_path!r}:'
                     f' no directory named {ann_dir!r}')


@TRANSFORMS.register_module()
class LoadDemoInstanceMap(LoadInstanceAnnotations):
    """``LoadInstanceAnnotations`` for the demo's ``inst_dir`` layout.

    The maps are decoded like VOC's ``SegmentationObject`` (0 and 255 are
    no instance, the others renumbered ``1..K``); the generator never
    writes 255.

    Args:
        ann_dir (str): Directory name of the class maps. Default: 'ann_dir'.
        inst_dir (str): Directory name of the instance maps.
            Default: 'inst_dir'.
        backend_args (dict, optional): File backend arguments.
    """

    def __init__(self,
                 ann_dir: str = 'ann_dir',
                 inst_dir: str = 'inst_dir',
                 backend_args: Optional[dict] = None):
        super().__init__(format='voc', backend_args=backend_args)
        self.ann_dir = ann_dir
        self.inst_dir = inst_dir

    def instance_path(self, results: dict) -> str:
        if results.get('instance_map_path'):
            return results['instance_map_path']
        if not results.get('seg_map_path'):
            raise KeyError("LoadDemoInstanceMap needs results['seg_map_path']"
                           " or results['instance_map_path']")
        return demo_instance_path(results['seg_map_path'], self.ann_dir,
                                  self.inst_dir)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(ann_dir={self.ann_dir!r}, '
                f'inst_dir={self.inst_dir!r}, '
                f'backend_args={self.backend_args})')
