# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The fused affinity-field kernel against the torch reference.

Through the losses, as training uses them: the loss within 1e-6 relative,
and the gradients of the logits and of both size-logit tables within 1e-5
of the largest gradient. The cases are computed in float64 (float64 logits
keep the loss in float64), where both implementations agree to rounding.
In float32 each has its own rounding, which the softmax over the sizes
amplifies in the size-logit gradients to a few 1e-5 of the largest; there
the fused kernel (which adds up in double) must be as close to the float64
result as the reference is. Every test that takes ``device`` runs on the CPU
(the C++ kernel) and, where present, on CUDA (the Triton kernel); the
Triton kernel's own logic on the CPU is tested in
test_affinity_field_triton.py.
"""
import pytest
import torch

from mmseg_aaf.models.losses import AAFLoss, AffinityLoss
from mmseg_aaf.models.losses import affinity_field as field
from mmseg_aaf.ops import affinity_field as ops

LOSS_RTOL = 1e-6
# Where the exact loss is 0 (one class: every divergence vanishes), the
# reference's rounding leaves about 1e-10; relative error means nothing.
LOSS_ATOL = 1e-8
GRAD_TOL = 1e-5


def make_problem(n=2, c=5, h=24, w=20, block=4, ignore_frac=0.1, seed=0,
                 device='cpu'):
    """Logits ``(n, c, h, w)`` and blocky labels, 255 where ignored."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64) * 3
    coarse = torch.randint(0, c, (n, -(-h // block), -(-w // block)),
                           generator=gen)
    labels = coarse.repeat_interleave(block, 1).repeat_interleave(
        block, 2)[:, :h, :w].clone()
    labels[torch.rand(n, h, w, generator=gen) < ignore_frac] = 255
    return logits.to(device), labels.to(device)


def loss_and_grads(loss_cls, implementation, logits, labels, size_logits=None,
                   **kwargs):
    """``(loss, d/dlogits, d/dedge_size_logits, d/dnonedge_size_logits)``;
    the size-logit gradients are None for AffinityLoss."""
    loss = loss_cls(logits.shape[1], implementation=implementation,
                    **kwargs).to(logits.device)
    if size_logits is not None:
        with torch.no_grad():
            loss.edge_size_logits.copy_(size_logits[0])
            loss.nonedge_size_logits.copy_(size_logits[1])
    x = logits.detach().clone().requires_grad_()
    value = loss(x, labels)
    value.backward()
    grads = [x.grad]
    for name in ('edge_size_logits', 'nonedge_size_logits'):
        param = getattr(loss, name, None)
        grads.append(None if param is None else param.grad)
    return [value.detach()] + grads


def assert_fused_matches_torch(loss_cls, logits, labels, size_logits=None,
                               **kwargs):
    """The checks of the module docstring; float32 logits (and float16,
    bfloat16, computed in float32) are checked against float64."""
    if logits.dtype != torch.float64:
        return assert_as_accurate_as_torch(loss_cls, logits, labels,
                                           size_logits, **kwargs)
    if size_logits is not None:
        size_logits = size_logits.double()
    fused = loss_and_grads(loss_cls, 'fused', logits, labels, size_logits,
                           **kwargs)
    torch_ = loss_and_grads(loss_cls, 'torch', logits, labels, size_logits,
                            **kwargs)
    torch.testing.assert_close(fused[0], torch_[0], rtol=LOSS_RTOL,
                               atol=LOSS_ATOL)
    for got, want in zip(fused[1:], torch_[1:]):
        if want is None:
            assert got is None
            continue
        assert got.shape == want.shape and got.dtype == want.dtype
        # 1e-12 absolute for gradients that are 0 but for rounding (one
        # class).
        allowed = GRAD_TOL * want.abs().max().item() + 1e-12
        assert (got - want).abs().max().item() <= allowed
    return fused


def _relative_errors(result, truth):
    errors = []
    for got, want in zip(result, truth):
        if want is None:
            errors.append(0.0)
            continue
        scale = want.abs().max().clamp(min=1e-30)
        errors.append(((got.double() - want).abs().max() / scale).item())
    return errors


def assert_as_accurate_as_torch(loss_cls, logits, labels, size_logits=None,
                                **kwargs):
    truth = loss_and_grads(loss_cls, 'torch', logits.double(), labels,
                           None if size_logits is None else
                           size_logits.double(), **kwargs)
    fused = loss_and_grads(loss_cls, 'fused', logits, labels, size_logits,
                           **kwargs)
    reference = loss_and_grads(loss_cls, 'torch', logits, labels,
                               size_logits, **kwargs)
    torch.testing.assert_close(fused[0], reference[0], rtol=LOSS_RTOL,
                               atol=LOSS_ATOL)
    assert fused[1].dtype == reference[1].dtype == logits.dtype
    fused_errors = _relative_errors(fused, truth)
    reference_errors = _relative_errors(reference, truth)
    for got, allowed in zip(fused_errors, reference_errors):
        assert got <= 2 * allowed + 1e-6, (fused_errors, reference_errors)
    return fused


def random_size_logits(c, k, seed=1, device='cpu'):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(2, c, k, generator=gen, dtype=torch.float64).to(device)


@pytest.mark.parametrize('num_classes', [1, 2, 19, 150])
def test_class_counts(num_classes, device):
    logits, labels = make_problem(c=num_classes, h=21, w=18, seed=num_classes,
                                  device=device)
    assert_fused_matches_torch(AAFLoss, logits, labels,
                               random_size_logits(num_classes, 3,
                                                  device=device),
                               downsample=1)


@pytest.mark.parametrize('kernel_sizes', [(3, ), (3, 5, 7), (3, 7, 9, 11)])
def test_kernel_sizes(kernel_sizes, device):
    logits, labels = make_problem(c=4, h=30, w=27, seed=3, device=device)
    size_logits = random_size_logits(4, len(kernel_sizes), device=device)
    assert_fused_matches_torch(AAFLoss, logits, labels, size_logits,
                               kernel_sizes=kernel_sizes, downsample=1)
    assert_fused_matches_torch(AffinityLoss, logits, labels,
                               kernel_sizes=kernel_sizes, downsample=1)


@pytest.mark.parametrize('downsample', [1, 8])
def test_downsample(downsample, device):
    logits, labels = make_problem(c=6, h=96, w=88, block=12, seed=4,
                                  device=device)
    assert_fused_matches_torch(AAFLoss, logits, labels,
                               random_size_logits(6, 3, device=device),
                               downsample=downsample)


def test_ignored_labels_scattered_at_random(device):
    logits, labels = make_problem(c=3, ignore_frac=0.4, seed=5, device=device)
    assert_fused_matches_torch(AAFLoss, logits, labels,
                               random_size_logits(3, 3, device=device),
                               downsample=1)


def test_everything_ignored(device):
    logits, labels = make_problem(c=3, seed=6, device=device)
    labels.fill_(255)
    loss, grad, edge_grad, nonedge_grad = assert_fused_matches_torch(
        AAFLoss, logits, labels, random_size_logits(3, 3, device=device),
        downsample=1)
    assert loss.item() == 0 and not grad.any() and not edge_grad.any()


def test_no_edge_at_all(device):
    logits, labels = make_problem(c=3, seed=7, device=device)
    labels.fill_(2)
    fused = assert_fused_matches_torch(
        AAFLoss, logits, labels, random_size_logits(3, 3, device=device),
        downsample=1)
    # Without edges only the non-edge weights get a gradient.
    assert not fused[2].any() and fused[3].any()


@pytest.mark.parametrize('layout', ['non-contiguous', 'channels-last'])
def test_memory_layouts(layout, device):
    logits, labels = make_problem(c=5, seed=8, device=device)
    if layout == 'channels-last':
        logits = logits.contiguous(memory_format=torch.channels_last)
    else:
        logits = torch.cat([logits, logits], dim=3)[..., ::2]
        assert not logits.is_contiguous()
    assert_fused_matches_torch(AAFLoss, logits, labels,
                               random_size_logits(5, 3, device=device),
                               downsample=1)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision_logits_are_computed_in_float32(dtype, device):
    logits, labels = make_problem(c=5, seed=9, device=device)
    logits = logits.to(dtype)
    fused = assert_fused_matches_torch(AAFLoss, logits, labels,
                                       random_size_logits(5, 3,
                                                          device=device),
                                       downsample=1)
    assert fused[0].dtype == torch.float32 and fused[1].dtype == dtype


def test_float32(device):
    logits, labels = make_problem(c=6, h=96, w=88, block=12, seed=4,
                                  device=device)
    assert_fused_matches_torch(AAFLoss, logits.float(), labels,
                               random_size_logits(6, 3, device=device).float(),
                               downsample=1)


@pytest.mark.parametrize('edges', ['few', 'many'])
def test_edge_entries_one_by_one_and_dense(edges, device):
    """The kernel handles edge entries one by one where they are few for
    the classes, densely where many; both against the reference."""
    block = 16 if edges == 'few' else 2
    logits, labels = make_problem(n=1, c=2 if edges == 'many' else 12,
                                  h=40, w=36, block=block, ignore_frac=0,
                                  seed=10, device=device)
    n_edges = (labels[:, :, 1:] != labels[:, :, :-1]).float().mean()
    assert (n_edges > 0.2) if edges == 'many' else (n_edges < 0.1)
    assert_fused_matches_torch(AAFLoss, logits, labels,
                               random_size_logits(logits.shape[1], 3,
                                                  device=device),
                               downsample=1)


@pytest.mark.integration
def test_a_batch_larger_than_a_chunk_of_the_reference(device):
    # The reference goes image by image above _CHUNK_ELEMENTS elements; the
    # kernel cuts images into blocks of rows.
    logits, labels = make_problem(n=2, c=19, h=480, w=464, block=24,
                                  seed=11, device=device)
    assert logits[0].numel() > field._CHUNK_ELEMENTS
    assert len(list(field._image_chunks(logits))) == 2
    assert_fused_matches_torch(AAFLoss, logits, labels,
                               random_size_logits(19, 3, device=device),
                               downsample=1)


def test_gradcheck_float64(device):
    logits, labels = make_problem(n=2, c=3, h=9, w=8, block=3, seed=12,
                                  device=device)
    labels = labels.masked_fill(labels == 255, -1)
    size_logits = random_size_logits(3, 2, device=device)

    def sums(x, s):
        w_e, w_ne = s.softmax(2)
        terms = field.affinity_field_terms(x.softmax(1), labels, (1, 2), 3.0,
                                           w_e, w_ne, implementation='fused')
        return torch.cat([terms.edge_sum, terms.nonedge_sum])

    x = logits.clone().requires_grad_()
    s = size_logits.requires_grad_()
    assert torch.autograd.gradcheck(sums, (x, s), eps=1e-6, atol=1e-7)


def test_results_do_not_depend_on_the_thread_count():
    logits, labels = make_problem(n=3, c=7, h=64, w=40, seed=13)
    logits = logits.float()
    size_logits = random_size_logits(7, 3).float()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = loss_and_grads(AAFLoss, 'fused', logits, labels, size_logits,
                             downsample=1)
        torch.set_num_threads(2)
        two = loss_and_grads(AAFLoss, 'fused', logits, labels, size_logits,
                             downsample=1)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(one, two):
        assert torch.equal(a, b)


def test_operator_registration_passes_opcheck():
    """Schema, fake kernels and autograd formula, as torch.library checks
    them (the fake kernels are what torch.compile traces)."""
    logits, labels = make_problem(n=1, c=3, h=10, w=9, seed=14)
    labels = labels.masked_fill(labels == 255, -1)
    probs = logits.softmax(1).requires_grad_()
    torch.library.opcheck(torch.ops.mmseg_aaf.affinity_field_forward,
                          (probs, labels, [1, 2], 3.0))
    grads = torch.rand(3, 2, dtype=torch.float64)
    torch.library.opcheck(torch.ops.mmseg_aaf.affinity_field_backward,
                          (grads, grads, probs.detach(), labels, [1, 2], 3.0))


def test_compiles_into_one_graph_with_the_operator():
    logits, labels = make_problem(n=1, c=4, h=12, w=12, seed=15)
    labels = labels.masked_fill(labels == 255, -1)
    weights = random_size_logits(4, 2).softmax(2)

    def total(x):
        terms = field.affinity_field_terms(x.softmax(1), labels, (1, 2), 3.0,
                                           weights[0], weights[1],
                                           implementation='fused')
        return (terms.edge_mean() + terms.nonedge_mean()).sum()

    x = logits.clone().requires_grad_()
    eager = total(x)
    (eager_grad, ) = torch.autograd.grad(eager, x)
    compiled = torch.compile(total, backend='aot_eager', fullgraph=True)
    value = compiled(x)
    (grad, ) = torch.autograd.grad(value, x)
    torch.testing.assert_close(value, eager)
    torch.testing.assert_close(grad, eager_grad)


def test_under_autocast_the_loss_stays_float32():
    logits, labels = make_problem(c=5, seed=16)
    logits = logits.float()
    loss = AAFLoss(5, downsample=1, implementation='fused')
    with torch.autocast('cpu', dtype=torch.bfloat16):
        value = loss(logits, labels)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, loss(logits, labels))


def test_fused_where_it_is_not_built_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(ops._MISSING, 'cpu', 'the C++ extension is not built')
    logits, labels = make_problem(c=3)
    with pytest.raises(RuntimeError, match="implementation='fused': no "
                       'fused affinity-field kernel for cpu tensors: the '
                       'C\\+\\+ extension is not built'):
        AAFLoss(3, implementation='fused')(logits, labels)


def test_auto_falls_back_and_says_so_once(monkeypatch):
    import mmengine.logging
    from mmseg_aaf.models.losses import affinity_loss
    logits, labels = make_problem(c=3)
    want = loss_and_grads(AAFLoss, 'torch', logits, labels, downsample=1)[0]
    monkeypatch.setitem(ops._MISSING, 'cpu', 'the C++ extension is not built')
    monkeypatch.setattr(affinity_loss, '_LOGGED_IMPLEMENTATIONS', set())
    messages = []
    monkeypatch.setattr(mmengine.logging, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    loss = AAFLoss(3, downsample=1)
    for _ in range(2):
        torch.testing.assert_close(loss(logits, labels), want)
    assert messages == [
        'AAFLoss: the affinity field on cpu runs the torch implementation: '
        'no fused kernel, the C++ extension is not built']


def test_auto_uses_the_fused_kernel_where_it_is_built():
    assert ops.fused_available('cpu'), ops.unavailable_reason('cpu')
    assert field.resolve_implementation('auto', 'cpu') == 'fused'
    assert field.resolve_implementation('torch', 'cpu') == 'torch'


def test_an_unknown_implementation_is_refused():
    with pytest.raises(ValueError, match='implementation must be one of'):
        AAFLoss(3, implementation='cuda')
