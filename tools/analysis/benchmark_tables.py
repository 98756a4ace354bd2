# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Per-class comparison tables (Markdown, LaTeX, CSV) of several test runs.

Inputs are either per-class results files (written by the ``output_file``
of ``PerClassIoUMetric``, ``BoundaryMetric`` and ``InstanceIoUMetric``)
or the final metrics JSON of mmseg's ``tools/test.py``
(``work_dir/<timestamp>/<timestamp>.json``); mixing the two kinds is
refused. Per-class files give one table per metric (classes + mean),
metrics files one summary table.

Example::

    python tools/analysis/benchmark_tables.py \
        work_dirs/psp/iou.json work_dirs/psp_aaf/iou.json \
        --names PSPNet PSPNet+AAF --baseline PSPNet --out-dir tables
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from mmseg_aaf.evaluation.per_class_results import \
    load_result_file  # noqa: E402
from mmseg_aaf.evaluation.tables import (FORMATS,  # noqa: E402
                                         common_per_class_metrics,
                                         per_class_table, summary_table,
                                         to_markdown, write_table)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Paper-style per-class tables from test results')
    parser.add_argument('results', nargs='+', help='result JSON files')
    parser.add_argument('--names', nargs='+', required=True,
                        help='one method name per result file')
    parser.add_argument('--baseline',
                        help='method to subtract in extra delta rows')
    parser.add_argument(
        '--metrics', nargs='+',
        help='metrics to tabulate (default: all shared by the files)')
    parser.add_argument('--format', choices=list(FORMATS) + ['all'],
                        default='all', help='output format (default: all)')
    parser.add_argument('--decimals', type=int, default=1,
                        help='decimals of the printed numbers (default: 1)')
    parser.add_argument('--out-dir', default='benchmark_tables',
                        help='output directory (default: benchmark_tables)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    results = [load_result_file(path) for path in args.results]
    if len({result.is_per_class for result in results}) > 1:
        kinds = [f'{r.path} ({"per-class" if r.is_per_class else "summary"})'
                 for r in results]
        raise ValueError('cannot mix per-class results files with summary '
                         'metrics files: ' + ', '.join(kinds))
    if results[0].is_per_class:
        metrics = args.metrics or common_per_class_metrics(results)
        if not metrics:
            raise ValueError('the result files share no per-class metric')
        tables = [per_class_table(results, args.names, metric, args.baseline)
                  for metric in metrics]
    else:
        tables = [summary_table(results, args.names, args.metrics,
                                args.baseline)]
    formats = FORMATS if args.format == 'all' else (args.format, )
    written = []
    for table in tables:
        print(f'\n{table.title}\n' + to_markdown(table, args.decimals))
        written += write_table(table, args.out_dir, formats,
                               args.decimals).values()
    print('wrote ' + ', '.join(written))
    return written


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f'benchmark_tables.py: error: {err}')
