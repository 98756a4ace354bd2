# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""File writing and running shared by the dataset converters.

Converters are resumable: an output is written through a hidden temporary
file (``.NAME.<pid>.tmp``) and renamed, so a file under its final name is
always complete, and a rerun keeps every output that is already a readable
PNG of the expected size. A temporary file left by a killed run is removed
by the next one.

:func:`run_converter` gives both command lines the same behaviour on
failure: the per-file problems, then one ``error:`` line and exit 1; one
line and exit 130 on Ctrl-C.
"""
import multiprocessing
import os
import os.path as osp
import re
import signal
import sys
import tempfile
import threading
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.utils import ProgressBar
from PIL import Image

#: ``.NAME.<pid>.tmp``: the temporary name of an output being written.
_TMP_NAME = re.compile(r'\..+\.(\d+)\.tmp')


class ConversionError(Exception):
    """A converter cannot go on (an input or output directory is missing
    or cannot be written).

    Args:
        message (str): What went wrong, naming the path.
        report: What was done and found before, if anything; its
            ``lines()`` are printed before the error.
    """

    def __init__(self, message: str, report=None) -> None:
        super().__init__(message)
        self.report = report


def describe_os_error(error: OSError) -> str:
    """``/x: Read-only file system``: the reason and the path, without
    the errno."""
    reason = error.strerror or str(error)
    return f'{error.filename}: {reason}' if error.filename else reason


def image_size(path: str, decode: bool = False) -> Tuple[int, int]:
    """``(width, height)`` of an image; with ``decode`` the whole file is
    decoded, so that a file cut short is an error, not just its header."""
    with Image.open(path) as image:
        if decode:
            image.load()
        return image.size


def is_finished(path: str, size: Tuple[int, int]) -> bool:
    """Whether ``path`` is a readable PNG of ``size`` (width, height)."""
    if not osp.isfile(path):
        return False
    try:
        with Image.open(path) as image:
            if image.format != 'PNG' or image.size != tuple(size):
                return False
            image.verify()
        return True
    except Exception:
        return False


def _tmp_path(path: str) -> str:
    return osp.join(
        osp.dirname(path), f'.{osp.basename(path)}.{os.getpid()}.tmp')


def _write_atomically(path: str, write: Callable[[str], None]) -> None:
    """``write(tmp)`` then rename: never a partial file under ``path``."""
    tmp = _tmp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def write_png_atomically(array: np.ndarray, path: str) -> None:
    _write_atomically(
        path, lambda tmp: Image.fromarray(array).save(tmp, format='PNG'))


def write_text_atomically(text: str, path: str) -> None:

    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(text)

    _write_atomically(path, write)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def remove_stale_tmp(directory: str) -> List[str]:
    """Remove the temporary files that killed runs left in ``directory``.

    A temporary file whose writer is still running (another converter on
    the same output) is kept.

    Returns:
        list[str]: The removed paths.
    """
    if not osp.isdir(directory):
        return []
    removed = []
    for name in sorted(os.listdir(directory)):
        match = _TMP_NAME.fullmatch(name)
        path = osp.join(directory, name)
        if match and osp.isfile(path) and not _process_alive(
                int(match.group(1))):
            os.remove(path)
            removed.append(path)
    return removed


def ensure_writable_dir(directory: str) -> None:
    """Create ``directory`` if needed and make sure a file can be written
    there, before any work is done.

    Raises:
        ConversionError: It cannot be created or written, with the reason.
    """
    try:
        os.makedirs(directory, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix='.write-test.', dir=directory)
        os.close(fd)
        os.remove(probe)
    except OSError as error:
        raise ConversionError(f'cannot write to {directory}: '
                              f'{error.strerror or error}') from None


def _ignore_interrupt() -> None:
    # Ctrl-C reaches the whole process group; only the parent handles it,
    # so that one line is printed instead of one traceback per worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_tasks(func: Callable, tasks: Sequence, nproc: int = 1) -> List:
    """``[func(task) for task in tasks]`` with a progress bar, in ``nproc``
    worker processes when ``nproc > 1``.

    On Ctrl-C the workers are stopped and ``KeyboardInterrupt`` reaches the
    caller; outputs written so far are complete (see the module doc).
    """
    if not tasks:
        return []
    bar = ProgressBar(len(tasks))
    if nproc <= 1:
        results = []
        for task in tasks:
            results.append(func(task))
            bar.update()
        sys.stdout.write('\n')
        return results
    # A KeyboardInterrupt raised anywhere inside the pool's machinery (say,
    # while the main thread re-acquires the lock the result thread needs)
    # can leave terminate() waiting for ever. So while the pool runs,
    # Ctrl-C only sets a flag, the main thread polls the results, and the
    # interrupt is raised here, outside the pool, once it is stopped.
    interrupted = threading.Event()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = (signal.signal(signal.SIGINT,
                              lambda signum, frame: interrupted.set())
                if in_main_thread else None)
    pool = multiprocessing.Pool(nproc, initializer=_ignore_interrupt)
    try:
        results = []
        pending = pool.imap(func, tasks)
        while len(results) < len(tasks) and not interrupted.is_set():
            try:
                results.append(pending.next(timeout=0.1))
            except multiprocessing.TimeoutError:
                continue
            bar.update()
        if not interrupted.is_set():
            sys.stdout.write('\n')
            pool.close()
            return results
    finally:
        pool.terminate()
        pool.join()
        if in_main_thread:
            # None: the old handler was not set from Python.
            signal.signal(signal.SIGINT,
                          signal.SIG_DFL if previous is None else previous)
    raise KeyboardInterrupt


def run_converter(convert: Callable[[], object],
                  what: str,
                  failed: Optional[Callable[[object], bool]] = None) -> None:
    """The command-line end of a converter.

    Runs ``convert()``, prints its report's ``lines()`` and exits 1 with an
    ``error:`` line when ``failed(report)`` (default ``report.failed()``).
    A :class:`ConversionError`, a bad argument (``ValueError``) or a
    missing input ends in the per-file lines known so far, one ``error:``
    line on stderr and exit 1; Ctrl-C in one line and exit 130.
    """
    try:
        report = convert()
    except KeyboardInterrupt:
        print(flush=True)  # end the progress bar's line
        print(f'{what}: interrupted; finished files are kept, run the '
              'same command again to continue', file=sys.stderr)
        sys.exit(130)
    except (ConversionError, ValueError, OSError) as error:
        if getattr(error, 'report', None) is not None:
            print()
            print('\n'.join(error.report.lines()))
        message = (
            describe_os_error(error) if isinstance(error, OSError) else
            str(error))
        print(f'error: {message}', file=sys.stderr)
        sys.exit(1)
    print()
    print('\n'.join(report.lines()))
    if (failed or (lambda r: r.failed()))(report):
        print(f'error: {what} finished with the problems listed above',
              file=sys.stderr)
        sys.exit(1)
