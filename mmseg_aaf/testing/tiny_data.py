# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""A miniature on-disk segmentation dataset for tests of whole runs."""
from pathlib import Path
from typing import Sequence, Tuple

import numpy as np
from PIL import Image


def write_tiny_segmentation_dataset(root,
                                    num_classes: int = 4,
                                    splits: Sequence[Tuple[str, int]] = (
                                        ('train', 4), ('val', 2)),
                                    size: Tuple[int, int] = (64, 64),
                                    seed: int = 0) -> Path:
    """Write ``img_dir/<split>/*.png`` and ``ann_dir/<split>/*.png``.

    Each image holds a few axis-aligned rectangles of random classes on a
    background of class 0; the colour of a class is fixed plus noise, so a
    network can learn it in a few iterations. Labels are uint8 class ids.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    height, width = size
    colours = rng.integers(0, 256, size=(num_classes, 3))
    for split, count in splits:
        (root / 'img_dir' / split).mkdir(parents=True, exist_ok=True)
        (root / 'ann_dir' / split).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            label = np.zeros((height, width), np.uint8)
            for _ in range(3):
                y0, x0 = rng.integers(0, height - 8), rng.integers(0, width - 8)
                h, w = rng.integers(6, height // 2), rng.integers(6, width // 2)
                label[y0:y0 + h, x0:x0 + w] = rng.integers(1, num_classes)
            image = colours[label] + rng.normal(0, 20, (height, width, 3))
            image = np.clip(image, 0, 255).astype(np.uint8)
            name = f'{split}_{index:03d}.png'
            Image.fromarray(image).save(root / 'img_dir' / split / name)
            Image.fromarray(label).save(root / 'ann_dir' / split / name)
    return root
