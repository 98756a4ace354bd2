# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``make drive`` / ``python -m mmseg_aaf.datasets.drive_conversion``:
mmseg's own DRIVE converter on miniature zips in the official layout, and
the result read by mmseg's ``DRIVEDataset``; the command line it runs, parsed
by that converter's own parser."""
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmseg_aaf.datasets import drive_conversion
from mmseg_aaf.datasets.drive_conversion import (ConversionError,
                                                 check_converted,
                                                 convert_drive,
                                                 mmseg_converter)
from tests.conftest import REPO_ROOT
from tests.datasets.miniature import write_drive_zips

TRAINING, TEST = (21, 22, 23), (1, 2)


def zip_members(path: Path) -> dict:
    """{member name: decoded array} of a DRIVE zip: RGB images, grey
    GIFs (their palette indices resolved)."""
    out = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            with Image.open(io.BytesIO(archive.read(name))) as image:
                mode = 'L' if name.endswith('.gif') else 'RGB'
                out[name] = np.asarray(image.convert(mode))
    return out


def read(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """The miniature zips and what ``make drive`` made of them."""
    root = tmp_path_factory.mktemp('drive')
    src = write_drive_zips(root / 'download')
    # The Makefile's own target, run from `root` so that its data/DRIVE is
    # root/data/DRIVE, with this interpreter; -o: the install stamp counts
    # as done (the test runs inside that install).
    proc = subprocess.run(
        ['make', '-f', str(REPO_ROOT / 'Makefile'), '-o',
         '.venv/.mmseg_aaf-installed', 'drive', f'PY={sys.executable}',
         f'DRIVE={src}'],
        cwd=root, capture_output=True, text=True, timeout=300)
    out = root / 'data' / 'DRIVE'
    assert '--out-dir data/DRIVE' in proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return src, out, proc.stdout


@pytest.mark.integration
def test_the_converter_is_mmseg_s_own():
    import mmseg
    path = Path(mmseg_converter())
    assert path == (Path(mmseg.__file__).parent / '.mim' / 'tools' /
                    'dataset_converters' / 'drive.py')
    assert 'Convert DRIVE dataset to mmsegmentation format' in (
        path.read_text())


@pytest.mark.integration
def test_layout_of_drive_dataset(converted):
    _, out, stdout = converted
    names = {
        str(p.relative_to(out))
        for p in out.rglob('*') if p.is_file()
    }
    expected = set()
    for split, ids in (('training', TRAINING), ('validation', TEST)):
        for i in ids:
            expected.add(f'images/{split}/{i:02d}.png')
            expected.add(f'annotations/{split}/{i:02d}_manual1.png')
    # The second annotator's labels come along for the test split.
    expected |= {f'annotations/validation/{i:02d}_manual2.png' for i in TEST}
    assert names == expected
    assert ('data/DRIVE: training: 3 image(s), validation: 2 image(s); '
            'labels 0 = background, 1 = vessel') in stdout


@pytest.mark.integration
def test_labels_are_0_1_and_images_unchanged(converted):
    src, out, _ = converted
    for zip_name, folder, split, suffix, ids in (
            ('training.zip', 'training', 'training', '_training', TRAINING),
            ('test.zip', 'test', 'validation', '_test', TEST)):
        members = zip_members(src / zip_name)
        for i in ids:
            manual = members[f'{folder}/1st_manual/{i:02d}_manual1.gif']
            assert set(np.unique(manual)) == {0, 255}
            label = read(out / 'annotations' / split / f'{i:02d}_manual1.png')
            assert label.dtype == np.uint8 and label.ndim == 2
            np.testing.assert_array_equal(label, manual // 255)
            np.testing.assert_array_equal(
                read(out / 'images' / split / f'{i:02d}.png'),
                members[f'{folder}/images/{i:02d}{suffix}.tif'])


@pytest.mark.integration
def test_files_load_in_mmseg_drive_dataset(converted):
    from mmseg.datasets import DRIVEDataset
    _, out, _ = converted
    for split, ids in (('training', TRAINING), ('validation', TEST)):
        dataset = DRIVEDataset(
            data_root=str(out),
            data_prefix=dict(img_path=f'images/{split}',
                             seg_map_path=f'annotations/{split}'),
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='LoadAnnotations')])
        assert len(dataset) == len(ids)
        assert dataset.metainfo['classes'] == ('background', 'vessel')
        for index, i in enumerate(ids):
            item = dataset[index]
            assert Path(item['seg_map_path']).name == f'{i:02d}_manual1.png'
            np.testing.assert_array_equal(
                item['gt_seg_map'],
                read(out / 'annotations' / split / f'{i:02d}_manual1.png'))
            assert item['img'].shape[:2] == item['gt_seg_map'].shape
            assert set(np.unique(item['gt_seg_map'])) == {0, 1}


