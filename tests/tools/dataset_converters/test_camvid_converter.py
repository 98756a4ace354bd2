# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""tools/dataset_converters/camvid.py and the conversion it runs."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmseg_aaf.datasets.camvid_conversion import (SOURCE_TO_LABEL,
                                                  convert_camvid,
                                                  median_frequency_weights,
                                                  to_labels)
from mmseg_aaf.datasets.conversion_io import ConversionError
from tests.conftest import REPO_ROOT
from tests.datasets.miniature import write_camvid_segnet

pytestmark = pytest.mark.integration

TOOL = REPO_ROOT / 'tools' / 'dataset_converters' / 'camvid.py'


def run(src, dst, *args):
    """Run the tool; return (exit code, stdout + stderr)."""
    proc = subprocess.run(
        [sys.executable, str(TOOL), str(src), str(dst), *args],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    return proc.returncode, proc.stdout + proc.stderr


def read(path):
    with Image.open(path) as image:
        return image.mode, np.array(image)


def test_label_table_keeps_classes_and_ignores_void():
    assert SOURCE_TO_LABEL.shape == (256, )
    for source_id in range(256):
        expected = source_id if source_id < 11 else (
            255 if source_id == 11 else -1)
        assert SOURCE_TO_LABEL[source_id] == expected


def test_invalid_ids_are_refused_by_name():
    with pytest.raises(ValueError, match=r'\[12, 255\]'):
        to_labels(np.array([[0, 11, 12], [255, 3, 10]], np.uint8))


def test_converts_every_split_with_exact_labels(tmp_path):
    src = write_camvid_segnet(
        tmp_path / 'segnet',
        names=dict(train=['a', 'b'], val=['c'], test=['d']))
    code, out = run(src, tmp_path / 'out')
    assert code == 0, out
    assert 'pairs found: train 2, val 1, test 1' in out
    for split, name in (('train', 'a'), ('train', 'b'), ('val', 'c'),
                        ('test', 'd')):
        _, source = read(src / f'{split}annot' / f'{name}.png')
        mode, label = read(tmp_path / 'out' / 'ann_dir' / split /
                           f'{name}.png')
        assert mode == 'L'
        expected = np.where(source == 11, 255, source)
        np.testing.assert_array_equal(label, expected)
        assert (label == 255).any()
        image_mode, image = read(tmp_path / 'out' / 'img_dir' / split /
                                 f'{name}.png')
        assert image_mode == 'RGB'
        np.testing.assert_array_equal(
            image, read(src / split / f'{name}.png')[1])


def test_scale_resizes_images_bilinearly_and_labels_by_nearest(tmp_path):
    src = write_camvid_segnet(tmp_path / 'segnet', size=(72, 96))
    code, out = run(src, tmp_path / 'out', '--scale', '0.5')
    assert code == 0, out
    _, source = read(src / 'trainannot' / '0001TP_006690.png')
    _, label = read(tmp_path / 'out' / 'ann_dir' / 'train' /
                    '0001TP_006690.png')
    assert label.shape == (36, 48)
    # Nearest: every value is a mapped source value; nothing in between.
    mapped = set(np.where(source == 11, 255, source).flat)
    assert set(label.flat) <= mapped
    assert (label == 255).any()
    expected = np.asarray(
        Image.fromarray(np.where(source == 11, 255, source).astype(
            np.uint8)).resize((48, 36), Image.NEAREST))
    np.testing.assert_array_equal(label, expected)
    _, image = read(tmp_path / 'out' / 'img_dir' / 'train' /
                    '0001TP_006690.png')
    with Image.open(src / 'train' / '0001TP_006690.png') as original:
        bilinear = np.asarray(original.resize((48, 36), Image.BILINEAR))
    assert image.shape == (36, 48, 3)
    np.testing.assert_array_equal(image, bilinear)


def test_unpaired_and_corrupt_files_are_named_and_fail(tmp_path):
    src = write_camvid_segnet(tmp_path / 'segnet')
    (src / 'train' / 'lonely.png').write_bytes(
        (src / 'train' / '0001TP_006690.png').read_bytes())
    (src / 'valannot' / 'orphan.png').write_bytes(
        (src / 'valannot' / '0016E5_07959.png').read_bytes())
    (src / 'train' / 'notes.txt').write_text('not an image')
    (src / 'trainannot' / '0001TP_006720.png').write_bytes(b'not a png')
    code, out = run(src, tmp_path / 'out')
    assert code == 1
    assert str(src / 'train' / 'lonely.png') in out
    assert str(src / 'valannot' / 'orphan.png') in out
    assert str(src / 'train' / 'notes.txt') in out
    assert '0001TP_006720.png: unreadable label' in out
    # The good pairs are still converted; the corrupt one is not written.
    out_dir = tmp_path / 'out'
    assert (out_dir / 'ann_dir' / 'train' / '0001TP_006690.png').exists()
    assert (out_dir / 'ann_dir' / 'val' / '0016E5_07959.png').exists()
    assert not (out_dir / 'img_dir' / 'train' / '0001TP_006720.png').exists()
    assert not (out_dir / 'img_dir' / 'train' / 'lonely.png').exists()


def test_size_mismatch_and_bad_ids_are_errors(tmp_path):
    src = write_camvid_segnet(tmp_path / 'segnet')
    Image.new('L', (10, 10)).save(src / 'trainannot' / '0001TP_006690.png')
    Image.new('L', (96, 72), 40).save(src / 'valannot' / '0016E5_07959.png')
    report = convert_camvid(str(src), str(tmp_path / 'out'))
    assert report.failed()
    assert any('label is 10x10 but its image' in e for e in report.errors)
    assert any('label ids [40]' in e for e in report.errors)
    assert report.converted == ['train/0001TP_006720.png']


def test_resumes_and_keeps_finished_outputs(tmp_path):
    src = write_camvid_segnet(tmp_path / 'segnet')
    dst = tmp_path / 'out'
    first = convert_camvid(str(src), str(dst), scale=0.5)
    assert len(first.converted) == 3 and not first.failed()
    kept = dst / 'ann_dir' / 'train' / '0001TP_006690.png'
    stamp = kept.stat().st_mtime_ns
    # An interrupted write leaves a truncated file: it is redone.
    broken = dst / 'img_dir' / 'val' / '0016E5_07959.png'
    broken.write_bytes(broken.read_bytes()[:50])
    second = convert_camvid(str(src), str(dst), scale=0.5)
    assert second.converted == ['val/0016E5_07959.png']
    assert sorted(second.skipped) == ['train/0001TP_006690.png',
                                      'train/0001TP_006720.png']
    assert kept.stat().st_mtime_ns == stamp
    assert read(broken)[1].shape == (36, 48, 3)
    # Another scale is another size: nothing is kept.
    third = convert_camvid(str(src), str(dst), scale=1.0)
    assert len(third.converted) == 3
    assert not [p for p in dst.rglob('*') if p.name.endswith('.tmp')]


def test_bad_arguments(tmp_path):
    src = write_camvid_segnet(tmp_path / 'segnet')
    with pytest.raises(ValueError, match='scale'):
        convert_camvid(str(src), str(tmp_path / 'out'), scale=1.5)
    with pytest.raises(ValueError, match='nproc'):
        convert_camvid(str(src), str(tmp_path / 'out'), nproc=0)
    code, out = run(tmp_path / 'empty', tmp_path / 'out')
    assert code == 1 and 'is it the SegNet CamVid folder?' in out


def test_unwritable_output_is_one_error_line(tmp_path):
    src = write_camvid_segnet(tmp_path / 'segnet')
    # sysfs refuses new directories to every user, root included.
    dst = Path('/sys/mmseg_aaf_camvid')
    code, out = run(src, dst)
    assert code == 1
    prefix = f'error: cannot write to {dst / "img_dir" / "train"}: '
    assert out.strip() in [
        prefix + reason
        for reason in ('Operation not permitted', 'Permission denied')
    ]
    # An output under a file: no directory can be made there.
    (tmp_path / 'file').write_text('')
    with pytest.raises(ConversionError, match=(
            f'cannot write to {tmp_path}/file/out/img_dir/train: Not a '
            'directory')):
        convert_camvid(str(src), str(tmp_path / 'file' / 'out'))


def test_stale_temporary_files_are_removed(tmp_path):
    src = write_camvid_segnet(tmp_path / 'segnet')
    dst = tmp_path / 'out'
    pid_max = int(open('/proc/sys/kernel/pid_max').read())
    stale = dst / 'ann_dir' / 'val' / f'.0016E5_07959.png.{pid_max}.tmp'
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b'\x89PNG half')
    report = convert_camvid(str(src), str(dst))
    assert report.removed_tmp == [str(stale)] and not stale.exists()
    assert not report.failed()
    assert 'removed 1 temporary file(s) left by an interrupted run:' in (
        report.lines())


