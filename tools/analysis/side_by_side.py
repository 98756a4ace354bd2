# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Two ``mmseg-aaf-compare`` studies side by side: each method's measures
in study A and in study B (mean ± sample std over the seeds both ran) and
B minus A, for the methods both have; e.g. the same methods at two
schedule lengths.

    python tools/analysis/side_by_side.py \\
        docs/compare_losses/pspnet/results.json \\
        docs/compare_losses/pspnet_2400it/results.json \\
        --labels '600 it' '2400 it' [--measures mIoU bFscore] [--out t.md]

The measures are those of study A's report (or ``--measures``), computed
from the runs each ``results.json`` holds, subsets included.
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
    return parser.parse_args(argv)


def side_by_side(first: dict, second: dict, labels, measures=None) -> str:
    """The markdown table of two studies' ``results.json`` payloads."""
    from mmseg_aaf.comparison.study_report import mean_std, title, value
    measures = list(measures or first['measures'])
    studies = [SimpleNamespace(subsets=payload.get('subsets') or {})
               for payload in (first, second)]
    methods = [key for key in first['methods'] if key in second['methods']]
    if not methods:
        raise ValueError('the two studies share no method')
    header = ['Method']
    for key in measures:
        header += [f'{title(key, studies[0])} {labels[0]}',
                   f'{title(key, studies[0])} {labels[1]}', 'diff']
    lines = ['| ' + ' | '.join(header) + ' |',
             '| --- |' + ' ---: |' * (len(header) - 1)]
    for key in methods:
        # Only the seeds both studies ran, so that the difference is the
        # same seeds' runs at A and at B.
        runs = [{r['seed']: r for r in payload['methods'][key]['runs']}
                for payload in (first, second)]
        seeds = sorted(set(runs[0]) & set(runs[1]))
        if not seeds:
            continue
        cells = [f"{first['methods'][key]['name']} ({len(seeds)} seed"
                 f"{'s' if len(seeds) > 1 else ''})"]
        for measure in measures:
            means = []
            for by_seed, study in zip(runs, studies):
                mean, std = mean_std([value(by_seed[s], measure, study)
                                      for s in seeds])
                means.append(mean)
                cells.append(f'{mean:.2f}' if np.isnan(std) else
                             f'{mean:.2f} ± {std:.2f}')
            cells.append(f'{means[1] - means[0]:+.2f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


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
    except (ReportError, ValueError, KeyError) as exc:
        return error(str(exc))
    print(table, end='')
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table)
    return 0


if __name__ == '__main__':
    sys.exit(main())
