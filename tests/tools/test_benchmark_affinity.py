# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The benchmark's guard: nothing is timed unless plugin == naive."""
import pytest

from tests.conftest import load_tool


@pytest.fixture(scope='module')
def benchmark():
    return load_tool('tools/benchmark_affinity.py')


def test_plugin_agrees_with_naive_at_the_paper_setting(benchmark):
    message = benchmark.check_against_naive('cpu')
    assert message.startswith('plugin == naive')


def test_a_disagreement_stops_the_benchmark(benchmark, monkeypatch):
    exact = benchmark.naive_loss
    monkeypatch.setattr(benchmark, 'naive_loss',
                        lambda *args: exact(*args) * 1.001)
    with pytest.raises(AssertionError):
        benchmark.check_against_naive('cpu')


def test_inputs_have_blocky_labels_with_five_percent_ignored(benchmark):
    logits, labels = benchmark.make_inputs('paper', 'cpu')
    assert logits.shape == (2, 19, 64, 128)
    ignored = (labels == benchmark.IGNORE_INDEX).float().mean().item()
    assert 0.03 < ignored < 0.07
    known = labels[labels != benchmark.IGNORE_INDEX]
    assert known.min() >= 0 and known.max() < 19
