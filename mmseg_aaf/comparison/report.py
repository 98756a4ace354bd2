# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The demo's outputs: benchmark table and qualitative figure.

The kernel-size figure is drawn by
:func:`mmseg_aaf.visualization.plot_kernel_sizes`.
"""
import json
import os.path as osp
from typing import Dict, List, Mapping, Sequence

import numpy as np

from ..evaluation.tables import Table, to_csv, to_markdown

#: Table columns: (title, key in the metrics returned by runner.test()).
COLUMNS = (('mIoU', 'mIoU'), ('bF', 'bFscore'),
           ('mIoU_instance', 'mIoU_instance'))


def benchmark_table(metrics: Mapping[str, Mapping[str, float]],
                    baseline: str) -> Table:
    """Methods by (mIoU, bF, mIoU_instance), then differences to baseline.

    Args:
        metrics: method name -> metrics of that method, in row order.
        baseline: The method the difference rows refer to.
    """
    columns = [title for title, _ in COLUMNS]
    rows = [(name, [float(values.get(key, float('nan')))
                    for _, key in COLUMNS])
            for name, values in metrics.items()]
    reference = dict(rows)[baseline]
    deltas = [(f'{name} - {baseline}',
               [v - r for v, r in zip(values, reference)])
              for name, values in rows if name != baseline]
    return Table('demo', columns, rows, deltas)


def write_tables(table: Table, work_dir: str,
                 decimals: int = 2) -> Dict[str, str]:
    """Write ``results.md`` and ``results.csv``; returns format -> path."""
    paths = {}
    for fmt, render in (('md', to_markdown), ('csv', to_csv)):
        path = osp.join(work_dir, f'results.{fmt}')
        with open(path, 'w') as f:
            f.write(render(table, decimals))
        paths[fmt] = path
    return paths


def write_json(path: str, payload: dict) -> None:
    def convert(value):
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, (np.floating, np.integer)):
            return value.item()
        raise TypeError(f'cannot store {type(value)} in JSON')

    with open(path, 'w') as f:
        json.dump(payload, f, indent=1, default=convert)


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _legend_handles(classes: Sequence[str],
                    palette: Sequence[Sequence[int]]) -> List:
    from matplotlib.patches import Patch
    return [
        Patch(facecolor=np.asarray(colour) / 255.0, edgecolor='none',
              label=name) for name, colour in zip(classes, palette)
    ]


def plot_qualitative(path: str,
                     images: Sequence[np.ndarray],
                     ground_truths: Sequence[np.ndarray],
                     predictions: Mapping[str, Sequence[np.ndarray]],
                     classes: Sequence[str],
                     palette: Sequence[Sequence[int]],
                     names: Sequence[str] = ()) -> str:
    """One row per image: image, ground truth, each method's prediction.

    Args:
        images: ``(H, W, 3)`` uint8 RGB images.
        ground_truths: ``(H, W)`` class maps.
        predictions: method name -> class maps, one per image.
        names: Optional image names shown at the row starts.
    """
    plt = _pyplot()
    lut = np.asarray(palette, np.uint8)
    titles = ['image', 'ground truth'] + list(predictions)
    rows, cols = len(images), len(titles)
    fig, axes = plt.subplots(
        rows, cols, figsize=(2.1 * cols, 2.1 * rows + 0.7), squeeze=False)
    for r in range(rows):
        panels = [images[r], lut[ground_truths[r]]] + [
            lut[maps[r]] for maps in predictions.values()
        ]
        for c, panel in enumerate(panels):
            ax = axes[r][c]
            ax.imshow(panel, interpolation='nearest')
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[c], fontsize=10)
        if names:
            axes[r][0].set_ylabel(names[r], fontsize=7)
    fig.legend(
        handles=_legend_handles(classes, palette),
        loc='lower center',
        ncol=min(len(classes), 6),
        fontsize=8,
        frameon=False)
    fig.tight_layout(rect=(0, 0.05 * -(-len(classes) // 6), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
