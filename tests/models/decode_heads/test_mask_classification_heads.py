# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""AffinityMask2FormerHead / AffinityMaskFormerHead: the AAF twins of the
zoo's Mask2Former and MaskFormer, shrunk for the CPU (ResNet-18, BN, 32
channels, 4 queries, 2 decoder layers, 64x64 inputs, random init), trained
for one real step; and what the pairwise term is computed on."""
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

import mmseg_aaf  # noqa: F401
from mmseg_aaf.apis.aaf_config import make_twin
from mmseg_aaf.models.decode_heads.mask_classification_heads import (
    labels_on_grid, mask_class_distribution)
from mmseg_aaf.models.losses import AAFLoss
from mmseg_aaf.testing.model_zoo import (build_cpu_model, generated_batch,
                                         recorded_loss_inputs,
                                         shrink_mask_classification)

pytest.importorskip('mmdet.models')

CONFIGS = {
    'AffinityMask2FormerHead':
    'mmseg::mask2former/mask2former_r50_8xb2-90k_cityscapes-512x1024.py',
    'AffinityMaskFormerHead':
    'mmseg::maskformer/maskformer_r50-d32_8xb2-160k_ade20k-512x512.py',
}
SIZE = 64


def _cfg(head_type, tmp_path):
    out = tmp_path / f'{head_type}.py'
    twin = make_twin(CONFIGS[head_type], str(out))
    out.write_text(twin.text)
    return twin, Config.fromfile(str(out))


@pytest.fixture(scope='module', params=sorted(CONFIGS))
def twin_model(request, tmp_path_factory):
    head_type = request.param
    twin, cfg = _cfg(head_type, tmp_path_factory.mktemp(head_type))
    model = build_cpu_model(cfg, SIZE, shrink_mask_classification)
    model.train()
    batch = generated_batch(cfg.model.decode_head.num_classes, SIZE)
    return head_type, twin, cfg, model, batch


def _features(model, batch):
    data = model.data_preprocessor(batch, True)
    return model.extract_feat(data['inputs']), data['data_samples']


def test_one_train_step(twin_model):
    """The AAF key is finite, next to the head's own losses, and the size
    logits moved uphill (the loss on the same scores went up)."""
    head_type, twin, cfg, model, batch = twin_model
    head = model.decode_head
    assert type(head).__name__ == head_type
    assert twin.placements[0].loss_place == 'decode_head.loss_affinity'
    aaf = head.loss_affinity
    assert isinstance(aaf, AAFLoss) and aaf.downsample == 2
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper.to_dict())
    assert wrapper.optimizer.__class__.__name__ == 'AdamW'
    assert wrapper.clip_grad_kwargs == dict(max_norm=0.01, norm_type=2)
    before = (aaf.edge_size_logits.detach().clone(),
              aaf.nonedge_size_logits.detach().clone())
    with recorded_loss_inputs(aaf) as calls:
        log_vars = model.train_step(batch, wrapper)
    assert torch.isfinite(log_vars['decode.loss_aaf'])
    assert {'decode.loss_cls', 'decode.loss_mask', 'decode.loss_dice'} <= set(
        log_vars)
    assert not any(k.startswith('decode.d') and k.endswith('loss_aaf')
                   for k in log_vars)  # last layer only by default
    (scores, label), = calls
    # (B, C, h, w) on the stride-4 mask grid
    assert scores.shape == (2, head.num_classes, SIZE // 4, SIZE // 4)
    assert label.shape == (2, SIZE // 4, SIZE // 4)
    assert bool((label == 255).any())  # ignored pixels stay ignored

    def value(logits):
        saved = (aaf.edge_size_logits.detach().clone(),
                 aaf.nonedge_size_logits.detach().clone())
        with torch.no_grad():
            aaf.edge_size_logits.copy_(logits[0])
            aaf.nonedge_size_logits.copy_(logits[1])
            out = aaf(scores.double(), label).item()
            aaf.edge_size_logits.copy_(saved[0])
            aaf.nonedge_size_logits.copy_(saved[1])
        return out

    after = (aaf.edge_size_logits.detach(), aaf.nonedge_size_logits.detach())
    assert not torch.equal(after[0], before[0])
    assert value(after) > value(before)


def test_gradients_of_the_aaf_term_alone(twin_model):
    """From the AAF term alone, gradients reach both the class and the
    mask embeddings (and the size logits)."""
    _, _, _, model, batch = twin_model
    head = model.decode_head
    model.zero_grad(set_to_none=True)
    feats, samples = _features(model, batch)
    cls_scores, mask_preds = head.decoder_outputs(feats, samples)
    losses = head.affinity_losses(cls_scores, mask_preds, samples)
    assert list(losses) == ['loss_aaf']
    losses['loss_aaf'].backward()
    for param in (head.cls_embed.weight, head.mask_embed[-1].weight,
                  head.loss_affinity.edge_size_logits):
        assert param.grad is not None and bool(param.grad.abs().sum() > 0)
    model.zero_grad(set_to_none=True)


def test_distribution_sums_to_one_and_gives_the_prediction(twin_model):
    """``exp`` of what the loss gets sums to one over classes; its argmax is
    the head's own prediction at the mask resolution."""
    _, _, _, model, batch = twin_model
    head = model.decode_head
    model.eval()
    try:
        with torch.no_grad():
            feats, samples = _features(model, batch)
            log_probs = head.class_distribution(feats, samples)[-1]
            h, w = log_probs.shape[-2:]
            metas = [
                dict(img_shape=(h, w), pad_shape=(h, w), ori_shape=(h, w))
                for _ in samples
            ]
            predicted = head.predict(feats, metas, None)
    finally:
        model.train()
    probs = log_probs.exp()
    torch.testing.assert_close(
        probs.sum(1), torch.ones_like(probs[:, 0]), rtol=0, atol=1e-5)
    assert predicted.shape == probs.shape
    assert torch.equal(probs.argmax(1), predicted.argmax(1))
    # Not the raw scores: those do not sum to one.
    assert not torch.allclose(predicted.sum(1), torch.ones_like(probs[:, 0]))


