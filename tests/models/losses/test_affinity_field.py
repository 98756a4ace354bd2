# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The neighbour-pair core against golden cases and a naive transcription.

These test the torch reference (``implementation='torch'``), the golden
cases also the default implementation; tests/ops test the fused kernel
against the reference.

Every test that takes ``device`` runs on the CPU and, where present, on
CUDA; ``pytest --device cuda`` runs only the CUDA cases.
"""
import numpy as np
import pytest
import torch

from mmseg_aaf.models.losses import (AAFLoss, AffinityLoss,
                                     affinity_field_terms)
from mmseg_aaf.testing.naive_affinity import naive_affinity_means

NUM_CASES = 6


def _case(golden, i, device='cpu'):
    get = lambda key: golden[f'case{i}_{key}']  # noqa: E731
    tensor = lambda key: torch.from_numpy(get(key)).to(device)  # noqa: E731
    return (tensor('logits'), tensor('labels'), tensor('edge_size_logits'),
            tensor('nonedge_size_logits'), get('terms'),
            float(get('affinity_loss')), float(get('aaf_loss')))


def _aaf(num_classes, edge_logits, nonedge_logits, **kwargs):
    loss = AAFLoss(num_classes, downsample=1, **kwargs)
    loss.to(edge_logits.device)
    with torch.no_grad():
        loss.edge_size_logits.copy_(edge_logits)
        loss.nonedge_size_logits.copy_(nonedge_logits)
    return loss


def test_golden_file_has_all_cases(golden):
    assert int(golden['num_cases']) == NUM_CASES


@pytest.mark.parametrize('implementation', ['torch', 'fused'])
@pytest.mark.parametrize('case', range(NUM_CASES))
def test_golden_per_size_terms(golden, case, implementation, device):
    logits, labels, e_logits, ne_logits, terms, _, _ = _case(
        golden, case, device)
    num_classes = logits.shape[1]
    fixed = AffinityLoss(num_classes, kernel_sizes=(3, 5, 7), downsample=1,
                         implementation=implementation)
    plain = fixed.affinity_terms(logits, labels)
    weighted = _aaf(num_classes, e_logits, ne_logits,
                    implementation=implementation).affinity_terms(
                        logits, labels)
    got = np.stack([
        t.detach().cpu().numpy() for t in (
            plain.edge_mean(), plain.nonedge_mean(), plain.edge_count,
            plain.nonedge_count, weighted.edge_mean(),
            weighted.nonedge_mean())
    ], axis=1)
    np.testing.assert_allclose(got, terms, rtol=1e-5, atol=0)


@pytest.mark.parametrize('implementation', ['torch', 'fused'])
@pytest.mark.parametrize('case', range(NUM_CASES))
def test_golden_totals(golden, case, implementation, device):
    logits, labels, e_logits, ne_logits, _, aff, aaf = _case(
        golden, case, device)
    num_classes = logits.shape[1]
    affinity = AffinityLoss(num_classes, downsample=1,
                            implementation=implementation)(logits, labels)
    adaptive = _aaf(num_classes, e_logits, ne_logits,
                    implementation=implementation)(logits, labels)
    np.testing.assert_allclose(affinity.item(), aff, rtol=1e-5, atol=0)
    np.testing.assert_allclose(adaptive.item(), aaf, rtol=1e-5, atol=0)


def _random_problem(n=2, c=5, h=13, w=17, seed=0, ignore_frac=0.1,
                    dtype=torch.float64, device='cpu'):
    """Logits ``(n, c, h, w)`` and blocky labels, -1 where ignored; drawn
    on the CPU, so every device gets the same problem."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, h, w, generator=gen, dtype=dtype) * 2
    # Blocky labels give long runs of equal labels and real boundaries.
    coarse = torch.randint(0, c, (n, (h + 3) // 4, (w + 3) // 4),
                           generator=gen)
    labels = coarse.repeat_interleave(4, 1).repeat_interleave(4, 2)[:, :h, :w]
    labels = labels.clone()
    labels[torch.rand(n, h, w, generator=gen) < ignore_frac] = -1
    return logits.to(device), labels.to(device)


@pytest.mark.parametrize('weighted', [False, True])
def test_matches_naive_transcription(weighted, device):
    logits, labels = _random_problem(seed=3, device=device)
    probs = logits.softmax(1)
    c = probs.shape[1]
    half_sizes = (1, 2, 3)
    w_e = w_ne = None
    if weighted:
        gen = torch.Generator().manual_seed(1)
        w_e = torch.randn(c, 3, generator=gen,
                          dtype=probs.dtype).softmax(1).to(device)
        w_ne = torch.randn(c, 3, generator=gen,
                           dtype=probs.dtype).softmax(1).to(device)
    terms = affinity_field_terms(probs, labels, half_sizes, 3.0, w_e, w_ne,
                                 implementation='torch')
    naive = naive_affinity_means(probs, labels, half_sizes, 3.0, w_e, w_ne)
    for k, (e_mean, ne_mean, e_count, ne_count) in enumerate(naive):
        assert terms.edge_count[k].item() == e_count
        assert terms.nonedge_count[k].item() == ne_count
        torch.testing.assert_close(terms.edge_mean()[k], e_mean)
        torch.testing.assert_close(terms.nonedge_mean()[k], ne_mean)


def _fast_and_naive_totals(logits, labels, size_logits, probs=None):
    """``(value, d/dlogits, d/dsize_logits)`` of the sum of all per-size
    edge and non-edge means, by the core and by the naive transcription.

    With ``probs`` given, they are the input instead of ``logits`` and the
    second gradient is ``d/dprobs``.
    """

    def total(fn):
        x = (logits if probs is None else probs).clone().requires_grad_()
        s = size_logits.clone().requires_grad_()
        w_e, w_ne = s.softmax(2)
        value = fn(x.softmax(1) if probs is None else x, w_e, w_ne)
        value.backward()
        return value, x.grad, s.grad

    def fast(probs, w_e, w_ne):
        terms = affinity_field_terms(probs, labels, (1, 2, 3), 3.0, w_e,
                                     w_ne, implementation='torch')
        return (terms.edge_mean() + terms.nonedge_mean()).sum()

    def naive(probs, w_e, w_ne):
        means = naive_affinity_means(probs, labels, (1, 2, 3), 3.0, w_e,
                                     w_ne)
        return sum(e + ne for e, ne, _, _ in means)

    return total(fast), total(naive)


def test_gradients_match_naive_transcription(device):
    logits, labels = _random_problem(seed=5, device=device)
    c = logits.shape[1]
    size_logits = torch.randn(
        2, c, 3, dtype=torch.float64,
        generator=torch.Generator().manual_seed(6)).to(device)
    got, want = _fast_and_naive_totals(logits, labels, size_logits)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)


