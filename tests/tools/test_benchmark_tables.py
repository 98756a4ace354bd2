# Copyright (c) mmseg_aaf contributors. All rights reserved.
import csv
import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from mmseg_aaf.evaluation.per_class_results import (dump_per_class_results,
                                                    load_result_file)


@pytest.fixture(scope='module')
def tool(repo_root):
    path = repo_root / 'tools' / 'analysis' / 'benchmark_tables.py'
    spec = importlib.util.spec_from_file_location('benchmark_tables', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_results(path, classes, iou):
    dump_per_class_results(
        str(path), classes, dict(IoU=iou),
        dict(IoU=float(np.nanmean(iou))))
    return str(path)


def test_writes_markdown_latex_and_csv(tool, tmp_path):
    classes = ['road', 'side_walk']
    base = write_results(tmp_path / 'a.json', classes, [90.0, 70.0])
    # A flat per-class file is read too; its mean comes from "mIoU".
    flat = tmp_path / 'b.json'
    flat.write_text(json.dumps(dict(classes=classes, IoU=[92.5, 71.0],
                                    mIoU=81.75)))
    out_dir = tmp_path / 'tables'
    written = tool.main([base, str(flat), '--names', 'PSPNet', 'PSPNet+AAF',
                         '--baseline', 'PSPNet', '--out-dir', str(out_dir)])
    assert sorted(written) == sorted(
        str(out_dir / name) for name in ('IoU.md', 'IoU.tex', 'IoU.csv'))

    rows = list(csv.reader(open(out_dir / 'IoU.csv')))
    assert rows == [['Method', 'road', 'side_walk', 'mean'],
                    ['PSPNet', '90.0', '70.0', '80.0'],
                    ['PSPNet+AAF', '92.5', '71.0', '81.8'],
                    ['PSPNet+AAF - PSPNet', '+2.5', '+1.0', '+1.8']]
    markdown = (out_dir / 'IoU.md').read_text().splitlines()
    assert markdown[0] == '| Method | road | side_walk | mean |'
    assert markdown[-1] == '| PSPNet+AAF - PSPNet | +2.5 | +1.0 | +1.8 |'
    latex = (out_dir / 'IoU.tex').read_text()
    assert latex.startswith('\\begin{tabular}{lrrr}')
    assert 'side\\_walk' in latex
    assert 'PSPNet+AAF & 92.5 & 71.0 & 81.8 \\\\' in latex
    assert latex.rstrip().endswith('\\end{tabular}')


def test_undefined_values_print_as_dash(tool, tmp_path):
    a = write_results(tmp_path / 'a.json', ['x', 'y'], [50.0, float('nan')])
    assert load_result_file(a).per_class['IoU'][1] != 0  # NaN kept
    tool.main([a, '--names', 'A', '--format', 'csv', '--out-dir',
               str(tmp_path)])
    assert (tmp_path / 'IoU.csv').read_text().splitlines()[1] == (
        'A,50.0,-,50.0')


def test_summary_files_give_a_summary_table(tool, tmp_path):
    for name, miou in (('a', 70.0), ('b', 72.25)):
        (tmp_path / f'{name}.json').write_text(
            json.dumps(dict(aAcc=90.0, mIoU=miou, step=100)))
    tool.main([str(tmp_path / 'a.json'), str(tmp_path / 'b.json'),
               '--names', 'A', 'B', '--baseline', 'A', '--format', 'csv',
               '--decimals', '2', '--out-dir', str(tmp_path)])
    rows = list(csv.reader(open(tmp_path / 'summary.csv')))
    assert rows == [['Method', 'aAcc', 'mIoU'], ['A', '90.00', '70.00'],
                    ['B', '90.00', '72.25'], ['B - A', '+0.00', '+2.25']]


def test_refuses_mismatched_classes(tool, tmp_path):
    a = write_results(tmp_path / 'a.json', ['road', 'car'], [1.0, 2.0])
    b = write_results(tmp_path / 'b.json', ['road', 'bus'], [1.0, 2.0])
    with pytest.raises(ValueError, match='class lists differ'):
        tool.main([a, b, '--names', 'A', 'B', '--out-dir', str(tmp_path)])
    assert not (tmp_path / 'IoU.md').exists()


def test_cli_reports_errors_without_traceback(repo_root, tmp_path):
    a = write_results(tmp_path / 'a.json', ['road', 'car'], [1.0, 2.0])
    b = write_results(tmp_path / 'b.json', ['road', 'bus'], [1.0, 2.0])
    proc = subprocess.run(
        [sys.executable,
         str(repo_root / 'tools' / 'analysis' / 'benchmark_tables.py'), a, b,
         '--names', 'A', 'B', '--out-dir', str(tmp_path)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert 'class lists differ' in proc.stderr
    assert 'Traceback' not in proc.stderr


@pytest.mark.parametrize('argv, message', [
    (['--names', 'A', 'B'], '1 result files but 2 names'),
    (['--names', 'A', '--baseline', 'Z'], "baseline 'Z'"),
    (['--names', 'A', '--metrics', 'bFscore'],
     "no per-class metric 'bFscore'"),
])
def test_bad_arguments(tool, tmp_path, argv, message):
    a = write_results(tmp_path / 'a.json', ['road'], [1.0])
    with pytest.raises(ValueError, match=message):
        tool.main([a] + argv + ['--out-dir', str(tmp_path)])
