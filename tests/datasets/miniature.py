# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Miniature on-disk copies of the datasets, with their real layouts.

A handful of small images under the same directory structure and file
names as the real Cityscapes, PASCAL VOC 2012 (+ SBD aug) and GTA5, so that
the provided configs load them unchanged from ``data/<dataset>/``; CamVid
and DRIVE in their download layouts, for the converters.
"""
from pathlib import Path
from typing import Dict, Iterable, Sequence, Tuple

import numpy as np
from PIL import Image

SIZE = (64, 128)  # height, width


def random_label(rng: np.random.Generator, values: Sequence[int],
                 size: Tuple[int, int] = SIZE) -> np.ndarray:
    """Rectangles of values drawn from ``values`` on a ``values[0]`` field."""
    height, width = size
    label = np.full(size, values[0], np.uint8)
    for _ in range(4):
        y0, x0 = rng.integers(0, height - 8), rng.integers(0, width - 8)
        h, w = rng.integers(8, height // 2), rng.integers(8, width // 2)
        label[y0:y0 + h, x0:x0 + w] = rng.choice(values)
    return label


def image_for(label: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An RGB image whose colour follows the label, plus noise."""
    colours = rng.integers(0, 256, size=(256, 3))
    image = colours[label] + rng.normal(0, 10, label.shape + (3, ))
    return np.clip(image, 0, 255).astype(np.uint8)


def _save(array: np.ndarray, path: Path, **kwargs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)