def test_gradients_match_naive_where_probabilities_are_clipped(device):
    # Half of the pixels are confident: their winning class has p above
    # 1 - 1e-4 and every other class p below 1e-4, so both clamps (of p and
    # of 1 - p) cut the gradient there, while the other half stays inside.
    logits, labels = _random_problem(seed=11)
    n, c, h, w = logits.shape
    gen = torch.Generator().manual_seed(12)
    confident = torch.rand(n, h, w, generator=gen) < 0.5
    winner = torch.randint(0, c, (n, h, w), generator=gen)
    boost = torch.nn.functional.one_hot(winner, c).permute(0, 3, 1, 2)
    logits = (logits + 20 * boost * confident[:, None]).to(device)
    labels = labels.to(device)
    probs = logits.softmax(1)
    assert (probs < 1e-4).any() and (1 - probs < 1e-4).any()
    assert ((probs > 1e-3) & (probs < 1 - 1e-3)).any()
    size_logits = torch.randn(
        2, c, 3, dtype=torch.float64, generator=gen).to(device)
    got, want = _fast_and_naive_totals(logits, labels, size_logits)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)
    # Through the softmax, a clipped probability's own gradient is scaled
    # by p (1 - p) < 1e-4; compare the gradient w.r.t. the probabilities,
    # the core's input, too.
    got, want = _fast_and_naive_totals(None, labels, size_logits,
                                       probs=probs)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)


def test_chunks_and_slabs_give_the_same_terms_and_gradients(
        monkeypatch, device):
    # Large batches are split into chunks of images and their edge pairs
    # into slabs; force both splits on a small problem: one image a chunk,
    # and slabs of 97 mask entries that cut through sizes and offsets.
    from mmseg_aaf.models.losses import affinity_field
    logits, labels = _random_problem(n=3, seed=19, device=device)
    gen = torch.Generator().manual_seed(20)
    size_logits = torch.randn(2, logits.shape[1], 3, dtype=torch.float64,
                              generator=gen).to(device)
    whole, naive = _fast_and_naive_totals(logits, labels, size_logits)
    monkeypatch.setattr(affinity_field, '_CHUNK_ELEMENTS', 1)
    monkeypatch.setattr(affinity_field, '_PAIR_SLAB', 97)
    assert len(list(affinity_field._image_chunks(logits))) == 3
    split, _ = _fast_and_naive_totals(logits, labels, size_logits)
    for g, w, v in zip(split, whole, naive):
        torch.testing.assert_close(g, w)
        torch.testing.assert_close(g, v)


def test_gradcheck_core_logits_and_weights(device):
    logits, labels = _random_problem(n=1, c=3, h=7, w=8, seed=7,
                                     device=device)
    size_logits = torch.randn(
        2, 3, 2, dtype=torch.float64,
        generator=torch.Generator().manual_seed(8)).to(device)

    def sums(x, s):
        w_e, w_ne = s.softmax(2)
        terms = affinity_field_terms(x.softmax(1), labels, (1, 2), 3.0, w_e,
                                     w_ne, implementation='torch')
        return torch.cat([terms.edge_sum, terms.nonedge_sum])

    x = logits.clone().requires_grad_()
    s = size_logits.clone().requires_grad_()
    assert torch.autograd.gradcheck(sums, (x, s), eps=1e-6, atol=1e-6)
