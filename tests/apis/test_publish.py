# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""tools/publish_model.py: an AAF-trained model shipped to stock mmseg.

The published checkpoint and config are loaded in a subprocess that never
imports the plugin (checked), strictly and weights-only, and must predict
exactly what the AAF-trained model predicts."""
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
from mmseg_aaf.testing.model_zoo import cpu_model_config
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


def test_ddrnet_twin_reverts_to_the_upstream_head(tmp_path):
    """A DDRNet AAF twin (AffinityDDRHead) with moved size logits, saved as
    mmengine saves checkpoints, published and predicted by stock mmseg."""
    upstream = ('mmseg::ddrnet/'
                'ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes-1024x1024.py')
    twin_path = tmp_path / 'ddrnet_aaf.py'
    twin_path.write_text(make_twin(upstream, str(twin_path)).text)
    cfg = Config.fromfile(str(twin_path))
    cfg.model = cpu_model_config(cfg, 64)
    cfg.test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='PackSegInputs')
    ]
    assert cfg.model.decode_head.type == 'AffinityDDRHead'
    from mmseg.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    aaf = model.decode_head.loss_decode[2]
    with torch.no_grad():
        aaf.edge_size_logits.normal_()
        aaf.nonedge_size_logits.normal_()
    model.eval()
    checkpoint = tmp_path / 'iter_1.pth'
    torch.save(dict(meta=dict(cfg=cfg.pretty_text, iter=1,
                              dataset_meta=dict(classes=list(range(19)))),
                    state_dict=model.state_dict(),
                    optimizer=dict(state={}, param_groups=[])), checkpoint)

    result = publish_checkpoint(str(checkpoint), str(tmp_path / 'ddrnet'))
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

    rng = np.random.default_rng(0)
    images = []
    from PIL import Image
    for i in range(2):
        path = tmp_path / f'image{i}.png'
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)).save(
            path)
        images.append(path)
    report, stock = run_stock(result['config'], result['checkpoint'], images,
                              tmp_path)
    assert report['missing'] == [] and report['unexpected'] == []
    assert report['plugin_imported'] is False
    assert report['head'] == 'DDRHead'
    from mmseg.apis import inference_model
    model.cfg = cfg
    expected = np.stack([
        r.pred_sem_seg.data[0].numpy()
        for r in inference_model(model, [str(p) for p in images])
    ])
    np.testing.assert_array_equal(stock, expected)


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
