# Copyright (c) mmseg_aaf contributors. All rights reserved.
import re

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS
from PIL import Image

import mmseg_aaf  # noqa: F401
from mmseg_aaf.datasets import GTA5Dataset
from mmseg_aaf.datasets import gta5 as gta5_module
from mmseg_aaf.datasets.gta5_conversion import (LABEL_ID_TO_TRAIN_ID,
                                                convert_gta5)
from tests.datasets.miniature import write_gta5


@pytest.fixture
def logs(monkeypatch):
    """Messages the dataset logs, as (level, text)."""
    messages = []

    def record(msg, logger=None, level=20):
        messages.append((level, msg))

    monkeypatch.setattr(gta5_module, 'print_log', record)
    return messages


def build(root, **kwargs):
    init_default_scope('mmseg')
    return DATASETS.build(
        dict(
            type='GTA5Dataset',
            data_root=str(root),
            data_prefix=dict(img_path='images', seg_map_path='labels'),
            **kwargs))


def converted(root, ids, labels=None):
    write_gta5(root, ids=ids, labels=labels)
    convert_gta5(str(root))
    return root


def test_registered_with_cityscapes_classes_and_palette():
    assert DATASETS.get('GTA5Dataset') is GTA5Dataset
    meta = CityscapesDataset.METAINFO
    assert GTA5Dataset.METAINFO['classes'] == meta['classes']
    assert GTA5Dataset.METAINFO['palette'] == meta['palette']


def test_split_with_an_image_without_label(tmp_path, logs):
    root = converted(tmp_path, ids=['00001', '00002', '00003'],
                     labels=['00001', '00003'])
    # A split naming an id whose label is missing, e.g. written by hand.
    (root / 'part1.txt').write_text('00001\n00002\n00003\n')
    dataset = build(root, ann_file='part1.txt')
    assert len(dataset) == 2
    paths = [dataset.get_data_info(i)['seg_map_path'] for i in range(2)]
    assert [p.split('/')[-1] for p in paths] == [
        '00001_labelTrainIds.png', '00003_labelTrainIds.png'
    ]
    texts = [text for _, text in logs]
    assert any('found 2 image/label pairs' in t for t in texts), texts
    [warning] = [(lvl, t) for lvl, t in logs if lvl >= 30]
    assert 'left out 1 image(s) without a label' in warning[1]
    assert '00002' in warning[1]


def test_split_with_a_label_without_image(tmp_path, logs):
    root = converted(tmp_path, ids=['00001'], labels=['00001', '00002'])
    (root / 'part1.txt').write_text('00001\n00002\n')
    dataset = build(root, ann_file='part1.txt')
    assert len(dataset) == 1
    warnings = [t for lvl, t in logs if lvl >= 30]
    assert len(warnings) == 1 and 'label(s) without an image' in warnings[0]
    assert '00002' in warnings[0]


def test_directory_scan_reports_both_kinds(tmp_path, logs):
    root = converted(tmp_path, ids=['00001', '00002', '00003'],
                     labels=['00001', '00003', '00004'])
    dataset = build(root)
    assert len(dataset) == 2
    texts = ' | '.join(t for _, t in logs)
    assert 'found 2 image/label pairs' in texts
    assert 'without a label' in texts and '00002' in texts
    assert 'without an image' in texts and '00004' in texts


def test_many_missing_labels_are_abbreviated(tmp_path, logs):
    ids = [f'{i:05d}' for i in range(1, 10)]
    root = converted(tmp_path, ids=ids, labels=ids[:1])
    build(root)
    [warning] = [t for lvl, t in logs if lvl >= 30]
    assert 'left out 8 image(s)' in warning and '(3 more)' in warning


def test_sample_holds_train_ids(tmp_path):
    root = converted(tmp_path, ids=['00001'])
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    sample = build(root, pipeline=pipeline)[0]
    with Image.open(root / 'labels' / '00001.png') as label:
        expected = LABEL_ID_TO_TRAIN_ID[np.array(label)]
    np.testing.assert_array_equal(sample['gt_seg_map'], expected)
    assert sample['img'].shape[:2] == expected.shape


def test_label_of_another_size_is_named(tmp_path):
    """It would otherwise pass training and fail in validation, inside
    IoUMetric, with shapes but no file name."""
    root = converted(tmp_path, ids=['00001', '00002', '00003'])
    Image.new('L', (20, 10)).save(root / 'labels' / '00002_labelTrainIds.png')
    with pytest.raises(ValueError) as error:
        build(root, ann_file='part1.txt')
    assert str(error.value) == (
        f'GTA5Dataset: 1 label map(s) differ in size from their image: '
        f'{root}/labels/00002_labelTrainIds.png is 20x10, its image '
        f'{root}/images/00002.png 128x64')
    (root / 'images' / '00003.png').write_bytes(b'not a png')
    with pytest.raises(ValueError, match=r'1 file\(s\) cannot be read: '
                       rf'{root}/images/00003.png'):
        build(root)


def test_no_pairs_is_an_error(tmp_path):
    write_gta5(tmp_path, ids=['00001'])  # labels not converted
    with pytest.raises(FileNotFoundError, match='dataset_converters/gta5'):
        build(tmp_path)


def test_missing_split_file_is_an_error(tmp_path):
    converted(tmp_path, ids=['00001'])
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        build(tmp_path, ann_file='nope.txt')


@pytest.mark.parametrize('size', [(128, 10), (20, 64)],
                         ids=['height-only', 'width-only'])
def test_label_differing_in_one_side_is_named(tmp_path, size):
    """Width equal but height not (or the reverse) is a mismatch too."""
    root = converted(tmp_path, ids=['00001', '00002'])
    label = root / 'labels' / '00002_labelTrainIds.png'
    Image.new('L', size).save(label)
    width, height = size
    with pytest.raises(ValueError) as error:
        build(root)
    assert str(error.value) == (
        f'GTA5Dataset: 1 label map(s) differ in size from their image: '
        f'{label} is {width}x{height}, its image '
        f'{root}/images/00002.png 128x64')


@pytest.mark.parametrize('content', [
    b'not a png at all',
    b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIH',  # header cut inside IHDR
], ids=['garbage', 'truncated-header'])
def test_label_with_an_unreadable_header_is_named(tmp_path, content):
    root = converted(tmp_path, ids=['00001', '00002'])
    label = root / 'labels' / '00002_labelTrainIds.png'
    label.write_bytes(content)
    name = re.escape(str(label))
    with pytest.raises(ValueError, match=(
            rf'^GTA5Dataset: 1 file\(s\) cannot be read: {name} \(')):
        build(root)
