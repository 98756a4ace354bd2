# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The benchmark's report: the machine line, the table of targets, units.

A :class:`Report` row is a target (PASS or MISS against its limit, or SKIP
where it is not judged: a GPU target measured on the CPU), a piece of
information, or a target not measured and why. The rows print as a table
and go into ``--json`` as they are.
"""
import os
import platform

import torch

GIB = float(1 << 30)
MIB = float(1 << 20)


def machine_description(device: str) -> str:
    cpu = platform.processor() or 'unknown cpu'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    text = (f'CPU: {cpu}, {os.cpu_count()} logical cores, torch '
            f'{torch.__version__}, {torch.get_num_threads()} intra-op '
            f'threads, 1-minute load average {os.getloadavg()[0]:.1f}')
    if device.startswith('cuda'):
        text += f'; GPU: {torch.cuda.get_device_name(device)}'
    return text


class Report:
    """Rows of targets and information, printed as a table or as JSON."""

    COLUMNS = ('target', 'measured', 'limit', 'result', 'floor', 'note')

    def __init__(self):
        self.rows = []

    def target(self, name: str, measured: float, limit: float, unit: str,
               note: str = '', floor: str = '', enforced: bool = True):
        """Add a target row: PASS or MISS, or SKIP when not ``enforced``
        (a GPU target measured on the CPU)."""
        ok = measured <= limit
        result = ('PASS' if ok else 'MISS') if enforced else 'SKIP'
        self.rows.append(
            dict(target=name, measured=f'{measured:.3g}{unit}',
                 limit=f'<= {limit:g}{unit}', result=result, floor=floor,
                 note=note, value=measured, limit_value=limit, unit=unit))
        return ok

    def info(self, name: str, text: str):
        self.rows.append(dict(target=name, measured=text, limit='',
                              result='info', floor='', note=''))

    def skip(self, name: str, reason: str):
        """A target that was not measured here, and why."""
        self.rows.append(dict(target=name, measured='', limit='',
                              result='SKIP', floor='', note=reason))

    def print(self):
        columns = [c for c in self.COLUMNS
                   if c == 'target' or any(r[c] for r in self.rows)]
        widths = [max(len(str(r[c])) for r in self.rows + [
            dict(zip(columns, columns))]) for c in columns]
        line = ' | '.join(c.ljust(w) for c, w in zip(columns, widths))
        print(line)
        print('-' * len(line))
        for row in self.rows:
            print(' | '.join(str(row[c]).ljust(w)
                             for c, w in zip(columns, widths)).rstrip())


def fmt_ms(seconds: float) -> str:
    return f'{seconds * 1e3:.1f} ms'


def fmt_mib(num_bytes: float) -> str:
    return f'{num_bytes / MIB:.1f} MiB'


def fmt_flops(flops: float) -> str:
    if flops >= 1e12:
        return f'{flops / 1e12:.2f} TFLOP'
    return f'{flops / 1e9:.1f} GFLOP'
