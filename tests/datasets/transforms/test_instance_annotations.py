# Copyright (c) mmseg_aaf contributors. All rights reserved.
import re

import numpy as np
import pytest
from mmseg.registry import TRANSFORMS
from PIL import Image

import mmseg_aaf  # noqa: F401
from mmseg_aaf.datasets.transforms.instance_annotations import (
    cityscapes_instance_path, voc_instance_path)


def write_voc_object_png(path, indices: np.ndarray) -> None:
    image = Image.fromarray(indices.astype(np.uint8), mode='P')
    palette = np.zeros((256, 3), np.uint8)
    palette[1:4] = [[128, 0, 0], [0, 128, 0], [128, 128, 0]]
    palette[255] = [224, 224, 192]
    image.putpalette(palette.reshape(-1).tolist())
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def test_paths_are_derived_from_the_semantic_map():
    assert voc_instance_path('/d/VOC2012/SegmentationClassAug/x.png') == (
        '/d/VOC2012/SegmentationObject/x.png')
    assert voc_instance_path('/d/VOC2012/SegmentationClass/x.png') == (
        '/d/VOC2012/SegmentationObject/x.png')
    assert cityscapes_instance_path(
        'gtFine/val/a/a_1_2_gtFine_labelTrainIds.png') == (
            'gtFine/val/a/a_1_2_gtFine_instanceIds.png')
    with pytest.raises(ValueError, match='SegmentationClass'):
        voc_instance_path('/d/masks/x.png')
    with pytest.raises(ValueError, match='labelTrainIds'):
        cityscapes_instance_path('gtFine/val/a/a_gtFine_labelIds.png')


def test_load_voc_instances_and_pack(tmp_path):
    raw = np.zeros((4, 6), np.uint8)
    raw[0, :2] = 3
    raw[2:, 3:] = 1
    raw[1, :] = 255  # void boundary: no instance
    seg_map = tmp_path / 'VOC2012' / 'SegmentationClass' / 'a.png'
    write_voc_object_png(tmp_path / 'VOC2012' / 'SegmentationObject' /
                         'a.png', raw)
    load = TRANSFORMS.build(dict(type='LoadInstanceAnnotations',
                                 format='voc'))
    results = load(dict(seg_map_path=str(seg_map), seg_fields=[]))
    expected = np.zeros((4, 6), np.int32)
    expected[0, :2] = 2  # ids renumbered in order: 1 -> 1, 3 -> 2
    expected[2:, 3:] = 1
    np.testing.assert_array_equal(results['gt_instance_seg'], expected)
    assert 'gt_instance_seg' in results['seg_fields']

    results['img'] = np.zeros((4, 6, 3), np.uint8)
    results['gt_seg_map'] = np.zeros((4, 6), np.uint8)
    pack = TRANSFORMS.build(dict(type='PackSegInputsWithInstances'))
    data_sample = pack(results)['data_samples']
    packed = data_sample.gt_instance_seg.data
    assert packed.shape == (1, 4, 6)
    np.testing.assert_array_equal(packed[0].numpy(), expected)
    # The evaluator hands metrics dicts; the instance map survives that.
    assert tuple(data_sample.to_dict()['gt_instance_seg']['data'].shape) == (
        1, 4, 6)


def test_load_cityscapes_instances(tmp_path):
    raw = np.full((3, 4), 7, np.uint16)  # road: stuff, no instance
    raw[0, 0] = 26001
    raw[1, 1:3] = 24000
    raw[2, 3] = 26  # car crowd region, no instance id
    path = tmp_path / 'a_000000_000019_gtFine_instanceIds.png'
    Image.fromarray(raw).save(path)
    load = TRANSFORMS.build(dict(type='LoadInstanceAnnotations',
                                 format='cityscapes'))
    results = load(dict(seg_map_path=str(path).replace(
        'instanceIds', 'labelTrainIds')))
    expected = np.zeros((3, 4), np.int32)
    expected[1, 1:3] = 1
    expected[0, 0] = 2
    np.testing.assert_array_equal(results['gt_instance_seg'], expected)
    assert results['instance_map_path'] == str(path)


def test_missing_instance_file_names_the_path(tmp_path):
    seg_map = tmp_path / 'SegmentationClassAug' / 'b.png'
    load = TRANSFORMS.build(dict(type='LoadInstanceAnnotations',
                                 format='voc'))
    expected = str(tmp_path / 'SegmentationObject' / 'b.png')
    with pytest.raises(FileNotFoundError, match=re.escape(expected)):
        load(dict(seg_map_path=str(seg_map)))


def test_explicit_path_and_bad_format(tmp_path):
    path = tmp_path / 'objects.png'
    write_voc_object_png(path, np.ones((2, 2), np.uint8))
    load = TRANSFORMS.build(dict(type='LoadInstanceAnnotations',
                                 format='voc'))
    results = load(dict(instance_map_path=str(path),
                        gt_seg_map=np.zeros((2, 2), np.uint8)))
    assert results['gt_instance_seg'].tolist() == [[1, 1], [1, 1]]
    with pytest.raises(ValueError, match='instance map'):
        load(dict(instance_map_path=str(path),
                  gt_seg_map=np.zeros((3, 2), np.uint8)))
    with pytest.raises(ValueError, match='format'):
        TRANSFORMS.build(dict(type='LoadInstanceAnnotations', format='coco'))
