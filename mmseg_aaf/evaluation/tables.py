# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Paper-style comparison tables from the results of several test runs.

A *table* has one row per method; a per-class table has one column per
class plus the class mean, a summary table one column per metric. With a
baseline, a row ``<method> - <baseline>`` follows for every other method,
holding the signed differences. Tables render as Markdown, LaTeX (a
``tabular`` of the ``booktabs`` package) and CSV.
"""
import csv
import io
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from .per_class_results import ResultFile

FORMATS = ('md', 'latex', 'csv')
FILE_SUFFIX = dict(md='.md', latex='.tex', csv='.csv')


class Table:
    """Rows of numbers under named columns.

    Attributes:
        title (str): What the numbers are (a metric name, or 'summary').
        columns (list[str]): Column names, without the method column.
        rows (list[tuple[str, list[float]]]): Method name and its values
            (NaN where missing).
        delta_rows (list[tuple[str, list[float]]]): Rows of differences to
            the baseline, printed with a sign.
    """

    def __init__(self, title: str, columns: List[str],
                 rows: List[tuple], delta_rows: List[tuple]):
        self.title = title
        self.columns = columns
        self.rows = rows
        self.delta_rows = delta_rows

    def formatted_rows(self, decimals: int = 1) -> List[List[str]]:
        """All rows as strings: values, then signed differences."""
        def fmt(value: float, signed: bool) -> str:
            if value is None or math.isnan(value):
                return '-'
            return f'{value:+.{decimals}f}' if signed else (
                f'{value:.{decimals}f}')

        out = [[name] + [fmt(v, False) for v in values]
               for name, values in self.rows]
        out += [[name] + [fmt(v, True) for v in values]
                for name, values in self.delta_rows]
        return out


def _check_names(results: Sequence[ResultFile], names: Sequence[str],
                 baseline: Optional[str]) -> None:
    if len(names) != len(results):
        raise ValueError(f'{len(results)} result files but {len(names)} '
                         f'names; give one name per file')
    if len(set(names)) != len(names):
        raise ValueError(f'method names must be unique, got {list(names)}')
    if baseline is not None and baseline not in names:
        raise ValueError(f'baseline {baseline!r} is not one of the names '
                         f'{list(names)}')


def _with_deltas(title, columns, rows, baseline) -> Table:
    delta_rows = []
    if baseline is not None:
        reference = dict(rows)[baseline]
        delta_rows = [(f'{name} - {baseline}',
                       [v - r for v, r in zip(values, reference)])
                      for name, values in rows if name != baseline]
    return Table(title, columns, rows, delta_rows)


def per_class_table(results: Sequence[ResultFile],
                    names: Sequence[str],
                    metric: str,
                    baseline: Optional[str] = None) -> Table:
    """Methods by classes for one per-class metric, plus a mean column.

    Raises:
        ValueError: A file is a summary, the class lists differ, or a file
            lacks ``metric``.
    """
    _check_names(results, names, baseline)
    for result in results:
        if not result.is_per_class:
            raise ValueError(
                f'{result.path} holds no per-class values; per-class tables '
                'need per-class results files (output_file of the metrics)')
    classes = results[0].classes
    for result in results[1:]:
        if result.classes != classes:
            raise ValueError(
                f'class lists differ: {results[0].path} has {classes} but '
                f'{result.path} has {result.classes}')
    rows = []
    for name, result in zip(names, results):
        if metric not in result.per_class:
            raise ValueError(
                f'{result.path} has no per-class metric {metric!r}; it has '
                f'{sorted(result.per_class)}')
        rows.append((name, [float(v) for v in result.per_class[metric]] +
                     [result.means[metric]]))
    return _with_deltas(metric, list(classes) + ['mean'], rows, baseline)


def summary_table(results: Sequence[ResultFile],
                  names: Sequence[str],
                  metrics: Optional[Sequence[str]] = None,
                  baseline: Optional[str] = None) -> Table:
    """Methods by metrics, from the scalar values of each file.

    Args:
        metrics (Sequence[str], optional): Columns; default: the metrics
            every file has, in the order of the first file, without mmseg's
            bookkeeping keys (``step``, ``time``, ``data_time``).
    """
    _check_names(results, names, baseline)
    if metrics is None:
        bookkeeping = {'step', 'time', 'data_time', 'iter', 'epoch'}
        metrics = [
            key for key in results[0].means
            if key not in bookkeeping and all(key in r.means for r in results)
        ]
        if not metrics:
            raise ValueError('the result files share no metric')
    rows = [(name, [result.means.get(key, float('nan')) for key in metrics])
            for name, result in zip(names, results)]
    return _with_deltas('summary', list(metrics), rows, baseline)


def common_per_class_metrics(results: Sequence[ResultFile]) -> List[str]:
    """Per-class metrics present in every file, in the first file's order."""
    return [
        key for key in results[0].per_class
        if all(key in r.per_class for r in results)
    ]


def to_markdown(table: Table, decimals: int = 1) -> str:
    header = ['Method'] + table.columns
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '|'.join([' --- '] + [' ---: '] * len(table.columns)) +
             '|']
    lines += ['| ' + ' | '.join(row) + ' |'
              for row in table.formatted_rows(decimals)]
    return '\n'.join(lines) + '\n'


_LATEX_SPECIALS = {
    '\\': r'\textbackslash{}', '&': r'\&', '%': r'\%', '$': r'\$',
    '#': r'\#', '_': r'\_', '{': r'\{', '}': r'\}',
    '~': r'\textasciitilde{}', '^': r'\textasciicircum{}'
}


def _latex_escape(text: str) -> str:
    return ''.join(_LATEX_SPECIALS.get(char, char) for char in text)


def to_latex(table: Table, decimals: int = 1) -> str:
    header = ['Method'] + table.columns
    lines = [r'\begin{tabular}{l' + 'r' * len(table.columns) + '}',
             r'\toprule',
             ' & '.join(_latex_escape(h) for h in header) + r' \\',
             r'\midrule']
    rows = table.formatted_rows(decimals)
    for index, row in enumerate(rows):
        if index == len(table.rows) and table.delta_rows:
            lines.append(r'\midrule')
        lines.append(' & '.join(_latex_escape(c) for c in row) + r' \\')
    lines += [r'\bottomrule', r'\end{tabular}']
    return '\n'.join(lines) + '\n'


def to_csv(table: Table, decimals: int = 1) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow(['Method'] + table.columns)
    writer.writerows(table.formatted_rows(decimals))
    return buffer.getvalue()


RENDERERS = dict(md=to_markdown, latex=to_latex, csv=to_csv)


def write_table(table: Table, out_dir: str, formats: Sequence[str],
                decimals: int = 1) -> Dict[str, str]:
    """Write ``<out_dir>/<title>.<md|tex|csv>``; returns format -> path."""
    unknown = [f for f in formats if f not in RENDERERS]
    if unknown:
        raise ValueError(f'unknown table format(s) {unknown}; choose from '
                         f'{list(FORMATS)}')
    os.makedirs(out_dir, exist_ok=True)
    safe_title = ''.join(c if c.isalnum() or c in '-_' else '_'
                         for c in table.title)
    paths = {}
    for fmt in formats:
        path = osp.join(out_dir, safe_title + FILE_SUFFIX[fmt])
        with open(path, 'w') as f:
            f.write(RENDERERS[fmt](table, decimals))
        paths[fmt] = path
    return paths
