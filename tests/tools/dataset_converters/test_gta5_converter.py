# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""tools/dataset_converters/gta5.py and the conversion it runs."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from mmseg_aaf.datasets import gta5_conversion
from mmseg_aaf.datasets.gta5_conversion import (CITYSCAPES_ID_TO_TRAIN_ID,
                                                LABEL_ID_TO_TRAIN_ID,
                                                convert_gta5, id_ranges)
from tests.conftest import REPO_ROOT
from tests.datasets.miniature import write_gta5

pytestmark = pytest.mark.integration

TOOL = REPO_ROOT / 'tools' / 'dataset_converters' / 'gta5.py'


def run(root, *args):
    """Run the tool; return (exit code, stdout + stderr)."""
    proc = subprocess.run(
        [sys.executable, str(TOOL), str(root), *args],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    return proc.returncode, proc.stdout + proc.stderr


def output(root, id_):
    return root / 'labels' / f'{id_}_labelTrainIds.png'


def read(path):
    with Image.open(path) as image:
        return image.mode, np.array(image)


def test_lookup_table_is_the_cityscapes_table():
    table = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8,
             22: 9, 23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16,
             32: 17, 33: 18}
    assert CITYSCAPES_ID_TO_TRAIN_ID == table
    assert LABEL_ID_TO_TRAIN_ID.shape == (256, )
    for label_id in range(256):
        assert LABEL_ID_TO_TRAIN_ID[label_id] == table.get(label_id, 255)


def test_palette_label_is_mapped_by_index(tmp_path):
    # Every possible label id once, in a palette PNG whose colours are
    # unrelated to the indices (reading RGB or L would give other values).
    ids = np.arange(256, dtype=np.uint8).reshape(16, 16)
    label = Image.frombytes('P', (16, 16), ids.tobytes())
    colours = np.random.default_rng(0).integers(0, 256, (256, 3))
    label.putpalette(colours.astype(np.uint8).flatten().tolist())
    (tmp_path / 'labels').mkdir()
    (tmp_path / 'images').mkdir()
    label.save(tmp_path / 'labels' / '00001.png')
    Image.new('RGB', (16, 16)).save(tmp_path / 'images' / '00001.png')
    assert not np.array_equal(np.array(label.convert('L')), ids)

    code, text = run(tmp_path, '--allow-missing')
    assert code == 0, text
    mode, train_ids = read(output(tmp_path, '00001'))
    assert mode == 'L'
    expected = np.full(256, 255, np.uint8)
    for label_id, train_id in CITYSCAPES_ID_TO_TRAIN_ID.items():
        expected[label_id] = train_id
    np.testing.assert_array_equal(train_ids, expected[ids])
    assert (train_ids == 255).sum() == 256 - 19  # unknown ids -> 255


def test_parallel_conversion_and_part1_split(tmp_path):
    ids = ['00001', '00002', '02500', '02501']
    write_gta5(tmp_path, ids=ids)
    code, text = run(tmp_path, '--nproc', '2', '--allow-missing')
    assert code == 0, text
    for id_ in ids:
        with Image.open(tmp_path / 'labels' / f'{id_}.png') as label:
            expected = LABEL_ID_TO_TRAIN_ID[np.array(label)]
        np.testing.assert_array_equal(read(output(tmp_path, id_))[1],
                                      expected)
    # Part 1 is 00001..02500: 02501 belongs to Part 2.
    split = (tmp_path / 'part1.txt').read_text().split()
    assert split == ['00001', '00002', '02500']
    assert 'converted 4 label(s)' in text
    assert '2497 Part 1 id(s) with neither image nor label' in text
    assert '00003-02499' in text


