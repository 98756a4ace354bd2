# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The benchmark's guard: nothing is timed unless plugin == naive."""
import pytest

from mmseg_aaf.benchmark import cases


def test_plugin_agrees_with_naive_at_the_paper_setting():
    message = cases.check_against_naive('cpu')
    assert message.startswith('plugin == naive')


def test_a_disagreement_stops_the_benchmark(monkeypatch):
    exact = cases.naive_loss
    # check_against_naive looks naive_loss up in its own module.
    monkeypatch.setattr(cases, 'naive_loss',
                        lambda *args: exact(*args) * 1.001)
    with pytest.raises(AssertionError):
        cases.check_against_naive('cpu')


def test_inputs_have_blocky_labels_with_five_percent_ignored():
    logits, labels = cases.make_inputs('paper', 'cpu')
    assert logits.shape == (2, 19, 64, 128)
    ignored = (labels == cases.IGNORE_INDEX).float().mean().item()
    assert 0.03 < ignored < 0.07
    known = labels[labels != cases.IGNORE_INDEX]
    assert known.min() >= 0 and known.max() < 19