def _palette_png(label: np.ndarray, path: Path, seed: int = 1) -> None:
    """Save label indices as a 'P' PNG whose palette is not the identity."""
    height, width = label.shape
    image = Image.frombytes('P', (width, height), label.tobytes())
    colours = np.random.default_rng(seed).integers(0, 256, (256, 3))
    image.putpalette(colours.astype(np.uint8).flatten().tolist())
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def write_cityscapes(root, seed: int = 0) -> Path:
    """``leftImg8bit/{train,val}/<city>/`` + ``gtFine/.../*labelTrainIds``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    frames = {
        'train': [('aachen', 0, 19), ('aachen', 1, 19)],
        'val': [('frankfurt', 0, 294)],
    }
    for split, items in frames.items():
        for city, seq, frame in items:
            stem = f'{city}_{seq:06d}_{frame:06d}'
            label = random_label(rng, [0, 1, 2, 8, 10, 11, 13, 255])
            _save(image_for(label, rng),
                  root / 'leftImg8bit' / split / city /
                  f'{stem}_leftImg8bit.png')
            _save(label, root / 'gtFine' / split / city /
                  f'{stem}_gtFine_labelTrainIds.png')
    return root


def write_voc12aug(root, seed: int = 0) -> Path:
    """``VOC2012``: JPEGImages, SegmentationClass (palette PNGs),
    SegmentationClassAug (grey PNGs, as mmseg's voc_aug.py writes them) and
    ``ImageSets/Segmentation/{train,val,aug}.txt``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    splits = {
        'train': ['2007_000032', '2007_000039'],
        'val': ['2007_000033'],
        'aug': ['2008_000002', '2008_000003'],
    }
    for split, ids in splits.items():
        for id_ in ids:
            label = random_label(rng, [0, 1, 5, 15, 20, 255])
            _save(image_for(label, rng), root / 'JPEGImages' / f'{id_}.jpg',
                  quality=95)
            if split == 'aug':
                _save(label, root / 'SegmentationClassAug' / f'{id_}.png')
            else:
                _palette_png(label, root / 'SegmentationClass' / f'{id_}.png')
                _save(label, root / 'SegmentationClassAug' / f'{id_}.png')
        lists = root / 'ImageSets' / 'Segmentation'
        lists.mkdir(parents=True, exist_ok=True)
        (lists / f'{split}.txt').write_text(''.join(f'{i}\n' for i in ids))
    return root


#: Cityscapes label ids as GTA5 labels hold them (7 road, 26 car, ...), with
#: ids without a train id (0 unlabeled, 1 ego vehicle, 34 and beyond).
GTA5_LABEL_IDS = [7, 8, 11, 21, 23, 24, 26, 0, 1, 4, 34]


def write_gta5(root,
               ids: Iterable[str] = ('00001', '00002'),
               labels: Iterable[str] = None,
               seed: int = 0,
               size: Tuple[int, int] = SIZE) -> Path:
    """``images/<id>.png`` and original ``labels/<id>.png`` palette PNGs of
    Cityscapes label ids (convert them with the GTA5 converter).

    ``labels`` lists the ids that get a label; by default all ``ids``.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    ids = list(ids)
    labels = ids if labels is None else list(labels)
    for id_ in sorted(set(ids) | set(labels)):
        label = random_label(rng, GTA5_LABEL_IDS, size)
        if id_ in ids:
            _save(image_for(label, rng), root / 'images' / f'{id_}.png')
        if id_ in labels:
            _palette_png(label, root / 'labels' / f'{id_}.png')
    return root


#: CamVid source ids: the 11 classes and void (11).
CAMVID_SOURCE_IDS = [3, 0, 1, 2, 5, 8, 9, 10, 11]


def write_camvid_segnet(root,
                        names: Dict[str, Sequence[str]] = None,
                        seed: int = 0,
                        size: Tuple[int, int] = (72, 96)) -> Path:
    """CamVid in the SegNet layout: ``<split>/<name>.png`` (RGB) and
    ``<split>annot/<name>.png`` (grey ids 0..10, void 11).

    By default two train and one val image; every label has void pixels.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    if names is None:
        names = {
            'train': ['0001TP_006690', '0001TP_006720'],
            'val': ['0016E5_07959'],
        }
    for split, split_names in names.items():
        for name in split_names:
            label = random_label(rng, CAMVID_SOURCE_IDS, size)
            label[:2, :] = 11  # void, as along CamVid's image borders
            _save(image_for(label, rng), root / split / f'{name}.png')
            _save(label, root / f'{split}annot' / f'{name}.png')
    return root


#: DRIVE's zips: (zip name, folder in it, file suffix of each image id).
DRIVE_SPLITS = {
    'training': ('training.zip', 'training', '_training'),
    'test': ('test.zip', 'test', '_test'),
}


def vessel_label(rng: np.random.Generator,
                 size: Tuple[int, int] = (60, 56)) -> np.ndarray:
    """0 / 255 map of a few straight vessels 1 to 4 pixels wide."""
    from PIL import ImageDraw
    height, width = size
    image = Image.new('L', (width, height), 0)
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        points = [(int(rng.integers(0, width)), int(rng.integers(0, height)))
                  for _ in range(3)]
        draw.line(points, fill=255, width=int(rng.integers(1, 5)))
    return np.asarray(image)


def write_drive_zips(root,
                     ids: Dict[str, Sequence[int]] = None,
                     seed: int = 0,
                     size: Tuple[int, int] = (60, 56)) -> Path:
    """``root/training.zip`` and ``root/test.zip`` in the layout of the
    official DRIVE download: ``<split>/images/NN_<split>.tif`` (RGB),
    ``<split>/1st_manual/NN_manual1.gif`` (255 = vessel),
    ``<split>/mask/NN_<split>_mask.gif`` (field of view) and, for test,
    ``test/2nd_manual/NN_manual2.gif``. By default 3 training images
    (21-23) and 2 test images (01-02)."""
    import io
    import zipfile
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = ids or {'training': (21, 22, 23), 'test': (1, 2)}

    def encoded(array, fmt):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format=fmt)
        return buffer.getvalue()

    for split, numbers in ids.items():
        zip_name, folder, suffix = DRIVE_SPLITS[split]
        with zipfile.ZipFile(root / zip_name, 'w') as archive:
            for number in numbers:
                label = vessel_label(rng, size)
                yy, xx = np.mgrid[:size[0], :size[1]]
                fov = ((yy - size[0] / 2)**2 + (xx - size[1] / 2)**2 <=
                       (min(size) / 2)**2).astype(np.uint8) * 255
                stem = f'{number:02d}'
                archive.writestr(f'{folder}/images/{stem}{suffix}.tif',
                                 encoded(image_for(label, rng), 'TIFF'))
                archive.writestr(f'{folder}/1st_manual/{stem}_manual1.gif',
                                 encoded(label, 'GIF'))
                archive.writestr(f'{folder}/mask/{stem}{suffix}_mask.gif',
                                 encoded(fov, 'GIF'))
                if split == 'test':
                    second = np.roll(label, 1, axis=1)
                    archive.writestr(
                        f'{folder}/2nd_manual/{stem}_manual2.gif',
                        encoded(second, 'GIF'))
    return root
