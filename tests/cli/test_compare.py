# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``mmseg-aaf-compare`` end to end: ``--quick`` on the CPU CamVid PSPNet
over a miniature CamVid (every method kind, 2 seeds, real trainings and
tests with mmengine's ``Runner``), a resumed rerun with an ETA, the
reports, and the one-line errors with nothing trained; ``--report-only``
over the committed records of a study, in this process."""
import json
import math
import os
import shutil
import subprocess
import sys

import pytest

from mmseg_aaf.comparison.records import (convert_legacy_record,
                                          record_path)
from tests.conftest import REPO_ROOT
from tests.datasets.miniature import write_camvid_segnet

BASELINE = str(REPO_ROOT / 'configs' / 'camvid' /
               'pspnet_r18_ce_camvid-cpu.py')
LOVASZ = str(REPO_ROOT / 'configs' / 'camvid' /
             'pspnet_r18_lovasz_camvid-cpu.py')
METHODS = ['ce', '+dice', '+aaf', '+dice+aaf', f'lovasz={LOVASZ}']
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def compare(*args, cwd):
    return subprocess.run(
        [sys.executable, '-m', 'mmseg_aaf.cli.compare', *args], cwd=cwd,
        capture_output=True, text=True, timeout=900)


@pytest.fixture(scope='module')
def camvid_root(tmp_path_factory):
    from mmseg_aaf.datasets.camvid_conversion import convert_camvid
    root = tmp_path_factory.mktemp('camvid')
    segnet = write_camvid_segnet(root / 'segnet', names=dict(
        train=['0001TP_006690', '0001TP_006720', '0001TP_006750'],
        val=['0016E5_07959', '0016E5_07961']))
    report = convert_camvid(str(segnet), str(root / 'data'), scale=1.0)
    assert not report.failed()
    return root / 'data'


def data_options(root):
    return ['--cfg-options', f'train_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}']


@pytest.mark.integration
def test_quick_study_end_to_end_and_resumed(tmp_path, camvid_root):
    args = [BASELINE, '--methods', *METHODS, '--seeds', '2', '--quick',
            '--work-dir', 'cmp', '--loss-options', 'downsample=4',
            '--subset', 'thin=pole,signsymbol,fence', '--threads', '1',
            '--show', '1', '--zoom', '0.5',
            *data_options(camvid_root)]
    proc = compare(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    work = tmp_path / 'cmp' / 'quick'
    records = {}
    for slug in ('ce', 'dice', 'aaf', 'dice+aaf', 'lovasz'):
        for seed in (0, 1):
            with open(record_path(str(work / 'records'), slug, seed)) as f:
                records[slug, seed] = json.load(f)
    for (slug, seed), record in records.items():
        assert record['seed'] == seed and record['iters'] == 2
        assert list(record['metrics'])[:2] == ['aAcc', 'mIoU']
        assert {'bFscore', 'mBIoU'} <= set(record['metrics'])
        assert all(math.isfinite(v) for v in record['metrics'].values())
        assert len(record['per_class']['classes']) == 11
        assert {'IoU', 'bFscore', 'BIoU'} <= set(record['per_class'])
    # Seeds train differently; the derived configs are what they say.
    assert records['ce', 0]['per_class']['IoU'] != \
        records['ce', 1]['per_class']['IoU']
    assert records['ce', 0]['kernel_sizes'] is None
    assert len(records['dice+aaf', 0]['kernel_sizes']['edge']) == 11
    assert records['lovasz', 0]['config'] == LOVASZ
    combo = (work / 'configs' / 'pspnet_r18_ce_camvid-cpu_dice+aaf.py')
    assert records['dice+aaf', 0]['config'] == str(combo.relative_to(
        tmp_path)) or records['dice+aaf', 0]['config'] == str(combo)
    scalars = next((work / 'dice+aaf' / 'seed0').glob(
        '*/vis_data/scalars.json'))
    logged = scalars.read_text()
    assert 'decode.loss_dice' in logged and 'decode.loss_aaf' in logged
    # The same run in the old loss comparison's record layout converts
    # back into this record, field for field.
    fresh = records['aaf', 0]
    old = dict(model='pspnet', method='aaf', seed=0, config=fresh['config'],
               iters=fresh['iters'],
               metrics=dict(fresh['metrics'], thin_mIoU=1.0),
               per_class={k: v for k, v in fresh['per_class'].items()
                          if k != 'classes'},
               kernel_sizes=fresh['kernel_sizes'],
               train_seconds=fresh['train_seconds'])
    converted = convert_legacy_record(
        old, '+aaf', '+ AAF', fresh['config_hash'],
        fresh['per_class']['classes'], fresh['kernel_size_candidates'])
    shared = set(converted) & set(fresh)
    assert len(shared) == 13
    assert {k: converted[k] for k in shared} == {k: fresh[k] for k in shared}
    # Reports: every method, the focus (the last) against each other one.
    text = (work / 'results.md').read_text()
    assert '| Method | seeds | aAcc | mIoU | mAcc |' in text
    assert 'thin mIoU |' in text
    for name in ('| CE | 2 |', '| + Dice | 2 |', '| + AAF | 2 |',
                 '| + Dice + AAF | 2 |', '| lovasz | 2 |',
                 '| lovasz - Dice |', 'Per-class BIoU'):
        assert name in text, name
    assert (work / 'chart.png').read_bytes()[:8] == PNG_SIGNATURE
    assert records['dice+aaf', 0]['kernel_size_candidates'] == [3, 5, 7]
    for slug in ('aaf', 'dice+aaf'):
        assert (work / f'kernel_sizes_{slug}.png').read_bytes()[:8] == \
            PNG_SIGNATURE
    assert not (work / 'kernel_sizes_dice.png').exists()
    # The qualitative figure: seed 0's predictions of the val image with
    # most thin-class pixels, in a window of half its sides.
    shown = json.loads((work / 'shown.json').read_text())
    assert len(shown['images']) == 1
    assert shown['images'][0]['window'][2:] == [36, 48]  # 72 x 96 images
    assert (work / 'qualitative.png').read_bytes()[:8] == PNG_SIGNATURE
    assert len(list(work.glob('*/seed0/predictions/*.png'))) == 5
    assert not list(work.glob('*/seed1/predictions'))
    assert 'about' in proc.stdout and 'left' in proc.stdout

    # A stop after some runs: two records gone, the rest kept. The rerun
    # trains only those two, with an ETA from the recorded runs' times,
    # and prints no ETA on recorded lines.
    for slug, seed in (('aaf', 1), ('lovasz', 1)):
        (work / 'records' / slug / f'seed{seed}.json').unlink()
        (work / slug / f'seed{seed}' / 'trained.json').unlink()
    again = compare(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-4000:]
    lines = again.stdout.splitlines()
    recorded = [line for line in lines if '(recorded)' in line]
    assert len(recorded) == 8 and not any('left' in line
                                          for line in recorded)
    trained = [line for line in lines if line.startswith('[')
               and '(recorded)' not in line]
    assert [line.split(':')[0] for line in trained] == [
        '[8/10] + AAF, seed 1', '[10/10] lovasz, seed 1']
    assert 'about 0m00s left' not in trained[0]
    assert 'left' in trained[0] and 'left' in trained[1]
    assert 'resuming from the last checkpoint' in again.stdout

    # Editing a method's config makes its records stale: refused, by name.
    stale = compare(*args[:-3], '--cfg-options',
                    f'train_dataloader.dataset.data_root={camvid_root}',
                    f'test_dataloader.dataset.data_root={camvid_root}',
                    'model.decode_head.dropout_ratio=0.3', cwd=tmp_path)
    assert stale.returncode == 1
    assert stale.stderr.startswith('error: ') and \
        'seed0.json was recorded for another config' in stale.stderr
    assert len(stale.stderr.strip().splitlines()) == 1


@pytest.mark.integration
@pytest.mark.parametrize('args, message', [
    (['missing.py'], 'config not found: missing.py'),
    ([BASELINE, '--methods', 'ce', '+focal'], "unknown addition '+focal'"),
    ([BASELINE, '--methods', 'ce', '+aaf', '--loss-options', 'radius=2'],
     "AAFLoss has no setting 'radius'"),
    ([str(REPO_ROOT / 'configs' / 'camvid' / 'pspnet_r18_dice_camvid-cpu.py'),
      '--methods', 'ce', '+dice'], 'already holds CrossEntropyLoss, '
     'DiceLoss'),
    (['mmseg::maskformer/maskformer_r50-d32_8xb2-160k_ade20k-512x512.py',
      '--methods', 'ce', '+dice'], 'mask classification'),
    ([BASELINE, '--subset', 'thin=pole,tram'], 'no class tram'),
    ([BASELINE, '--seeds', '0'], '--seeds must be >= 1'),
])
def test_bad_input_is_one_error_line_and_nothing_trained(tmp_path, args,
                                                         message):
    proc = compare(*args, '--work-dir', 'cmp', cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr
    assert message in lines[0]
    assert not list(tmp_path.glob('cmp/**/*.pth'))


#: The committed records of the CamVid schedule check (``make
#: compare-schedule``), its CE and + Dice with the arguments they were
#: recorded with.
SCHEDULE = REPO_ROOT / 'docs' / 'compare_losses' / 'pspnet_2400it'
SCHEDULE_ARGS = [
    BASELINE, '--methods', 'ce', '+dice', '--iters', '2400',
    '--subset', 'thin=pole,signsymbol,fence,pedestrian,bicyclist',
    '--measures', 'mIoU', 'bFscore', 'mBIoU', 'thin_mIoU']


def test_report_only_trains_nothing_and_writes_the_reports(
        tmp_path, monkeypatch, capsys):
    """Seed 3 has no record, so a study would train it; ``--report-only``
    trains nothing and reports the three recorded seeds, as committed."""
    from mmseg_aaf.cli.compare import main
    shutil.copytree(SCHEDULE / 'records', tmp_path / 'records')
    monkeypatch.chdir(tmp_path)
    assert main([*SCHEDULE_ARGS, '--seeds', '4', '--work-dir', 'cmp',
                 '--records', 'records', '--report-dir', 'reports',
                 '--report-only']) == 0
    assert capsys.readouterr().err == ''
    # Only the derived configs: no run folder, no checkpoint, no record.
    assert os.listdir('cmp') == ['configs']
    assert not list(tmp_path.rglob('*.pth'))
    assert sorted(p.relative_to(tmp_path / 'records') for p in
                  (tmp_path / 'records').rglob('*')) == sorted(
        p.relative_to(SCHEDULE / 'records') for p in
        (SCHEDULE / 'records').rglob('*'))
    # CE's and + Dice's rows of every table, as the committed report has
    # them (mean over seeds 0-2, differences, per-class tables).
    text = (tmp_path / 'reports' / 'results.md').read_text()
    rows = [line for line in (SCHEDULE / 'results.md').read_text()
            .splitlines() if line.startswith(('| CE |', '| + Dice |',
                                              '| + Dice - CE |'))]
    assert len(rows) == 21
    assert rows[0].startswith('| CE | 3 | 52.61 ± 0.50 |')
    for row in rows:
        assert row in text
    assert (tmp_path / 'reports' / 'chart.png').read_bytes()[:8] == \
        PNG_SIGNATURE
    payload = json.loads((tmp_path / 'reports' / 'results.json').read_text())
    assert [run['seed'] for run in payload['methods']['+dice']['runs']] == [
        0, 1, 2]


@pytest.mark.parametrize('iters', ['0', '-5'])
def test_iters_below_1_is_one_error_line(tmp_path, monkeypatch, capsys,
                                         iters):
    from mmseg_aaf.cli.compare import main
    monkeypatch.chdir(tmp_path)
    assert main([BASELINE, '--methods', 'ce', '+aaf', '--iters', iters,
                 '--work-dir', 'cmp']) == 1
    assert capsys.readouterr().err == 'error: --iters must be >= 1\n'
    assert not (tmp_path / 'cmp').exists()


@pytest.mark.integration
def test_quick_tests_each_run_on_at_most_two_images(tmp_path):
    """5 test images; ``--quick`` tests each run on 2 and says so."""
    from tests.comparison.tiny_study import compare as compare_tiny
    from tests.comparison.tiny_study import study_args, write_data
    data = write_data(tmp_path / 'data', num_val=5)
    proc = compare_tiny(*study_args(data, 'ce', seeds=1), '--quick',
                        '--work-dir', 'cmp', cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'each tested on at most 2 test images' in proc.stdout
    record = json.loads((tmp_path / 'cmp' / 'quick' / 'records' / 'ce' /
                         'seed0.json').read_text())
    assert record['test_images'] == 2 and record['iters'] == 2
