# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The demo's synthetic dataset: layout, determinism, thin structures."""
import json

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from mmseg_aaf.comparison.synthetic import (CLASSES, MARKER, THIN_CLASSES,
                                            generate_sample, write_dataset)

SUBDIRS = ('img_dir', 'ann_dir', 'inst_dir')


def _files(root):
    return sorted(p.relative_to(root) for p in root.rglob('*.png'))


def _read(path):
    return np.asarray(Image.open(path))


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic') / 'data'
    info = write_dataset(root, num_train=6, num_val=4, size=96, seed=0)
    return root, info


def test_layout_and_dtypes(dataset):
    root, info = dataset
    for sub in SUBDIRS:
        assert len(list((root / sub / 'train').glob('*.png'))) == 6
        assert len(list((root / sub / 'val').glob('*.png'))) == 4
    assert json.loads((root / MARKER).read_text()) == info
    assert sorted(info['thin_first']['val']) == [
        f'val_{i:04d}.png' for i in range(4)
    ]
    image = _read(root / 'img_dir' / 'val' / 'val_0000.png')
    label = _read(root / 'ann_dir' / 'val' / 'val_0000.png')
    instances = _read(root / 'inst_dir' / 'val' / 'val_0000.png')
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8
    assert label.shape == instances.shape == (96, 96)
    assert label.dtype == instances.dtype == np.uint8
    assert label.max() < len(CLASSES)


def test_same_seed_same_bytes_other_seed_other_data(dataset, tmp_path):
    root, _ = dataset
    again = tmp_path / 'again'
    write_dataset(again, num_train=6, num_val=4, size=96, seed=0)
    assert _files(root) == _files(again)
    for name in _files(root):
        assert (root / name).read_bytes() == (again / name).read_bytes()
    other = tmp_path / 'other'
    write_dataset(other, num_train=6, num_val=4, size=96, seed=1)
    assert (root / 'img_dir/train/train_0000.png').read_bytes() != (
        other / 'img_dir/train/train_0000.png').read_bytes()


def test_smaller_dataset_is_a_prefix(dataset, tmp_path):
    root, _ = dataset
    small = tmp_path / 'small'
    write_dataset(small, num_train=2, num_val=1, size=96, seed=0)
    for name in _files(small):
        assert (small / name).read_bytes() == (root / name).read_bytes()


def test_rewrites_its_own_folder_but_refuses_others(tmp_path):
    root = tmp_path / 'data'
    write_dataset(root, num_train=3, num_val=1, seed=0)
    write_dataset(root, num_train=1, num_val=1, seed=0)
    assert len(list((root / 'img_dir' / 'train').glob('*.png'))) == 1
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'precious.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='not a dataset'):
        write_dataset(foreign, num_train=1, num_val=1)
    assert (foreign / 'precious.txt').read_text() == 'keep me'


def _max_width(component: np.ndarray) -> float:
    """Twice the largest inscribed radius of a component, in pixels."""
    return 2 * ndimage.distance_transform_edt(
        np.pad(component, 1)).max() - 1


def test_draws_thin_structures(dataset):
    root, _ = dataset
    widths = []
    for path in sorted((root / 'ann_dir').rglob('*.png')):
        label = _read(path)
        for cls in THIN_CLASSES:
            components, count = ndimage.label(
                label == cls, structure=np.ones((3, 3)))
            for index in range(1, count + 1):
                component = components == index
                if component.sum() >= 30:  # a structure, not a fragment
                    widths.append(_max_width(component))
    assert widths
    # Many long components are at most 3 px wide (wires, poles, spokes).
    assert sum(width <= 3 for width in widths) >= 5
    assert min(widths) <= 1


def test_instance_maps_match_the_class_maps():
    rng = np.random.default_rng(3)
    touching = 0
    for _ in range(8):
        _, label, instances = generate_sample(rng, 96)
        ids = np.unique(instances[instances > 0])
        # Consecutive ids, each instance of one class, background none.
        assert ids.tolist() == list(range(1, len(ids) + 1))
        assert np.array_equal(instances == 0, label == 0)
        for inst_id in ids:
            assert len(np.unique(label[instances == inst_id])) == 1
        # Distinct instances of one class that touch (4-neighbours).
        for a, b in ((instances[:, 1:], instances[:, :-1]),
                     (instances[1:], instances[:-1])):
            la = label[:, 1:] if a.shape[1] == 95 else label[1:]
            lb = label[:, :-1] if a.shape[1] == 95 else label[:-1]
            touching += np.count_nonzero((a != b) & (a > 0) & (b > 0) &
                                         (la == lb))
    assert touching > 0