def test_all_layers_option(twin_model):
    _, _, _, model, batch = twin_model
    head = model.decode_head
    with torch.no_grad():
        feats, samples = _features(model, batch)
        cls_scores, mask_preds = head.decoder_outputs(feats, samples)
        head.affinity_all_layers = True
        try:
            losses = head.affinity_losses(cls_scores, mask_preds, samples)
        finally:
            head.affinity_all_layers = False
    layers = len(cls_scores)
    assert list(losses) == [f'd{i}.loss_aaf' for i in range(layers - 1)
                            ] + ['loss_aaf']
    assert all(torch.isfinite(v) for v in losses.values())


def test_an_uncalled_loss_affinity_stops_the_step(twin_model, monkeypatch):
    _, _, cfg, model, batch = twin_model
    head = model.decode_head
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper.to_dict())
    monkeypatch.setattr(head, 'affinity_losses', lambda *args: {})
    with pytest.raises(RuntimeError) as info:
        model.train_step(batch, wrapper)
    message = str(info.value)
    assert 'The AAFLoss at decode_head.loss_affinity got no gradient' in message
    assert type(head).__name__ in message and 'its loss_affinity' in message
    model.zero_grad(set_to_none=True)


def test_mask_class_distribution_by_hand():
    torch.manual_seed(0)
    cls = torch.randn(2, 5, 4, dtype=torch.float64)  # 3 classes + no-object
    masks = torch.randn(2, 5, 6, 7, dtype=torch.float64)
    scores = torch.zeros(2, 3, 6, 7, dtype=torch.float64)
    for q in range(5):
        scores += (cls[:, q].softmax(-1)[:, :3, None, None] *
                   masks[:, q, None].sigmoid())
    expected = scores / scores.sum(1, keepdim=True)
    log_probs = mask_class_distribution(cls, masks)
    torch.testing.assert_close(log_probs.exp(), expected)
    # What the loss does with it: its softmax is the distribution again.
    torch.testing.assert_close(log_probs.softmax(1), expected)
    # Every mask underflowing: uniform, not NaN.
    flat = mask_class_distribution(cls.float(), torch.full((2, 5, 2, 2),
                                                           -1e4))
    torch.testing.assert_close(flat.exp(), torch.full((2, 3, 2, 2), 1 / 3))


