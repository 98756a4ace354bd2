# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The benchmark's fused suite: its inputs, and one quick run that reports
every target (the ratios themselves are measured by make benchmark, not
asserted here: the machines are shared and noisy)."""
from argparse import Namespace

import pytest

from mmseg_aaf.benchmark import cases
from mmseg_aaf.benchmark.fused import fused_suite, vessel_labels


def test_vessel_labels_are_thin_structures():
    labels = vessel_labels(4, 64, 64)
    assert labels.shape == (4, 64, 64) and set(labels.unique().tolist()) == {
        0, 1}
    share = labels.float().mean().item()
    assert 0.05 < share < 0.35
    # Thin: most vessel pixels touch the background within two pixels.
    vessel = labels == 1
    eroded = vessel.clone()
    for shift in ((2, 0), (-2, 0), (0, 2), (0, -2)):
        eroded &= vessel.roll(shift, dims=(1, 2))
    assert eroded.sum() < 0.5 * vessel.sum()


@pytest.mark.integration
def test_a_quick_run_reports_every_target(monkeypatch):
    monkeypatch.setitem(cases.SHAPES, 'full-small', (1, 32, 64, 8))
    args = Namespace(device='cpu', repeats=2, quick=True, skip_pspnet=False,
                     pspnet_pairs=2)
    report = fused_suite(args)
    targets = [row['target'] for row in report.rows]
    assert targets == [
        'DRIVE shape, 1 thread: fused/torch',
        'DRIVE shape, 1 thread: fused/CE',
        '1x19x32x64, 2 threads: fused/CE',
        'P1 1/8 grid: fused/torch',
        'DRIVE step, 1 thread: CE + AAF / CE',
        'DRIVE step, 1 thread: CE + Dice + AAF / CE + Dice',
    ]
    assert all(row['value'] > 0 for row in report.rows)
