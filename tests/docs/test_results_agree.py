# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The figures the README and the result pages quote are the ones in the
studies' reports (docs/compare_*/results.md, written by mmseg-aaf-compare
from the committed records), so that they cannot drift apart."""
import pytest

from tests.conftest import load_tool
from tests.docs.pages import (DOCS, README, figures, section,
                              table_rows, without_code_blocks)

REPORTS = {
    'camvid_pspnet': DOCS / 'compare_losses' / 'pspnet' / 'results.md',
    'camvid_deeplabv3plus':
    DOCS / 'compare_losses' / 'deeplabv3plus' / 'results.md',
    'camvid_pspnet_2400it':
    DOCS / 'compare_losses' / 'pspnet_2400it' / 'results.md',
    'schedule': DOCS / 'compare_losses' / 'schedule_600_vs_2400it.md',
    'drive': DOCS / 'compare_drive' / 'results.md',
}

#: Figures the README quotes from elsewhere than the reports, with where.
EXTERNAL = {
    '88.38': "mmseg's zoo model on DRIVE (mmseg's model zoo)",
    '0.05': 'the held-back second vessel dataset (reported by the '
    'maintainers; its records are not in the repository)',
}

#: The DRIVE page's seed-0 reruns with the fused kernel: records slug ->
#: name (their table quotes the records, see the test below).
RERUN_NAMES = {'ce': 'CE', 'dice': '+ Dice', 'aaf': '+ AAF',
               'dice+aaf': '+ Dice + AAF'}

#: Each result page, the reports it quotes, and its table rows that quote
#: something else (by their first cell).
PAGES = {
    'loss_study.md': (('camvid_pspnet', 'camvid_deeplabv3plus'), ()),
    'schedule_check.md':
    (('camvid_pspnet', 'camvid_pspnet_2400it', 'schedule'), ()),
    'drive.md': (('drive', ),
                 ('mmseg zoo, CE (40k x 16 on GPUs)',
                  'second human annotator') + tuple(
                      f'{name}, seed 0' for name in RERUN_NAMES.values())),
}


def report_figures(*names) -> set:
    found = set()
    for name in names:
        found |= figures(REPORTS[name].read_text())
    return found


def test_answer_table_is_written_from_the_reports(capsys):
    tool = load_tool('tools/docs/answer_table.py')
    assert tool.main(['--check']) == 0, capsys.readouterr().out
    table = tool.answer_table()
    assert table in README.read_text()
    # What it quotes, e.g. DRIVE's "+ AAF over CE" mDice cell.
    assert '| DRIVE, UNet (CPU), 6000 it | mDice +1.56 (3/3), ' in table


def test_answer_table_check_sees_a_changed_figure(tmp_path, capsys):
    tool = load_tool('tools/docs/answer_table.py')
    readme = tmp_path / 'README.md'
    readme.write_text(README.read_text().replace(
        'mIoU +0.98 (3/3), bF +2.59', 'mIoU +0.99 (3/3), bF +2.59', 1))
    assert tool.main(['--check', '--readme', str(readme)]) == 1
    assert 'tools/docs/answer_table.py --write' in capsys.readouterr().out
    assert tool.main(['--write', '--readme', str(readme)]) == 0
    assert readme.read_text() == README.read_text()


def test_readme_figures_come_from_the_reports():
    text = section(README.read_text(), '## Does AAF help?')
    start, end = '<!-- answer-table:start -->', '<!-- answer-table:end -->'
    prose = text[:text.index(start)] + text[text.index(end):]
    unknown = figures(prose) - report_figures(*REPORTS) - set(EXTERNAL)
    assert not unknown, (
        f'the README quotes {sorted(unknown)}, which no report holds')


@pytest.mark.parametrize('page', sorted(PAGES))
def test_result_page_tables_quote_the_reports(page):
    reports, elsewhere = PAGES[page]
    known = report_figures(*reports)
    text = without_code_blocks((DOCS / 'results' / page).read_text())
    rows = [row for row in table_rows(text) if row[0] not in elsewhere]
    assert rows
    wrong = [(row[0], sorted(figures(' '.join(row)) - known))
             for row in rows if figures(' '.join(row)) - known]
    assert not wrong, f'{page}: figures no report holds: {wrong}'


def test_the_fused_kernel_rerun_table_quotes_its_records():
    """Each row: the study's seed-0 record -> the rerun's, per measure."""
    import json
    records = DOCS / 'compare_drive'
    text = (DOCS / 'results' / 'drive.md').read_text()
    for slug, name in RERUN_NAMES.items():
        cells = []
        for folder in ('records', 'fused_kernel/records'):
            record = json.loads(
                (records / folder / slug / 'seed0.json').read_text())
            per_class = record['per_class']
            cells.append([record['metrics']['mDice'], per_class['Dice'][1],
                          per_class['IoU'][1], record['metrics']['clDice'],
                          record['metrics']['bFscore'],
                          record['metrics']['mBIoU']])
        row = ' | '.join(f'{a:.2f} → {b:.2f} ({b - a:+.2f})'
                         for a, b in zip(*cells))
        assert f'| {name}, seed 0 | {row} |' in text, name