def test_labels_on_grid_are_cell_centres():
    label = torch.arange(64).reshape(1, 8, 8)
    assert labels_on_grid(label, (2, 2)).tolist() == [[[18, 22], [50, 54]]]
    assert torch.equal(labels_on_grid(label, (8, 8)), label)
    label[0, 2, 2] = 255
    assert labels_on_grid(label, (2, 2))[0, 0, 0] == 255


def _centres(length, cells):
    """Pixel under the centre of each of ``cells`` equal cells along
    ``length`` pixels: ``floor((i + 1/2) * length / cells)``, by hand."""
    return [int((2 * i + 1) * length // (2 * cells)) for i in range(cells)]


@pytest.mark.parametrize(
    'map_size, grid, rows, cols',
    ids=['landscape', 'portrait', 'landscape-cells', 'portrait-cells'],
    argvalues=[
        # Cityscapes Mask2Former shrunk 16x: 512 x 1024 crop, 128 x 256
        # mask grid, a 4 x 4 cell whose centre pixel is (2, 2).
        ((32, 64), (8, 16), list(range(2, 32, 4)), list(range(2, 64, 4))),
        ((64, 32), (16, 8), list(range(2, 64, 4)), list(range(2, 32, 4))),
        # Cells of 2 x 3 pixels (centres 1 and 1.5): not the map's aspect.
        ((6, 12), (3, 4), [1, 3, 5], [1, 4, 7, 10]),
        ((12, 6), (4, 3), [1, 4, 7, 10], [1, 3, 5]),
    ])
def test_labels_on_a_non_square_grid(map_size, grid, rows, cols):
    """Rows scale by the map's height, columns by its width, in both
    orientations; each label names its own row and column."""
    height, width = map_size
    assert (rows, cols) == (_centres(height, grid[0]),
                            _centres(width, grid[1]))
    label = (torch.arange(height)[:, None] * 1000 +
             torch.arange(width)[None, :]).expand(2, -1, -1).clone()
    label[1] += 100000
    expected = [[[n * 100000 + r * 1000 + c for c in cols] for r in rows]
                for n in range(2)]
    assert labels_on_grid(label, grid).tolist() == expected


def test_the_loss_gets_the_labels_of_a_non_square_mask_grid(twin_model):
    """What the head hands the loss on a 512 x 1024-like input (shrunk):
    the label at each cell centre of the 1:2 mask grid."""
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    _, _, _, model, _ = twin_model
    head = model.decode_head
    generator = torch.Generator().manual_seed(0)
    gt = torch.randint(0, head.num_classes, (2, 32, 64), generator=generator)
    gt[:, ::5, ::7] = 255
    samples = []
    for label in gt:
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label[None])
        samples.append(sample)
    cls_scores = [torch.randn(2, 4, head.num_classes + 1,
                              generator=generator)]
    mask_preds = [torch.randn(2, 4, 8, 16, generator=generator)]
    with torch.no_grad(), recorded_loss_inputs(head.loss_affinity) as calls:
        head.affinity_losses(cls_scores, mask_preds, samples)
    (scores, label), = calls
    assert scores.shape == (2, head.num_classes, 8, 16)
    assert torch.equal(label, gt[:, 2::4, 2::4])


def test_every_layer_term_is_on_that_layers_prediction(twin_model):
    """With ``affinity_all_layers``, layer i's term is the loss on layer
    i's own class scores and masks: equal to it computed directly, and its
    gradient reaches that layer's scores and masks and no other layer's.

    The decoder's outputs, each layer pushed apart by its own noise: at
    random init every layer predicts near-uniform classes, whose AAF terms
    are all about the same."""
    _, _, _, model, batch = twin_model
    head = model.decode_head
    with torch.no_grad():
        feats, samples = _features(model, batch)
        cls_scores, mask_preds = head.decoder_outputs(feats, samples)
    layers = len(cls_scores)
    assert layers >= 2
    generator = torch.Generator().manual_seed(0)

    def leaf(tensor):
        noise = torch.randn(tensor.shape, generator=generator)
        return (tensor.detach() + 4 * noise).requires_grad_()

    cls_leaves = [leaf(c) for c in cls_scores]
    mask_leaves = [leaf(m) for m in mask_preds]
    head.affinity_all_layers = True
    try:
        losses = head.affinity_losses(cls_leaves, mask_leaves, samples)
    finally:
        head.affinity_all_layers = False
    label = torch.stack([s.gt_sem_seg.data for s in samples]).squeeze(1)
    grid_label = labels_on_grid(label, mask_leaves[-1].shape[-2:])
    values = []
    for i in range(layers):
        key = 'loss_aaf' if i == layers - 1 else f'd{i}.loss_aaf'
        with torch.no_grad():
            own = head.loss_affinity(
                mask_class_distribution(cls_leaves[i], mask_leaves[i]),
                grid_label, ignore_index=head.ignore_index)
        assert torch.equal(losses[key].detach(), own), key
        values.append(own.item())
        grads = torch.autograd.grad(losses[key], cls_leaves + mask_leaves,
                                    allow_unused=True)
        for j in range(layers):
            for kind, grad in (('class scores', grads[j]),
                               ('masks', grads[layers + j])):
                if j == i:
                    assert grad is not None and bool(grad.abs().sum() > 0), (
                        f'{key}: no gradient on layer {j} {kind}')
                else:
                    assert grad is None, f'{key}: gradient on layer {j} {kind}'
    # The layers' terms differ: another layer's input would show.
    assert min(abs(a - b) for i, a in enumerate(values)
               for b in values[i + 1:]) > 1e-3, values


@pytest.mark.parametrize('head_type', sorted(CONFIGS))
def test_unknown_keys_are_refused(head_type, tmp_path):
    from mmseg.registry import MODELS
    _, cfg = _cfg(head_type, tmp_path)
    head = cfg.model.decode_head.to_dict()
    with pytest.raises(TypeError, match=r"unknown argument\(s\) "
                       r"\['loss_decode'\].*loss_affinity=dict"):
        MODELS.build(dict(head, loss_decode=[dict(type='AAFLoss')]))
    head.pop('loss_affinity')
    with pytest.raises(TypeError, match='needs loss_affinity'):
        MODELS.build(head)


def test_without_mmdet_import_works_and_build_names_it(tmp_path):
    """mmdet optional: the plugin imports and writes the twin; building the
    head says which package is missing."""
    script = f'''
import sys
sys.modules['mmdet'] = None  # as if not installed
import mmseg_aaf
from mmseg.registry import MODELS
from mmengine.config import Config
from mmseg_aaf.apis.aaf_config import make_twin
twin = make_twin({CONFIGS['AffinityMask2FormerHead']!r}, {str(tmp_path / 't.py')!r})
open({str(tmp_path / 't.py')!r}, 'w').write(twin.text)
head = Config.fromfile({str(tmp_path / 't.py')!r}, import_custom_modules=False).model.decode_head
try:
    MODELS.build(head)
except ImportError as exc:
    print('ERROR', exc)
'''
    proc = subprocess.run([sys.executable, '-c', script],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert ('ERROR AffinityMask2FormerHead needs mmdet, which is not '
            'installed') in proc.stdout
    assert "pip install 'mmdet==3.3.0'" in proc.stdout
