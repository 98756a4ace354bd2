# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Timing and extra peak memory, and the memory subprocess.

Times are medians of interleaved calls after one warm-up call each. Memory
is the peak one call needs over what exists before it: RSS on the CPU
(``/proc/self/clear_refs`` and ``VmHWM``), the allocator's peak on CUDA.
:func:`memory_in_subprocess` measures one case in a fresh interpreter
running this module::

    python -m mmseg_aaf.benchmark.measure --memory-case plugin:paper

which prints ``{"extra": BYTES}`` as its last line.
"""
import argparse
import gc
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional

import torch

from .cases import build_variant, use_quick_scales

#: glibc settings of the memory subprocess: every buffer over 64 KiB is
#: its own mapping, and freed memory goes back to the OS.
_MMAP_ENV = {'MALLOC_MMAP_THRESHOLD_': '65536', 'MALLOC_TRIM_THRESHOLD_': '0'}
#: The folder that holds the ``mmseg_aaf`` package, for the subprocess.
_PACKAGE_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def return_freed_memory_to_os() -> None:
    """The same glibc settings as ``_MMAP_ENV``, for the running process."""
    try:
        import ctypes
        libc = ctypes.CDLL('libc.so.6')
    except OSError:
        return
    libc.mallopt(-3, 65536)  # M_MMAP_THRESHOLD
    libc.mallopt(-1, 0)  # M_TRIM_THRESHOLD


def configure_process(threads: int, quick: bool) -> None:
    """What a benchmark process sets before its first case, the memory
    subprocess alike: torch's intra-op threads (``--threads``, 0 leaves
    torch's), glibc's return of freed memory and the ``--quick`` sizes."""
    if threads:
        torch.set_num_threads(threads)
    return_freed_memory_to_os()
    if quick:
        use_quick_scales()


def median(values: List[float]) -> float:
    values = sorted(values)
    mid = len(values) // 2
    if len(values) % 2:
        return values[mid]
    return 0.5 * (values[mid - 1] + values[mid])


def time_interleaved(calls: Dict[str, Callable], repeats: int
                     ) -> Dict[str, dict]:
    """Median total, forward and backward seconds of each call."""
    samples = {name: [] for name in calls}
    for call in calls.values():
        call()  # warm-up: allocator, thread pools, lazy init
    for _ in range(repeats):
        for name, call in calls.items():
            samples[name].append(call())
    out = {}
    for name, runs in samples.items():
        out[name] = dict(
            total=median([f + b for f, b in runs]),
            fwd=median([f for f, _ in runs]),
            bwd=median([b for _, b in runs]))
    return out


def median_seconds(fn: Callable, device: str, repeats: int) -> float:
    """Median seconds of ``fn()`` after one warm-up call."""
    sync = (torch.cuda.synchronize if device.startswith('cuda') else
            (lambda: None))
    fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return median(times)


def _proc_status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'/proc/self/status has no {field}')


def reset_peak_rss() -> int:
    """Reset the peak RSS to the current RSS and return it, in bytes."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    return _proc_status_kib('VmRSS') * 1024


def peak_rss_since_reset() -> int:
    return _proc_status_kib('VmHWM') * 1024


def measure_extra_memory(call: Callable, device: str) -> int:
    """Peak bytes one ``call()`` needs over what exists before it."""
    call()  # warm-up, so that one-off allocations are not counted
    gc.collect()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        call()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    before = reset_peak_rss()
    call()
    return peak_rss_since_reset() - before


def memory_in_subprocess(variant: str, shape_name: str, args) -> int:
    """Run :func:`measure_extra_memory` for one case in a fresh process.

    ``args`` are the benchmark's (``device``, ``threads``, ``quick``). The
    subprocess runs this module with the package's folder first on its
    ``PYTHONPATH``, so it needs no installed plugin and no working
    directory.
    """
    cmd = [sys.executable, '-m', 'mmseg_aaf.benchmark.measure',
           '--memory-case', f'{variant}:{shape_name}', '--device',
           args.device]
    if args.threads:
        cmd += ['--threads', str(args.threads)]
    if args.quick:
        cmd += ['--quick']
    path = os.pathsep.join(
        filter(None, [_PACKAGE_ROOT, os.environ.get('PYTHONPATH')]))
    env = dict(os.environ, PYTHONPATH=path, **_MMAP_ENV)
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f'memory case {variant}:{shape_name} failed:\n'
                           f'{result.stderr[-3000:]}')
    return int(json.loads(result.stdout.strip().splitlines()[-1])['extra'])


def memory_case_main(argv: Optional[List[str]] = None) -> int:
    """The memory subprocess: one case's extra peak memory as JSON."""
    parser = argparse.ArgumentParser(
        prog='python -m mmseg_aaf.benchmark.measure',
        description='Extra peak memory of one fwd + bwd call of a benchmark '
        'case, printed as {"extra": BYTES} (run by memory_in_subprocess).')
    parser.add_argument('--memory-case', required=True,
                        metavar='VARIANT:SHAPE',
                        help='plugin, naive or ce, and a shape of '
                        'mmseg_aaf.benchmark.cases.SHAPES, e.g. plugin:paper')
    parser.add_argument('--device', default='cpu',
                        help='cpu or cuda (default: cpu)')
    parser.add_argument('--threads', type=int, default=0,
                        help='torch intra-op threads (default: torch\'s)')
    parser.add_argument('--quick', action='store_true',
                        help='the --quick sizes of the scaling cases')
    args = parser.parse_args(argv)
    configure_process(args.threads, args.quick)
    variant, shape_name = args.memory_case.split(':')
    call = build_variant(variant, shape_name, args.device)
    print(json.dumps(dict(extra=measure_extra_memory(call, args.device))))
    return 0


if __name__ == '__main__':
    sys.exit(memory_case_main())
