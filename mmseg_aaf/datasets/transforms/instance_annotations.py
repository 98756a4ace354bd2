# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Loading and packing of ground-truth instance maps for instance metrics.

An instance map is an ``(H, W)`` int32 array of per-image instance ids:
0 is "no instance", the instances are numbered ``1..K`` in the order of
their ids in the source file.
"""
import io
from pathlib import PurePath
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform, to_tensor
from mmengine import fileio
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS
from PIL import Image

#: Directories of VOC class masks that sit beside ``SegmentationObject``.
VOC_CLASS_DIRS = ('SegmentationClassAug', 'SegmentationClass')
CITYSCAPES_SEMANTIC_SUFFIX = '_gtFine_labelTrainIds.png'
CITYSCAPES_INSTANCE_SUFFIX = '_gtFine_instanceIds.png'


def voc_instance_path(seg_map_path: str) -> str:
    """The VOC instance map beside a class map.

    ``.../SegmentationClass[Aug]/x.png`` -> ``.../SegmentationObject/x.png``

    Raises:
        ValueError: No directory of the path is a VOC class-mask directory.
    """
    parts = list(PurePath(seg_map_path).parts)
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] in VOC_CLASS_DIRS:
            parts[index] = 'SegmentationObject'
            return str(PurePath(*parts))
    raise ValueError(
        f'cannot derive a VOC instance path from {seg_map_path!r}: no '
        f'directory named one of {VOC_CLASS_DIRS}; set '
        "results['instance_map_path']")


def cityscapes_instance_path(seg_map_path: str) -> str:
    """``*_gtFine_labelTrainIds.png`` -> ``*_gtFine_instanceIds.png``."""
    if not seg_map_path.endswith(CITYSCAPES_SEMANTIC_SUFFIX):
        raise ValueError(
            f'cannot derive a Cityscapes instance path from '
            f'{seg_map_path!r}: it does not end with '
            f'{CITYSCAPES_SEMANTIC_SUFFIX!r}; set '
            "results['instance_map_path']")
    return (seg_map_path[:-len(CITYSCAPES_SEMANTIC_SUFFIX)] +
            CITYSCAPES_INSTANCE_SUFFIX)


def consecutive_instance_ids(instance_mask: np.ndarray,
                             source_ids: np.ndarray) -> np.ndarray:
    """Renumber the ids under ``instance_mask`` to ``1..K``, 0 elsewhere."""
    instances = np.zeros(source_ids.shape, dtype=np.int32)
    _, inverse = np.unique(source_ids[instance_mask], return_inverse=True)
    instances[instance_mask] = inverse.reshape(-1) + 1
    return instances


def decode_voc_instances(raw: np.ndarray) -> np.ndarray:
    """VOC ``SegmentationObject`` indices: 0 background, 255 void -> 0."""
    return consecutive_instance_ids((raw != 0) & (raw != 255), raw)


def decode_cityscapes_instances(raw: np.ndarray) -> np.ndarray:
    """Cityscapes ``instanceIds``: ids >= 1000 (class * 1000 + k) are
    instances; smaller ids are stuff or crowd regions, i.e. no instance."""
    return consecutive_instance_ids(raw >= 1000, raw)


@TRANSFORMS.register_module()
class LoadInstanceAnnotations(BaseTransform):
    """Load a ground-truth instance map as ``results['gt_instance_seg']``.

    The file is ``results['instance_map_path']`` when a dataset provides
    it, else derived from ``results['seg_map_path']``:

    * ``format='voc'``: the ``SegmentationClass`` or
      ``SegmentationClassAug`` directory becomes ``SegmentationObject``
      (palette PNG: 0 background, 255 void boundary, both read as no
      instance). Images of the augmented set have no such file.
    * ``format='cityscapes'``: ``_gtFine_labelTrainIds.png`` becomes
      ``_gtFine_instanceIds.png`` (ids >= 1000 are instances).

    Ids are renumbered ``1..K`` per image (int32, 0 = no instance), and
    ``gt_instance_seg`` joins ``results['seg_fields']`` so geometric
    transforms treat it like the semantic map (nearest interpolation).

    Added keys: ``gt_instance_seg``, ``instance_map_path``.

    Args:
        format (str): 'voc' or 'cityscapes'.
        backend_args (dict, optional): File backend arguments.
    """

    FORMATS = dict(
        voc=(voc_instance_path, decode_voc_instances),
        cityscapes=(cityscapes_instance_path, decode_cityscapes_instances))

    def __init__(self, format: str, backend_args: Optional[dict] = None):
        if format not in self.FORMATS:
            raise ValueError(f'format must be one of {sorted(self.FORMATS)}, '
                             f'got {format!r}')
        self.format = format
        self.backend_args = backend_args.copy() if backend_args else None

    def instance_path(self, results: dict) -> str:
        if results.get('instance_map_path'):
            return results['instance_map_path']
        if not results.get('seg_map_path'):
            raise KeyError(
                'LoadInstanceAnnotations needs results[\'seg_map_path\'] or '
                "results['instance_map_path']")
        return self.FORMATS[self.format][0](results['seg_map_path'])

    def transform(self, results: dict) -> dict:
        path = self.instance_path(results)
        if not fileio.exists(path, backend_args=self.backend_args):
            raise FileNotFoundError(
                f'instance annotation not found: {path} (format='
                f'{self.format!r})')
        with Image.open(io.BytesIO(fileio.get(
                path, backend_args=self.backend_args))) as image:
            # VOC palette PNGs give their indices, Cityscapes 16-bit PNGs
            # their ids; never convert, which would map indices to colours.
            raw = np.array(image)
        if raw.ndim != 2:
            raise ValueError(f'{path} is not a single-channel instance map '
                             f'(shape {raw.shape})')
        instances = self.FORMATS[self.format][1](raw.astype(np.int64))
        gt_seg = results.get('gt_seg_map')
        if gt_seg is not None and gt_seg.shape[:2] != instances.shape:
            raise ValueError(
                f'instance map {path} is {instances.shape} but the semantic '
                f'map is {gt_seg.shape[:2]}')
        results['gt_instance_seg'] = instances
        results['instance_map_path'] = path
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_instance_seg' not in seg_fields:
            seg_fields.append('gt_instance_seg')
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(format={self.format!r}, '
                f'backend_args={self.backend_args})')


@TRANSFORMS.register_module()
class PackSegInputsWithInstances(PackSegInputs):
    """``PackSegInputs`` that also packs ``gt_instance_seg``.

    Sets ``data_sample.gt_instance_seg = PixelData(data=...)`` with an
    int64 ``(1, H, W)`` tensor when the results hold ``gt_instance_seg``;
    otherwise it behaves exactly like ``PackSegInputs``.
    """

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if 'gt_instance_seg' in results:
            instances = np.asarray(results['gt_instance_seg'])
            if instances.ndim != 2:
                raise ValueError('gt_instance_seg must be (H, W), got shape '
                                 f'{instances.shape}')
            packed['data_samples'].gt_instance_seg = PixelData(
                data=to_tensor(instances[None].astype(np.int64)))
        return packed
