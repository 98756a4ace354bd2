# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""A seeded synthetic dataset of thin and touching objects.

Every image shows, on a textured and noisy background, objects of five
classes chosen for what affinity fields are meant to fix:

* ``wheel``: a thin ring (2-3 px) with 1-2 px spokes, background between
  the spokes;
* ``pole``: near-vertical bars 2-3 px wide, some with a thin crossbar;
* ``wire``: long, slightly curved lines 1-2 px wide, drawn over everything;
* ``crate``: rows of rectangles that touch each other (one instance each,
  one class region together);
* ``blob``: clusters of ellipses 1-3 px apart or overlapping.

The background carries unlabelled, low-contrast streaks that look like
faint wires. Colours of ``pole``/``wire`` and of ``crate``/``blob`` are
close, so shape matters as well as colour.

Layout written by :func:`write_dataset` (the layout of mmseg's
``BaseSegDataset``, plus instance maps)::

    root/img_dir/{train,val}/<split>_<index>.png   RGB uint8
    root/ann_dir/{train,val}/<split>_<index>.png   class ids, uint8
    root/inst_dir/{train,val}/<split>_<index>.png  instance ids, uint8
                                                   (0 = no instance)
    root/dataset.json                              what was generated

Image ``i`` of a split is drawn from its own generator seeded with
``(seed, split, i)``, so the files depend only on the seed and the size,
and a smaller dataset is a prefix of a larger one.
"""
import json
import shutil
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
from PIL import Image

CLASSES = ('background', 'wheel', 'pole', 'wire', 'crate', 'blob')
#: Display colours (RGB), also the palette of the dataset's metainfo.
PALETTE = ((40, 40, 40), (230, 25, 75), (255, 225, 25), (0, 200, 255),
           (60, 180, 75), (245, 130, 48))
#: Classes that are thin structures (used to pick qualitative examples).
THIN_CLASSES = (1, 2, 3)

# Mean colour of each object class (RGB). Pole/wire and crate/blob are
# deliberately close; per-instance jitter widens each class's range.
_CLASS_COLOURS = {
    1: (200, 60, 60),
    2: (70, 70, 150),
    3: (40, 40, 110),
    4: (170, 150, 60),
    5: (190, 140, 70),
}
_INSTANCE_JITTER = 25
_PIXEL_NOISE = 12.0
_SPLIT_IDS = dict(train=0, val=1)
MARKER = 'dataset.json'


class _Canvas:
    """Image, class and instance maps being drawn on, with pixel grids."""

    def __init__(self, rng: np.random.Generator, size: int):
        self.rng = rng
        self.size = size
        coords = np.arange(size, dtype=np.float64)
        self.yy, self.xx = np.meshgrid(coords, coords, indexing='ij')
        self.image = _background(rng, size, self.yy, self.xx)
        self.label = np.zeros((size, size), np.uint8)
        self.instances = np.zeros((size, size), np.int32)
        self.next_id = 1

    def paint(self, mask: np.ndarray, cls: int,
              colour: Optional[np.ndarray] = None) -> None:
        """Paint one instance of ``cls``; later instances occlude."""
        if not mask.any():
            return
        if colour is None:
            colour = self.instance_colour(cls)
        self.image[mask] = colour
        self.label[mask] = cls
        self.instances[mask] = self.next_id
        self.next_id += 1

    def instance_colour(self, cls: int) -> np.ndarray:
        base = np.asarray(_CLASS_COLOURS[cls], np.float64)
        return base + self.rng.uniform(-_INSTANCE_JITTER, _INSTANCE_JITTER, 3)

    # -- shapes: boolean masks on the pixel grid ---------------------------
    def segment(self, p0, p1, width: float) -> np.ndarray:
        """Pixels within ``width / 2`` of the segment (>= 0.75 so that a
        1 px diagonal stays 8-connected)."""
        (y0, x0), (y1, x1) = p0, p1
        dy, dx = y1 - y0, x1 - x0
        length2 = max(dy * dy + dx * dx, 1e-9)
        t = ((self.yy - y0) * dy + (self.xx - x0) * dx) / length2
        t = np.clip(t, 0.0, 1.0)
        dist2 = (self.yy - (y0 + t * dy))**2 + (self.xx - (x0 + t * dx))**2
        radius = max(width / 2.0, 0.75)
        return dist2 <= radius * radius

    def curve(self, p0, p1, p2, width: float, pieces: int = 12) -> np.ndarray:
        """A quadratic Bezier curve as a chain of segments."""
        t = np.linspace(0.0, 1.0, pieces + 1)[:, None]
        pts = ((1 - t)**2 * np.asarray(p0) + 2 * (1 - t) * t * np.asarray(p1)
               + t**2 * np.asarray(p2))
        mask = np.zeros((self.size, self.size), bool)
        for a, b in zip(pts[:-1], pts[1:]):
            mask |= self.segment(a, b, width)
        return mask

    def ring(self, centre, radius: float, width: float) -> np.ndarray:
        dist = np.hypot(self.yy - centre[0], self.xx - centre[1])
        return np.abs(dist - radius) <= width / 2.0

    def ellipse(self, centre, axes, angle: float) -> np.ndarray:
        dy, dx = self.yy - centre[0], self.xx - centre[1]
        cos, sin = np.cos(angle), np.sin(angle)
        u, v = dx * cos + dy * sin, -dx * sin + dy * cos
        return (u / axes[0])**2 + (v / axes[1])**2 <= 1.0


def _smooth_field(rng: np.random.Generator, size: int, cells: int,
                  channels: int) -> np.ndarray:
    """Low-frequency noise: a coarse random grid, bilinearly upsampled."""
    coarse = rng.normal(0.0, 1.0, (cells + 1, cells + 1, channels))
    pos = np.linspace(0.0, cells, size)
    i0 = np.minimum(pos.astype(int), cells - 1)
    frac = pos - i0
    rows = (coarse[i0] * (1 - frac)[:, None, None] +
            coarse[i0 + 1] * frac[:, None, None])
    return (rows[:, i0] * (1 - frac)[None, :, None] +
            rows[:, i0 + 1] * frac[None, :, None])


def _background(rng: np.random.Generator, size: int, yy: np.ndarray,
                xx: np.ndarray) -> np.ndarray:
    """Textured background: a random colour, blotches and a grating."""
    base = rng.uniform(70, 190, 3)
    image = base + 28.0 * _smooth_field(rng, size, int(rng.integers(3, 7)),
                                        3)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(5.0, 14.0)
    phase = (xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period
    image += rng.uniform(6, 18) * np.sin(phase)[..., None]
    return image


def _draw_streaks(canvas: _Canvas) -> None:
    """Unlabelled, low-contrast thin lines on the background."""
    rng, size = canvas.rng, canvas.size
    for _ in range(int(rng.integers(1, 4))):
        p0 = rng.uniform(0, size, 2)
        p2 = rng.uniform(0, size, 2)
        p1 = (p0 + p2) / 2 + rng.normal(0, size / 8, 2)
        mask = canvas.curve(p0, p1, p2, float(rng.choice([1.0, 2.0])))
        shift = rng.uniform(-30, -15) * np.ones(3)
        canvas.image[mask] += shift


def _draw_crates(canvas: _Canvas) -> None:
    """A row (or column) of 2-4 touching rectangles."""
    rng, size = canvas.rng, canvas.size
    count = int(rng.integers(2, 5))
    horizontal = bool(rng.random() < 0.5)
    extent = int(rng.integers(10, 22))
    widths = rng.integers(8, 18, count)
    start = int(rng.integers(0, max(size - int(widths.sum()), 1)))
    offset = int(rng.integers(0, size - extent))
    base = canvas.instance_colour(4)
    for width in widths:
        width = int(width)
        mask = np.zeros((size, size), bool)
        if horizontal:
            mask[offset:offset + extent, start:start + width] = True
        else:
            mask[start:start + width, offset:offset + extent] = True
        # Neighbouring crates differ only slightly in shade.
        canvas.paint(mask, 4, base + rng.uniform(-15, 15, 3))
        start += width


def _draw_blobs(canvas: _Canvas) -> None:
    """A cluster of 2-4 ellipses, close or overlapping."""
    rng, size = canvas.rng, canvas.size
    centre = rng.uniform(size * 0.2, size * 0.8, 2)
    for _ in range(int(rng.integers(2, 5))):
        axes = rng.uniform(4, 10, 2)
        shift = rng.normal(0, 8, 2)
        canvas.paint(
            canvas.ellipse(centre + shift, axes, rng.uniform(0, np.pi)), 5)


def _draw_poles(canvas: _Canvas) -> None:
    rng, size = canvas.rng, canvas.size
    for _ in range(int(rng.integers(1, 4))):
        x = rng.uniform(4, size - 4)
        top, bottom = rng.uniform(0, size * 0.4), rng.uniform(size * 0.6, size)
        lean = rng.uniform(-6, 6)
        width = float(rng.choice([2.0, 3.0]))
        mask = canvas.segment((top, x + lean), (bottom, x), width)
        if rng.random() < 0.5:
            y = rng.uniform(top + 3, top + 12)
            half = rng.uniform(5, 12)
            mask |= canvas.segment((y, x + lean - half), (y, x + lean + half),
                                   1.0)
        canvas.paint(mask, 2)


def _draw_wheels(canvas: _Canvas) -> None:
    rng, size = canvas.rng, canvas.size
    for _ in range(int(rng.integers(1, 3))):
        radius = rng.uniform(9, 17)
        centre = rng.uniform(radius, size - radius, 2)
        mask = canvas.ring(centre, radius, float(rng.choice([2.0, 3.0])))
        spokes = int(rng.integers(3, 7))
        angle0 = rng.uniform(0, np.pi)
        for k in range(spokes):
            angle = angle0 + k * np.pi / spokes
            offset = radius * np.array([np.sin(angle), np.cos(angle)])
            mask |= canvas.segment(centre - offset, centre + offset,
                                   float(rng.choice([1.0, 2.0])))
        canvas.paint(mask, 1)


def _draw_wires(canvas: _Canvas) -> None:
    rng, size = canvas.rng, canvas.size
    for _ in range(int(rng.integers(1, 4))):
        # From one image border to another (ends at least half the image
        # apart, so no wire hugs a border), sagging a little.
        while True:
            ends = []
            for side in rng.permutation(4)[:2]:
                t = rng.uniform(0, size - 1)
                ends.append([(0.0, t), (size - 1.0, t), (t, 0.0),
                             (t, size - 1.0)][side])
            p0, p2 = np.asarray(ends[0]), np.asarray(ends[1])
            if np.hypot(*(p2 - p0)) >= size / 2:
                break
        p1 = (p0 + p2) / 2 + rng.normal(0, size / 10, 2)
        canvas.paint(
            canvas.curve(p0, p1, p2, float(rng.choice([1.0, 1.0, 2.0]))), 3)


def generate_sample(rng: np.random.Generator,
                    size: int = 96) -> Tuple[np.ndarray, np.ndarray,
                                             np.ndarray]:
    """One image with its class and instance maps.

    Returns:
        tuple: ``(H, W, 3)`` uint8 RGB image, ``(H, W)`` uint8 class ids in
        ``[0, 6)``, ``(H, W)`` uint8 instance ids (0 = background, ids
        consecutive from 1 in drawing order of the visible instances).
    """
    canvas = _Canvas(rng, size)
    _draw_streaks(canvas)
    # Not every class in every image: each appears with probability 0.75.
    for draw in (_draw_crates, _draw_blobs, _draw_poles, _draw_wheels,
                 _draw_wires):
        if rng.random() < 0.75:
            draw(canvas)
    image = canvas.image + rng.normal(0.0, _PIXEL_NOISE, canvas.image.shape)
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    # Renumber the instances that are still visible after occlusion.
    visible = np.unique(canvas.instances)
    visible = visible[visible > 0]
    if len(visible) > 254:  # 255 would read as void
        raise RuntimeError('more than 254 instances in one image')
    lut = np.zeros(canvas.next_id, np.uint8)
    lut[visible] = np.arange(1, len(visible) + 1)
    return image, canvas.label, lut[canvas.instances]


def _image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(
        np.random.SeedSequence([seed, _SPLIT_IDS[split], index]))


def write_dataset(root,
                  num_train: int = 160,
                  num_val: int = 40,
                  size: int = 96,
                  seed: int = 0) -> Dict:
    """Generate the dataset under ``root`` (replacing an earlier one).

    ``root`` must be absent, empty or a directory this function wrote
    (it holds ``dataset.json``); anything else is refused rather than
    deleted.

    Returns:
        dict: the contents of ``dataset.json`` (counts, size, seed, classes,
        and per split the names of the images sorted by thin-structure
        pixels, most first).
    """
    root = Path(root)
    if root.exists():
        if (root / MARKER).is_file():
            shutil.rmtree(root)
        elif any(root.iterdir()):
            raise FileExistsError(
                f'{root} exists and is not a dataset written by this demo '
                f'(no {MARKER}); choose another work dir')
    info = dict(
        classes=list(CLASSES),
        palette=[list(c) for c in PALETTE],
        size=size,
        seed=seed,
        splits=dict(train=num_train, val=num_val),
        thin_first={})
    for split, count in (('train', num_train), ('val', num_val)):
        dirs = [root / d / split for d in ('img_dir', 'ann_dir', 'inst_dir')]
        for path in dirs:
            path.mkdir(parents=True, exist_ok=True)
        thin = []
        for index in range(count):
            image, label, instances = generate_sample(
                _image_rng(seed, split, index), size)
            name = f'{split}_{index:04d}.png'
            for path, array in zip(dirs, (image, label, instances)):
                Image.fromarray(array).save(path / name)
            thin.append((-int(np.isin(label, THIN_CLASSES).sum()), name))
        info['thin_first'][split] = [name for _, name in sorted(thin)]
    (root / MARKER).write_text(json.dumps(info, indent=1))
    return info