@pytest.mark.integration
def test_missing_zip_is_one_error_line(tmp_path):
    src = write_drive_zips(tmp_path / 'download')
    (src / 'test.zip').unlink()
    proc = subprocess.run(
        [sys.executable, '-m', 'mmseg_aaf.datasets.drive_conversion',
         str(src), '--out-dir', str(tmp_path / 'out')],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f'error: test.zip not found in {src}: put the DRIVE download '
        '(training.zip and test.zip) there, or pass its directory (make '
        'drive DRIVE=path/to/drive)'
    ]
    assert not (tmp_path / 'out').exists()
    with pytest.raises(ConversionError, match='training.zip and test.zip'):
        convert_drive(str(tmp_path / 'nowhere'), str(tmp_path / 'out'))


@pytest.mark.integration
def test_the_check_names_bad_outputs(converted, tmp_path):
    import shutil
    _, out, _ = converted
    copy = tmp_path / 'DRIVE'
    shutil.copytree(out, copy)
    assert not check_converted(str(copy)).failed()
    (copy / 'annotations' / 'training' / '22_manual1.png').unlink()
    Image.fromarray(np.full((60, 56), 255, np.uint8)).save(
        copy / 'annotations' / 'training' / '21_manual1.png')
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(
        copy / 'annotations' / 'validation' / '01_manual1.png')
    report = check_converted(str(copy))
    assert report.failed()
    text = '\n'.join(report.problems)
    assert '22.png: no annotation' in text
    assert '21_manual1.png: labels [255], expected 0 and 1' in text
    assert '01_manual1.png: (8, 8) but its image is (56, 60)' in text
    assert len(report.problems) == 3


def test_the_tmp_dir_reaches_the_converter_under_its_option(tmp_path,
                                                            monkeypatch):
    """``--tmp-dir`` becomes the option mmseg's converter takes for it:
    the command line, parsed by the converter's own parser, holds the
    zips, the output root and the temporary directory."""
    import importlib.util
    for name in ('training.zip', 'test.zip'):
        (tmp_path / name).touch()
    commands = []
    monkeypatch.setattr(
        drive_conversion.subprocess, 'run',
        lambda command: commands.append(command) or
        subprocess.CompletedProcess(command, 0))
    with pytest.raises(SystemExit):  # nothing converted: the check fails
        drive_conversion.main([str(tmp_path), '--out-dir',
                               str(tmp_path / 'out'), '--tmp-dir',
                               str(tmp_path / 'tmp')])
    command, = commands
    assert command[:2] == [sys.executable, mmseg_converter()]
    spec = importlib.util.spec_from_file_location('drive', command[1])
    converter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(converter)
    monkeypatch.setattr(sys, 'argv', command[1:])
    args = converter.parse_args()
    assert (args.training_path, args.testing_path, args.out_dir,
            args.tmp_dir) == (str(tmp_path / 'training.zip'),
                              str(tmp_path / 'test.zip'),
                              str(tmp_path / 'out'), str(tmp_path / 'tmp'))


@pytest.mark.integration
def test_the_converter_extracts_into_the_tmp_dir(tmp_path):
    """A temporary directory that exists is used and left empty; one that
    does not makes mmseg's converter fail."""
    src = write_drive_zips(tmp_path / 'download')
    tmp = tmp_path / 'tmp'
    tmp.mkdir()
    report = convert_drive(str(src), str(tmp_path / 'out'), str(tmp))
    assert not report.failed() and report.counts == dict(training=3,
                                                         validation=2)
    assert not list(tmp.iterdir())
    with pytest.raises(ConversionError, match='converter exited 1'):
        convert_drive(str(src), str(tmp_path / 'again'),
                      str(tmp_path / 'missing'))
