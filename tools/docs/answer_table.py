# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The README's "Does AAF help?" table, written from the studies' reports.

Every cell quotes a row of the ``results.md`` that ``mmseg-aaf-compare``
wrote for a study (``docs/compare_*/``, the files the result pages of the
docs include): the mean difference on the same seed and the seeds won. The
table sits in README.md between ``<!-- answer-table:start -->`` and
``<!-- answer-table:end -->``; the docs' results page includes it from there.
Where the seeds won and the sign of the mean disagree, the first measure's
per-seed differences follow the seeds won.

    python tools/docs/answer_table.py            # print the table
    python tools/docs/answer_table.py --write    # put it into README.md
    python tools/docs/answer_table.py --check    # exit 1 if README.md differs

After a study's records change (``make compare-losses``, ``compare-schedule``
or ``compare-drive``), run it with ``--write``; the tests run ``--check``.
"""
import argparse
import os.path as osp
import re
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
README = osp.join(ROOT, 'README.md')
START = '<!-- answer-table:start -->'
END = '<!-- answer-table:end -->'

CAMVID = ('mIoU', 'bF', 'Boundary IoU')
#: (row of the table, the study's report, the measures quoted)
STUDIES = (
    ('CamVid, PSPNet (CPU), 600 it', 'docs/compare_losses/pspnet/results.md',
     CAMVID),
    ('CamVid, DeepLabV3+ (CPU), 600 it',
     'docs/compare_losses/deeplabv3plus/results.md', CAMVID),
    ('CamVid, PSPNet (CPU), 2400 it',
     'docs/compare_losses/pspnet_2400it/results.md', CAMVID),
    ('DRIVE, UNet (CPU), 6000 it', 'docs/compare_drive/results.md',
     ('mDice', 'vessel mIoU', 'bF', 'Boundary IoU', 'clDice')),
)
#: (column of the table, the report's row it quotes)
COLUMNS = (
    ('+ AAF over CE', 'AAF - CE'),
    ('+ AAF instead of + Dice', 'AAF - Dice'),
    ('+ Dice + AAF over + Dice', '(Dice + AAF) - Dice'),
)
#: Measure names as the README writes them.
NAMES = {'vessel mIoU': 'vessel IoU'}


def split_row(line: str) -> list:
    return [cell.strip() for cell in line.strip().strip('|').split('|')]


def tables(text: str):
    """Each Markdown table of ``text`` as (header cells, body rows)."""
    block = []
    for line in text.splitlines() + ['']:
        if line.startswith('|'):
            block.append(split_row(line))
        elif block:
            yield block[0], block[2:]
            block = []


def report_row(text: str, label: str, path: str) -> dict:
    """The row whose first cell is ``label``, keyed by its header."""
    for header, rows in tables(text):
        for row in rows:
            if row[0] == label:
                return dict(zip(header, row))
    raise ValueError(f'{path}: no table row {label!r}')


def quote(row: dict, measures, path: str) -> str:
    parts = []
    for index, measure in enumerate(measures):
        if measure not in row:
            raise ValueError(f'{path}: no measure {measure!r} in the row '
                             f'{next(iter(row.values()))!r}')
        cell = row[measure]
        match = re.fullmatch(r'([+-]\d+\.\d+) \((\d+)/(\d+)\)', cell)
        if match is None:
            raise ValueError(f'{path}: unexpected cell {cell!r}')
        mean, won, seeds = float(match[1]), int(match[2]), int(match[3])
        if index == 0 and (mean < 0 < 2 * won - seeds
                           or mean > 0 > 2 * won - seeds):
            # "3 (mIoU: +1.02, -3.46, +0.81)": the first measure per seed.
            per_seed = row['paired seeds'].split(': ', 1)[1].rstrip(')')
            cell = f'{match[1]} ({won}/{seeds}: {per_seed})'
        parts.append(f'{NAMES.get(measure, measure)} {cell}')
    return ', '.join(parts)


def answer_table(root: str = ROOT) -> str:
    lines = ['| Study | ' + ' | '.join(c for c, _ in COLUMNS) + ' |',
             '| --- |' + ' --- |' * len(COLUMNS)]
    for study, report, measures in STUDIES:
        with open(osp.join(root, report), encoding='utf-8') as f:
            text = f.read()
        cells = [
            quote(report_row(text, label, report), measures, report)
            for _, label in COLUMNS
        ]
        lines.append(f'| {study} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def replace_table(readme: str, table: str) -> str:
    if readme.count(START) != 1 or readme.count(END) != 1:
        raise ValueError(f'README.md must hold {START} and {END} once each')
    head, rest = readme.split(START)
    _, tail = rest.split(END)
    return f'{head}{START}\n{table}{END}{tail}'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--write', action='store_true',
                      help='replace the table in README.md')
    mode.add_argument('--check', action='store_true',
                      help='exit 1 if the table in README.md is not this')
    parser.add_argument('--readme', default=README)
    args = parser.parse_args(argv)
    table = answer_table()
    if not (args.write or args.check):
        sys.stdout.write(table)
        return 0
    with open(args.readme, encoding='utf-8') as f:
        readme = f.read()
    wanted = replace_table(readme, table)
    if args.check:
        if wanted != readme:
            print(f'error: the "Does AAF help?" table of {args.readme} is '
                  'not the one the reports give; run '
                  'python tools/docs/answer_table.py --write')
            return 1
        return 0
    if wanted != readme:
        with open(args.readme, 'w', encoding='utf-8') as f:
            f.write(wanted)
    return 0


if __name__ == '__main__':
    sys.exit(main())
