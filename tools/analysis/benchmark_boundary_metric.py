# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Time of ``boundary_counts`` on one Cityscapes-size label-map pair.

The ground truth (1024 x 2048, 19 classes, the top rows ignored like an
ego-vehicle band) is made of curved regions (a Voronoi partition of
coordinates bent by a smooth random field) with small boxes and thin poles
on top. The prediction is the ground truth resampled through a smooth
random displacement field of ``--amplitude`` pixels (standard deviation per
axis), so every boundary is moved by a few pixels, plus a few spurious
blobs. Each variant (BSDS one-to-one matching and distance matching, both
on thinned boundaries, at BSDS's default tolerance) is timed ``--repeats``
times after one warm-up call; the script prints the median and minimum
wall-clock and CPU time (``time.process_time``: on a shared machine the
CPU time is what the call itself costs), the boundary pixel and matching
counts, and the scores.

Example::

    python tools/analysis/benchmark_boundary_metric.py --repeats 5
"""
import argparse
import os.path as osp
import sys
import time

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates
from scipy.spatial import cKDTree

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from mmseg_aaf.evaluation.metrics.boundary_metric import (  # noqa: E402
    BSDS_MAX_DIST, MATCHED_GT, MATCHED_PRED, TOTAL_GT, TOTAL_PRED,
    boundary_counts, boundary_scores, tolerance_in_pixels)


def smooth_field(rng: np.random.Generator, shape: tuple, step: int,
                 sigma: float) -> np.ndarray:
    """``shape`` float field of unit standard deviation, smooth over about
    ``step * sigma`` pixels (noise on a coarse grid, blurred, upsampled)."""
    coarse = gaussian_filter(
        rng.normal(size=(shape[0] // step + 1, shape[1] // step + 1)), sigma)
    coarse /= coarse.std()
    return np.kron(coarse, np.ones((step, step)))[:shape[0], :shape[1]]


def cityscapes_like_labels(rng: np.random.Generator,
                           shape: tuple = (1024, 2048),
                           num_classes: int = 19,
                           num_regions: int = 80) -> np.ndarray:
    """``(H, W)`` int64 ground truth with curved and straight boundaries."""
    height, width = shape
    seeds = rng.uniform((0, 0), shape, (num_regions, 2))
    region_class = rng.integers(0, num_classes, num_regions)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    # Bending the coordinates (by about 30 pixels) before the nearest-seed
    # lookup curves the otherwise straight Voronoi edges.
    bend = 30
    rows += bend * smooth_field(rng, shape, 8, 4)
    cols += bend * smooth_field(rng, shape, 8, 4)
    _, nearest = cKDTree(seeds).query(np.stack([rows.ravel(),
                                                cols.ravel()], 1))
    label = region_class[nearest].reshape(shape)
    for _ in range(40):  # cars, signs, poles
        top, left = rng.integers(0, height - 200), rng.integers(0, width - 100)
        label[top:top + rng.integers(20, 200),
              left:left + rng.integers(3, 100)] = rng.integers(num_classes)
    label[:40] = 255
    return label


def perturbed_prediction(rng: np.random.Generator, gt: np.ndarray,
                         amplitude: float,
                         num_classes: int = 19) -> np.ndarray:
    """The ground truth with its boundaries moved by a few pixels."""
    shape = gt.shape
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    shift_rows = amplitude * smooth_field(rng, shape, 16, 3)
    shift_cols = amplitude * smooth_field(rng, shape, 16, 3)
    pred = map_coordinates(
        gt, [rows + shift_rows, cols + shift_cols], order=0, mode='nearest')
    for _ in range(20):  # spurious blobs
        top = rng.integers(0, shape[0] - 30)
        left = rng.integers(0, shape[1] - 30)
        pred[top:top + rng.integers(5, 30),
             left:left + rng.integers(5, 30)] = rng.integers(num_classes)
    # A prediction has no ignored label.
    return np.where(pred == 255, 0, pred)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--amplitude', type=float, default=3.0,
                        help='boundary displacement, pixels (std per axis)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    gt = cityscapes_like_labels(rng)
    pred = perturbed_prediction(rng, gt, args.amplitude)
    print(f'label maps: {gt.shape[0]} x {gt.shape[1]}, 19 classes, '
          f'{np.mean(gt == 255):.1%} ignored, {np.mean(pred != gt):.1%} '
          f'of pixels relabelled by the perturbation; tolerance '
          f'{tolerance_in_pixels(BSDS_MAX_DIST, *gt.shape):.2f} px')
    for matching in ('bsds', 'distance'):
        boundary_counts(pred, gt, 19, matching=matching)  # warm-up
        wall, cpu = [], []
        for _ in range(args.repeats):
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            counts = boundary_counts(pred, gt, 19, matching=matching)
            wall.append(time.perf_counter() - start_wall)
            cpu.append(time.process_time() - start_cpu)
        scores = {
            k: np.nanmean(v) * 100
            for k, v in boundary_scores(counts).items()
        }
        print(f"matching='{matching}': wall median {np.median(wall):.3f} s "
              f'(min {min(wall):.3f}), CPU median {np.median(cpu):.3f} s '
              f'(min {min(cpu):.3f}); boundary pixels: '
              f'{counts[TOTAL_PRED].sum()} predicted, '
              f'{counts[TOTAL_GT].sum()} true; matched: '
              f'{counts[MATCHED_PRED].sum()} predicted, '
              f'{counts[MATCHED_GT].sum()} true; ' + ', '.join(
                  f'{k} {v:.2f}' for k, v in scores.items()))


if __name__ == '__main__':
    main()
