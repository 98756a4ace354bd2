# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Two ``mmseg-aaf-compare`` studies side by side: each method's measures
in study A and in study B (mean ± sample std over the seeds both ran) and
B minus A, for the methods both have; e.g. the same methods at two
schedule lengths.

    python tools/analysis/side_by_side.py \\
        docs/compare_losses/pspnet/results.json \\
        docs/compare_losses/pspnet_2400it/results.json \\
        --labels '600 it' '2400 it' [--measures mIoU bFscore] [--out t.md]
        [--plot schedule.png]

The measures are those of study A's report (or ``--measures``), computed
from the runs each ``results.json`` holds, subsets included. ``--plot``
also draws them: per method, a line from each seed's run in A to the same
seed's run in B.
"""
import argparse
import json
import os.path as osp
import sys
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from mmseg_aaf.cli import error  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Two mmseg-aaf-compare studies side by side, per method '
        'and measure.')
    parser.add_argument('first', help="study A's results.json")
    parser.add_argument('second', help="study B's results.json")
    parser.add_argument('--labels', nargs=2, default=['A', 'B'],
                        metavar=('A', 'B'), help='column labels of the two')
    parser.add_argument('--measures', nargs='+',
                        help="default: the measures of study A's report")
    parser.add_argument('--out', help='also write the table here')
    parser.add_argument('--plot', metavar='PNG',
                        help='also draw each seed from A to B per method '
                        'and measure into this image')
    return parser.parse_args(argv)


def paired_runs(first: dict, second: dict, measures=None):
    """Per method both studies hold, the seeds both ran and each measure's
    values on them in A and in B: ``(measures, studies, [(key, name,
    seeds, {measure: (values_a, values_b)})])``; a method without a
    shared seed is left out."""
    from mmseg_aaf.comparison.study_report import value
    measures = list(measures or first['measures'])
    studies = [SimpleNamespace(subsets=payload.get('subsets') or {})
               for payload in (first, second)]
    methods = [key for key in first['methods'] if key in second['methods']]
    if not methods:
        raise ValueError('the two studies share no method')
    rows = []
    for key in methods:
        # Only the seeds both studies ran, so that the difference is the
        # same seeds' runs at A and at B.
        runs = [{r['seed']: r for r in payload['methods'][key]['runs']}
                for payload in (first, second)]
        seeds = sorted(set(runs[0]) & set(runs[1]))
        if not seeds:
            continue
        values = {measure: tuple([value(by_seed[s], measure, study)
                                  for s in seeds]
                                 for by_seed, study in zip(runs, studies))
                  for measure in measures}
        rows.append((key, first['methods'][key]['name'], seeds, values))
    return measures, studies, rows


def side_by_side(first: dict, second: dict, labels, measures=None) -> str:
    """The markdown table of two studies' ``results.json`` payloads."""
    from mmseg_aaf.comparison.study_report import mean_std, title
    measures, studies, rows = paired_runs(first, second, measures)
    header = ['Method']
    for key in measures:
        header += [f'{title(key, studies[0])} {labels[0]}',
                   f'{title(key, studies[0])} {labels[1]}', 'diff']
    lines = ['| ' + ' | '.join(header) + ' |',
             '| --- |' + ' ---: |' * (len(header) - 1)]
    for _, name, seeds, values in rows:
        cells = [f"{name} ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})"]
        for measure in measures:
            means = []
            for measured in values[measure]:
                mean, std = mean_std(measured)
                means.append(mean)
                cells.append(f'{mean:.2f}' if np.isnan(std) else
                             f'{mean:.2f} ± {std:.2f}')
            cells.append(f'{means[1] - means[0]:+.2f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def plot_side_by_side(path: str, first: dict, second: dict, labels,
                      measures=None) -> str:
    """One panel per measure: per method, each seed's run in A joined to
    the same seed's run in B by a line, the seed mean as a large marker,
    so that what a method gains from A to B and whether the methods'
    order changes can be seen at once."""
    from mmseg_aaf.comparison.study_report import pyplot as _pyplot
    from mmseg_aaf.comparison.study_report import (_COLOURS,
                                                   _REFERENCE_COLOUR, title)
    measures, studies, rows = paired_runs(first, second, measures)
    if not rows:
        raise ValueError('the two studies share no seed of any method')
    plt = _pyplot()
    colours = [_REFERENCE_COLOUR] + list(_COLOURS) * 4
    columns = min(len(measures), 2)
    panel_rows = -(-len(measures) // columns)
    fig, axes = plt.subplots(
        panel_rows, columns, squeeze=False,
        figsize=(max(2.4 + 0.9 * len(rows), 3.2) * columns,
                 3.4 * panel_rows + 0.8))
    axes = axes.ravel()
    for ax in axes[len(measures):]:
        ax.set_visible(False)
    for ax, measure in zip(axes, measures):
        for index, (key, name, seeds, values) in enumerate(rows):
            x = (3 * index, 3 * index + 1)
            colour = colours[list(first['methods']).index(key)]
            for a, b in zip(*values[measure]):
                ax.plot(x, (a, b), '-', color=colour, alpha=0.45,
                        linewidth=1)
            ax.plot(x, [np.mean(v) for v in values[measure]], 'o-',
                    color=colour, markersize=7, linewidth=2.2,
                    label=f"{name} ({len(seeds)} seed"
                    f"{'s' if len(seeds) > 1 else ''})"
                    if ax is axes[0] else None)
        ax.set_xticks([3 * i + d for i in range(len(rows)) for d in (0, 1)])
        ax.set_xticklabels(list(labels) * len(rows), fontsize=7,
                           rotation=90)
        ax.set_title(title(measure, studies[0]))
        ax.grid(axis='y', alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc='lower center', ncol=min(len(names), 4),
               frameon=False)
    fig.suptitle(f'{labels[0]} and {labels[1]}: a thin line per seed, the '
                 'seed mean bold', fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    args = parse_args(argv)
    payloads = []
    for path in (args.first, args.second):
        try:
            with open(path) as f:
                payloads.append(json.load(f))
        except (OSError, ValueError) as exc:
            return error(f'cannot read {path}: {exc}')
    from mmseg_aaf.comparison.study_report import ReportError
    try:
        table = side_by_side(*payloads, args.labels, args.measures)
        if args.plot:
            plot_side_by_side(args.plot, *payloads, args.labels,
                              args.measures)
    except (ReportError, ValueError, KeyError) as exc:
        return error(str(exc))
    print(table, end='')
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table)
    return 0


if __name__ == '__main__':
    sys.exit(main())