def test_resume_skips_finished_files(tmp_path):
    write_gta5(tmp_path, ids=['00001', '00002', '00003'])
    code, text = run(tmp_path, '--allow-missing')
    assert code == 0 and 'converted 3 label(s)' in text, text
    mtimes = {i: output(tmp_path, i).stat().st_mtime_ns
              for i in ('00001', '00002', '00003')}

    code, text = run(tmp_path, '--allow-missing')
    assert code == 0, text
    assert 'converted 0 label(s), skipped 3 already converted' in text
    for id_, mtime in mtimes.items():
        assert output(tmp_path, id_).stat().st_mtime_ns == mtime

    # A deleted output and a truncated one (as from a foreign crash) are
    # redone; the finished one is kept.
    output(tmp_path, '00002').unlink()
    data = output(tmp_path, '00003').read_bytes()
    output(tmp_path, '00003').write_bytes(data[:len(data) // 2])
    code, text = run(tmp_path, '--allow-missing')
    assert code == 0, text
    assert 'converted 2 label(s), skipped 1 already converted' in text
    assert output(tmp_path, '00001').stat().st_mtime_ns == mtimes['00001']
    read(output(tmp_path, '00003'))  # readable again


def test_output_of_wrong_size_is_redone(tmp_path):
    write_gta5(tmp_path, ids=['00001'])
    Image.new('L', (5, 5)).save(output(tmp_path, '00001'))
    report = convert_gta5(str(tmp_path))
    assert report.converted == ['00001'] and not report.errors
    assert read(output(tmp_path, '00001'))[1].shape == (64, 128)


def test_corrupt_label_is_reported_by_name(tmp_path):
    write_gta5(tmp_path, ids=['00001', '00002', '00003'])
    (tmp_path / 'labels' / '00002.png').write_bytes(b'not a png at all')
    data = (tmp_path / 'labels' / '00003.png').read_bytes()
    (tmp_path / 'labels' / '00003.png').write_bytes(data[:60])  # truncated
    code, text = run(tmp_path, '--allow-missing')
    assert code == 1
    assert '2 error(s):' in text
    assert 'labels/00002.png' in text and 'labels/00003.png' in text
    # The good file is still converted; the bad ones get no output.
    assert output(tmp_path, '00001').is_file()
    assert not output(tmp_path, '00002').exists()
    assert not output(tmp_path, '00003').exists()
    assert (tmp_path / 'part1.txt').read_text().split() == ['00001']


def test_rgb_label_is_an_error(tmp_path):
    write_gta5(tmp_path, ids=['00001'])
    Image.new('RGB', (128, 64)).save(tmp_path / 'labels' / '00001.png')
    report = convert_gta5(str(tmp_path))
    [error] = report.errors
    assert 'labels/00001.png' in error and "'RGB'" in error


def test_size_mismatch_is_an_error(tmp_path):
    write_gta5(tmp_path, ids=['00001'])
    Image.new('RGB', (100, 50)).save(tmp_path / 'images' / '00001.png')
    report = convert_gta5(str(tmp_path))
    [error] = report.errors
    assert '128x64' in error and '100x50' in error
    assert 'images/00001.png' in error
    assert report.part1_pairs == 0


def test_missing_partners_fail_unless_allowed(tmp_path):
    write_gta5(tmp_path, ids=['00001', '00002'], labels=['00001', '00003'])
    code, text = run(tmp_path)
    assert code == 1
    assert '1 image(s) without a label:' in text
    assert 'images/00002.png' in text
    assert '1 label(s) without an image:' in text
    assert 'labels/00003.png' in text
    assert (tmp_path / 'part1.txt').read_text().split() == ['00001']

    code, text = run(tmp_path, '--allow-missing')
    assert code == 0, text
    assert 'images/00002.png' in text  # still listed


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    """Outputs are written to a temporary name and renamed: a write that
    dies halfway leaves neither a partial output nor the temporary file."""
    write_gta5(tmp_path, ids=['00001'])
    written = []

    def broken_save(self, fp, *args, **kwargs):
        written.append(str(fp))
        with open(fp, 'wb') as f:
            f.write(b'\x89PNG half')
        raise OSError('disk full')

    monkeypatch.setattr(Image.Image, 'save', broken_save)
    report = convert_gta5(str(tmp_path))
    [error] = report.errors
    assert 'disk full' in error and 'labels/00001.png' in error
    [path] = written
    assert path != str(output(tmp_path, '00001'))
    assert os.path.dirname(path) == str(tmp_path / 'labels')
    assert sorted(os.listdir(tmp_path / 'labels')) == ['00001.png']


def test_missing_directory_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='images'):
        convert_gta5(str(tmp_path))
    code, text = run(tmp_path / 'nonexistent')
    assert code == 1
    assert text.strip() == (
        f'error: no directory {tmp_path / "nonexistent" / "images"}')


def test_truncated_image_is_unreadable(tmp_path):
    """A PNG cut short keeps its header: only decoding it finds the
    damage, which would otherwise surface in libpng during training."""
    write_gta5(tmp_path, ids=['00001', '00002'])
    image = tmp_path / 'images' / '00002.png'
    image.write_bytes(image.read_bytes()[:-200])
    with Image.open(image) as header_only:
        assert header_only.size == (128, 64)
    report = convert_gta5(str(tmp_path))
    [error] = report.errors
    assert error.startswith(f'{image}: unreadable image (')
    assert (tmp_path / 'part1.txt').read_text().split() == ['00001']


def test_unwritable_split_file_still_lists_the_file_errors(tmp_path):
    write_gta5(tmp_path, ids=['00001', '00002'])
    (tmp_path / 'labels' / '00002.png').write_bytes(b'not a png')
    (tmp_path / 'part1.txt').mkdir()  # cannot be replaced by a file
    proc = subprocess.run([sys.executable, str(TOOL), str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert '1 error(s):' in proc.stdout
    assert str(tmp_path / 'labels' / '00002.png') in proc.stdout
    assert proc.stderr.strip() == (
        f'error: cannot write the split file {tmp_path / "part1.txt"}: '
        'Is a directory')
    assert output(tmp_path, '00001').is_file()


def test_stale_temporary_files_are_removed(tmp_path):
    """``kill -9`` leaves a temporary file behind; the next run removes it,
    unless the process that writes it is still alive."""
    write_gta5(tmp_path, ids=['00001'])
    pid_max = int(open('/proc/sys/kernel/pid_max').read())
    stale = [tmp_path / 'labels' / f'.00001_labelTrainIds.png.{pid_max}.tmp',
             tmp_path / f'.part1.txt.{pid_max}.tmp']
    live = tmp_path / 'labels' / f'.00002_labelTrainIds.png.{os.getpid()}.tmp'
    for path in stale + [live]:
        path.write_bytes(b'\x89PNG half')
    report = convert_gta5(str(tmp_path))
    assert report.removed_tmp == [str(path) for path in stale]
    assert ('removed 2 temporary file(s) left by an interrupted run:'
            in report.lines())
    assert not any(path.exists() for path in stale)
    assert live.exists()
    hidden = [p.name for p in tmp_path.rglob('.*') if p != live]
    assert hidden == []


def test_ctrl_c_with_workers_is_one_line(tmp_path):
    """Ctrl-C reaches every process of the group: one line, exit 130."""
    write_gta5(tmp_path, ids=['00001', '00002', '00003'])
    # A FIFO without a writer blocks its worker for good, so the run is
    # surely still going when it is interrupted.
    (tmp_path / 'labels' / '00003.png').unlink()
    os.mkfifo(tmp_path / 'labels' / '00003.png')
    proc = subprocess.Popen(
        [sys.executable, str(TOOL), str(tmp_path), '--nproc', '2'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        deadline = time.time() + 120
        while not (output(tmp_path, '00001').exists()
                   and output(tmp_path, '00002').exists()):
            assert time.time() < deadline and proc.poll() is None
            time.sleep(0.1)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr
    assert 'Traceback' not in stderr + stdout
    assert stderr.strip().splitlines() == [
        'GTA5 conversion: interrupted; finished files are kept, run the '
        'same command again to continue'
    ]


def test_id_ranges():
    assert id_ranges(['00005', '00001', '00002', '00003', '00010']) == [
        '00001-00003', '00005', '00010'
    ]
    assert id_ranges([]) == []


def test_module_has_no_side_effects_on_import():
    # The tool imports the module; the table must stay read-only.
    with pytest.raises(ValueError):
        gta5_conversion.LABEL_ID_TO_TRAIN_ID[0] = 1