def test_parallel_conversion_matches_serial(tmp_path):
    src = write_camvid_segnet(tmp_path / 'segnet')
    code, out = run(src, tmp_path / 'par', '--nproc', '2', '--scale', '0.5')
    assert code == 0, out
    convert_camvid(str(src), str(tmp_path / 'ser'), scale=0.5)
    for path in (tmp_path / 'ser').rglob('*.png'):
        twin = tmp_path / 'par' / path.relative_to(tmp_path / 'ser')
        np.testing.assert_array_equal(read(path)[1], read(twin)[1])


def test_median_frequency_weights(tmp_path):
    # Class 0 fills map a; class 1 covers 1/4 of map b, class 2 3/4 of it;
    # ignored pixels count for nothing.
    a = np.zeros((4, 4), np.uint8)
    b = np.full((4, 4), 2, np.uint8)
    b[:2, :2] = 1
    b[3, 3] = 255
    paths = []
    for name, label in (('a.png', a), ('b.png', b)):
        Image.fromarray(label).save(tmp_path / name)
        paths.append(str(tmp_path / name))
    weights = median_frequency_weights(paths, num_classes=3)
    frequency = np.array([16 / 16, 4 / 15, 11 / 15])
    pixels = np.array([16, 4, 11])
    expected = np.median(frequency) / frequency
    expected *= pixels.sum() / (expected * pixels).sum()
    np.testing.assert_allclose(weights, expected)
    # Averaged over the pixels, the weights are 1.
    assert (weights * pixels).sum() / pixels.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r'classes \[3\] never occur'):
        median_frequency_weights(paths, num_classes=4)
