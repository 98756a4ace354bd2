# Copyright (c) mmseg_aaf contributors. All rights reserved.
import re

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from PIL import Image

import mmseg_aaf  # noqa: F401
from mmseg_aaf.datasets import CamVidDataset
from mmseg_aaf.datasets.camvid_conversion import convert_camvid
from tests.conftest import REPO_ROOT
from tests.datasets.miniature import write_camvid_segnet


@pytest.fixture(scope='module')
def camvid(tmp_path_factory):
    """A miniature CamVid converted from the SegNet layout."""
    root = tmp_path_factory.mktemp('camvid')
    segnet = write_camvid_segnet(root / 'segnet')
    report = convert_camvid(str(segnet), str(root / 'data'))
    assert not report.failed(), report.lines()
    return root / 'data'


def build(root, split='val', **kwargs):
    init_default_scope('mmseg')
    return DATASETS.build(
        dict(
            type='CamVidDataset',
            data_root=str(root),
            data_prefix=dict(
                img_path=f'img_dir/{split}', seg_map_path=f'ann_dir/{split}'),
            **kwargs))


def test_metainfo_is_camvids_eleven_classes():
    classes = CamVidDataset.METAINFO['classes']
    assert classes == ('sky', 'building', 'pole', 'road', 'pavement', 'tree',
                       'signsymbol', 'fence', 'car', 'pedestrian',
                       'bicyclist')
    palette = CamVidDataset.METAINFO['palette']
    assert len(palette) == 11 and len({tuple(c) for c in palette}) == 11
    assert palette[classes.index('road')] == [128, 64, 128]


def test_loads_converted_pairs_with_void_ignored(camvid):
    dataset = build(camvid, split='train', pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations')
    ])
    assert len(dataset) == 2
    sample = dataset[0]
    label = sample['gt_seg_map']
    assert sample['img'].shape[:2] == label.shape == (72, 96)
    assert set(np.unique(label)) <= set(range(11)) | {255}
    assert (label[:2] == 255).all()
    assert not sample['reduce_zero_label']


def test_missing_annotation_is_named(camvid, tmp_path):
    import shutil
    root = tmp_path / 'data'
    shutil.copytree(camvid, root)
    (root / 'ann_dir' / 'train' / '0001TP_006720.png').unlink()
    with pytest.raises(FileNotFoundError, match='0001TP_006720.png'):
        build(root, split='train')


def test_annotation_of_another_size_is_named(camvid, tmp_path):
    import shutil
    root = tmp_path / 'data'
    shutil.copytree(camvid, root)
    label = root / 'ann_dir' / 'train' / '0001TP_006720.png'
    Image.new('L', (48, 36)).save(label)
    with pytest.raises(ValueError, match=(
            rf'CamVidDataset: 1 label map\(s\) differ in size from their '
            rf'image: {label} is 48x36, its image .*0001TP_006720.png 96x72')):
        build(root, split='train')
    build(root, split='val')  # the other split is fine


def test_unconverted_root_says_how_to_convert(tmp_path):
    with pytest.raises(FileNotFoundError, match='camvid.py'):
        build(tmp_path)


def test_split_is_chosen_by_data_prefix(camvid):
    """The base config's test loader reads val; --cfg-options can point
    it at another split the same way."""
    cfg = Config.fromfile(
        str(REPO_ROOT / 'configs' / '_base_' / 'datasets' / 'camvid.py'))
    cfg.merge_from_dict({
        'test_dataloader.dataset.data_prefix.img_path': 'img_dir/train',
        'test_dataloader.dataset.data_prefix.seg_map_path': 'ann_dir/train',
        'test_dataloader.dataset.data_root': str(camvid),
    })
    init_default_scope('mmseg')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(dataset) == 2
    assert all('/img_dir/train/' in info['img_path']
               for info in dataset.load_data_list())


@pytest.mark.parametrize('size', [(96, 36), (48, 72)],
                         ids=['height-only', 'width-only'])
def test_annotation_differing_in_one_side_is_named(camvid, tmp_path, size):
    """A label of the image's width but another height (or the reverse)
    is refused as well, by name."""
    import shutil
    root = tmp_path / 'data'
    shutil.copytree(camvid, root)
    label = root / 'ann_dir' / 'train' / '0001TP_006720.png'
    Image.new('L', size).save(label)
    width, height = size
    name = re.escape(str(label))
    with pytest.raises(ValueError, match=(
            rf'CamVidDataset: 1 label map\(s\) differ in size from their '
            rf'image: {name} is {width}x{height}, its image '
            r'.*0001TP_006720.png 96x72')):
        build(root, split='train')


@pytest.mark.parametrize('content', [
    b'not a png at all',
    b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIH',  # header cut inside IHDR
], ids=['garbage', 'truncated-header'])
def test_annotation_with_an_unreadable_header_is_named(camvid, tmp_path,
                                                      content):
    import shutil
    root = tmp_path / 'data'
    shutil.copytree(camvid, root)
    label = root / 'ann_dir' / 'train' / '0001TP_006720.png'
    label.write_bytes(content)
    name = re.escape(str(label))
    with pytest.raises(ValueError, match=(
            rf'CamVidDataset: 1 file\(s\) cannot be read: {name} \(')):
        build(root, split='train')
