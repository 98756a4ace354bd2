# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""tools/publish_model.py: an AAF-trained model shipped to stock mmseg.

The published checkpoint and config are loaded in a subprocess that never
imports the plugin (checked), strictly and weights-only, and must predict
exactly what the AAF-trained model predicts."""
import copy
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmseg_aaf  # noqa: F401
from mmseg_aaf.apis.aaf_config import make_twin
from mmseg_aaf.apis.publish import (PublishError, inference_config,
                                    publish_checkpoint)
from mmseg_aaf.testing.model_zoo import (cpu_model_config,
                                         shrink_mask_classification)
from tests.conftest import REPO_ROOT, run_tool, tiny_config

pytestmark = pytest.mark.integration

STOCK_SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np
    import torch
    from mmseg.apis import inference_model, init_model
    config, checkpoint, out, *images = sys.argv[1:]
    state = torch.load(checkpoint, map_location='cpu', weights_only=True)
    model = init_model(config, checkpoint, device='cpu')
    result = model.load_state_dict(state['state_dict'], strict=False)
    predictions = [r.pred_sem_seg.data[0].numpy()
                   for r in inference_model(model, images)]
    np.save(out, np.stack(predictions))
    print(json.dumps(dict(
        missing=list(result.missing_keys),
        unexpected=list(result.unexpected_keys),
        plugin_imported=any(m == 'mmseg_aaf' or m.startswith('mmseg_aaf.')
                            for m in sys.modules),
        head=type(model.decode_head).__name__,
        meta_keys=sorted(state['meta']))))
''')


def run_stock(config, checkpoint, images, tmp_path):
    """Predict with mmseg alone: isolated interpreter (-I: no PYTHONPATH,
    no script directory), run outside the checkout."""
    out = tmp_path / 'stock_predictions.npy'
    proc = subprocess.run(
        [sys.executable, '-I', '-c', STOCK_SCRIPT, str(config),
         str(checkpoint), str(out), *map(str, images)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return report, np.load(out)


def plugin_predictions(config, checkpoint, images):
    from mmseg.apis import inference_model, init_model
    model = init_model(config, str(checkpoint), device='cpu')
    return np.stack([r.pred_sem_seg.data[0].numpy()
                     for r in inference_model(model, [str(i)
                                                      for i in images])])


@pytest.fixture(scope='module')
def trained_aaf(tiny_data_root, tmp_path_factory):
    """The tiny PSPNet + AAF trained for 2 iterations by mmengine's Runner
    (optimizer state, message hub and size logits in the checkpoint)."""
    work_dir = tmp_path_factory.mktemp('aaf_run')
    cfg = tiny_config(tiny_data_root, work_dir, 'publish',
                      train_cfg=dict(max_iters=2, val_interval=100))
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook')
    Runner.from_cfg(cfg).train()
    return cfg, work_dir / 'iter_2.pth'


def test_published_model_is_stock_mmseg(trained_aaf, tiny_data_root,
                                        tmp_path):
    cfg, checkpoint = trained_aaf
    trained = torch.load(checkpoint, map_location='cpu', weights_only=False)
    assert {'optimizer', 'message_hub'} <= set(trained)
    logits = [k for k in trained['state_dict'] if 'size_logits' in k]
    assert logits, 'the trained checkpoint holds the AAF size logits'

    proc = run_tool(
        [sys.executable, str(REPO_ROOT / 'tools' / 'publish_model.py'),
         str(checkpoint), str(tmp_path / 'shipped' / 'psp_aaf')],
        cwd=tmp_path)
    published = sorted((tmp_path / 'shipped').glob('psp_aaf-*.pth'))
    config = sorted((tmp_path / 'shipped').glob('psp_aaf-*.py'))
    assert len(published) == len(config) == 1, proc.stdout
    import hashlib
    digest = hashlib.sha256(published[0].read_bytes()).hexdigest()[:8]
    assert published[0].name == f'psp_aaf-{digest}.pth'
    assert 'removed decode_head: AAFLoss' in proc.stdout

    state = torch.load(published[0], map_location='cpu', weights_only=True)
    assert set(state) == {'meta', 'state_dict'}
    assert not [k for k in state['state_dict'] if 'size_logits' in k]
    assert set(state['state_dict']) == set(trained['state_dict']) - set(
        logits)
    sizes = state['meta']['aaf_kernel_sizes']
    assert [s['place'] for s in sizes] == ['decode_head.loss_decode.1']
    assert len(sizes[0]['edge']) == 4 and all(
        3 <= v <= 7 for v in sizes[0]['edge'] + sizes[0]['nonedge'])
    text = config[0].read_text()
    for plugin_name in ('AAFLoss', 'AdversarialOptimWrapper',
                        'AffinityLossDecayHook', 'mmseg_aaf'):
        assert plugin_name not in text, plugin_name

    images = sorted((tiny_data_root / 'img_dir' / 'val').glob('*.png'))
    report, stock = run_stock(config[0], published[0], images, tmp_path)
    assert report['missing'] == [] and report['unexpected'] == []
    assert report['plugin_imported'] is False
    expected = plugin_predictions(cfg, checkpoint, images)
    np.testing.assert_array_equal(stock, expected)


SIZE = 64
#: The AAF twins of the zoo's mask-classification models, and the heads
#: their published configs go back to.
MASK_TWINS = {
    'AffinityMask2FormerHead':
    ('mmseg::mask2former/mask2former_r50_8xb2-90k_cityscapes-512x1024.py',
     'Mask2FormerHead'),
    'AffinityMaskFormerHead':
    ('mmseg::maskformer/maskformer_r50-d32_8xb2-160k_ade20k-512x512.py',
     'MaskFormerHead'),
}


def twin_model(upstream, tmp_path, edit=None):
    """The AAF twin of a zoo config built on the CPU for SIZE inputs
    (``edit(cfg.model)`` first), in eval mode, its test pipeline reading a
    PNG as it is."""
    twin_path = tmp_path / 'twin.py'
    twin_path.write_text(make_twin(upstream, str(twin_path)).text)
    cfg = Config.fromfile(str(twin_path))
    cfg.model = cpu_model_config(cfg, SIZE)
    if edit is not None:
        edit(cfg.model)
    cfg.test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='PackSegInputs')
    ]
    from mmseg.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.cfg = cfg
    model.eval()
    return cfg, model


def save_as_trained(model, aaf, path):
    """``model`` saved as mmengine's Runner saves it (meta with the config,
    optimizer state), the size logits of ``aaf`` moved off their init."""
    with torch.no_grad():
        aaf.edge_size_logits.normal_()
        aaf.nonedge_size_logits.normal_()
    classes = list(range(model.decode_head.num_classes))
    torch.save(dict(meta=dict(cfg=model.cfg.pretty_text, iter=1,
                              dataset_meta=dict(classes=classes)),
                    state_dict=model.state_dict(),
                    optimizer=dict(state={}, param_groups=[])), path)


def assert_stock_predicts_the_same(result, model, stock_head, tmp_path):
    """Stock mmseg builds the published config with ``stock_head``, loads
    the published file strictly and predicts what ``model`` predicts."""
    rng = np.random.default_rng(0)
    images = []
    from PIL import Image
    for i in range(2):
        path = tmp_path / f'image{i}.png'
        Image.fromarray(rng.integers(0, 255, (SIZE, SIZE, 3),
                                     np.uint8)).save(path)
        images.append(path)
    report, stock = run_stock(result['config'], result['checkpoint'], images,
                              tmp_path)
    assert report['missing'] == [] and report['unexpected'] == []
    assert report['plugin_imported'] is False
    assert report['head'] == stock_head
    from mmseg.apis import inference_model
    expected = np.stack([
        r.pred_sem_seg.data[0].numpy()
        for r in inference_model(model, [str(p) for p in images])
    ])
    np.testing.assert_array_equal(stock, expected)


def test_ddrnet_twin_reverts_to_the_upstream_head(tmp_path):
    """A DDRNet AAF twin (AffinityDDRHead) with moved size logits, saved as
    mmengine saves checkpoints, published and predicted by stock mmseg."""
    upstream = ('mmseg::ddrnet/'
                'ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes-1024x1024.py')
    cfg, model = twin_model(upstream, tmp_path)
    assert cfg.model.decode_head.type == 'AffinityDDRHead'
    aaf = model.decode_head.loss_decode[2]
    save_as_trained(model, aaf, tmp_path / 'iter_1.pth')

    result = publish_checkpoint(str(tmp_path / 'iter_1.pth'),
                                str(tmp_path / 'ddrnet'))
    assert 'decode_head: AffinityDDRHead -> DDRHead' in result['removed']
    published_cfg = Config.fromfile(result['config'])
    assert published_cfg.model.decode_head.type == 'DDRHead'
    assert [l['type'] for l in published_cfg.model.decode_head.loss_decode
            ] == [l['type'] for l in cfg.model.decode_head.loss_decode[:2]]
    sizes = result['kernel_sizes'][0]
    assert sizes['place'] == 'decode_head.loss_decode.2'
    np.testing.assert_allclose(
        sizes['edge'],
        aaf.effective_kernel_sizes()['edge'].detach().numpy(), atol=1e-6)
    assert_stock_predicts_the_same(result, model, 'DDRHead', tmp_path)


@pytest.mark.parametrize('plugin_head', sorted(MASK_TWINS))
def test_mask_classification_twin_reverts_to_the_upstream_head(
        plugin_head, tmp_path):
    """The Mask2Former and MaskFormer AAF twins (shrunk, AAF on every
    decoder layer) published: the stock head without ``loss_affinity``
    and ``affinity_all_layers``, loaded strictly, the same predictions."""
    upstream, stock_head = MASK_TWINS[plugin_head]

    def edit(model_cfg):
        shrink_mask_classification(model_cfg)
        model_cfg.decode_head.affinity_all_layers = True

    cfg, model = twin_model(upstream, tmp_path, edit)
    assert type(model.decode_head).__name__ == plugin_head
    aaf = model.decode_head.loss_affinity
    save_as_trained(model, aaf, tmp_path / 'iter_1.pth')

    result = publish_checkpoint(str(tmp_path / 'iter_1.pth'),
                                str(tmp_path / 'mask_aaf'))
    assert f'decode_head: {plugin_head} -> {stock_head}' in result['removed']
    assert 'decode_head: loss_affinity (AAFLoss)' in result['removed']
    head = Config.fromfile(result['config']).model.decode_head
    assert head.type == stock_head
    assert not {'loss_affinity', 'affinity_all_layers'} & set(head)
    for key in ('loss_cls', 'loss_mask', 'loss_dice', 'num_queries'):
        assert head[key] == cfg.model.decode_head[key], key
    (sizes, ) = result['kernel_sizes']
    assert sizes['place'] == 'decode_head.loss_affinity'
    np.testing.assert_allclose(
        sizes['nonedge'],
        aaf.effective_kernel_sizes()['nonedge'].detach().numpy(), atol=1e-6)
    assert_stock_predicts_the_same(result, model, stock_head, tmp_path)


@pytest.mark.parametrize('kernel_sizes', [(5, 9, 13), (3, 5)],
                         ids=['5-9-13', '3-5'])
def test_meta_records_the_trained_kernel_sizes(kernel_sizes, tiny_data_root,
                                               tmp_path):
    """Trained with other candidate sizes than the default (3, 5, 7): the
    published meta holds those sizes and the effective sizes they give
    (softmax of the trained logits times the sizes, worked out here)."""
    cfg = tiny_config(tiny_data_root, tmp_path / 'run', 'kernel_sizes',
                      train_cfg=dict(max_iters=2, val_interval=100))
    cfg.model.decode_head.loss_decode[1].kernel_sizes = kernel_sizes
    Runner.from_cfg(cfg).train()
    checkpoint = tmp_path / 'run' / 'iter_2.pth'
    trained = torch.load(checkpoint, map_location='cpu',
                         weights_only=False)['state_dict']

    result = publish_checkpoint(str(checkpoint), str(tmp_path / 'psp'))
    meta = torch.load(result['checkpoint'], map_location='cpu',
                      weights_only=True)['meta']
    assert meta['aaf_kernel_sizes'] == result['kernel_sizes']
    (sizes, ) = meta['aaf_kernel_sizes']
    assert sizes['place'] == 'decode_head.loss_decode.1'
    assert sizes['kernel_sizes'] == list(kernel_sizes)
    candidates = torch.tensor(kernel_sizes, dtype=torch.float64)
    for kind in ('edge', 'nonedge'):
        logits = trained[f'decode_head.loss_decode.1.{kind}_size_logits']
        assert logits.shape == (4, len(kernel_sizes))
        assert bool(logits.abs().sum() > 0), 'trained off the zero init'
        expected = logits.double().softmax(dim=1) @ candidates
        np.testing.assert_allclose(sizes[kind], expected.numpy(), rtol=1e-9)


def test_publish_config_option(trained_aaf, tmp_path, capsys):
    """--config wins over the config stored in the checkpoint (one line
    says so); without it the stored one is published."""
    from mmseg_aaf.cli.publish_model import main
    cfg, checkpoint = trained_aaf
    given = copy.deepcopy(cfg)
    given.model.test_cfg = dict(mode='slide', crop_size=(32, 32),
                                stride=(16, 16))
    given_path = tmp_path / 'given.py'
    given.dump(str(given_path))

    def publish(name, *options):
        assert main([str(checkpoint), str(tmp_path / name / 'psp'),
                     *options]) == 0
        (config, ) = (tmp_path / name).glob('psp-*.py')
        (published, ) = (tmp_path / name).glob('psp-*.pth')
        meta = torch.load(published, map_location='cpu',
                          weights_only=True)['meta']
        assert meta['cfg'] == config.read_text()
        return Config.fromfile(str(config)), capsys.readouterr().out

    published, out = publish('given', '--config', str(given_path))
    assert published.model.test_cfg == given.model.test_cfg
    assert (f'using the config {given_path}, not the one stored in '
            f'{checkpoint}') in out.splitlines()
    published, out = publish('stored')
    assert published.model.test_cfg == dict(mode='whole')
    assert cfg.model.test_cfg == dict(mode='whole')
    assert 'using the config' not in out

    missing = tmp_path / 'missing.py'
    assert main([str(checkpoint), str(tmp_path / 'x'), '--config',
                 str(missing)]) == 1
    captured = capsys.readouterr()
    assert captured.err == f'error: config not found: {missing}\n'
    assert captured.out == ''


def test_inference_config_refuses_what_it_cannot_strip():
    cfg = Config(dict(model=dict(
        type='EncoderDecoder',
        decode_head=dict(type='FCNHead',
                         loss_decode=dict(type='AAFLoss', num_classes=2)))))
    with pytest.raises(PublishError, match='only pairwise losses'):
        inference_config(cfg)
    with pytest.raises(PublishError, match='no model'):
        inference_config(Config(dict(a=1)))


def test_tool_errors_are_one_line(tmp_path):
    tool = str(REPO_ROOT / 'tools' / 'publish_model.py')
    for args in ([str(tmp_path / 'missing.pth'), 'out'],
                 [__file__, 'out']):
        proc = subprocess.run([sys.executable, tool, *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith('error: '), lines
