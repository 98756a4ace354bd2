# Copyright (c) mmseg_aaf contributors. All rights reserved.
import importlib.util
import math
from collections import OrderedDict

import numpy as np
import pytest
import torch

from mmseg_aaf.utils import UnsafeCheckpointError
from mmseg_aaf.visualization import (aaf_kernel_sizes_from_config,
                                     class_names_from_config,
                                     kernel_sizes_from_state_dict,
                                     plot_kernel_sizes)

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def aaf_state_dict():
    # Class 0: logits (0, ln 3, -inf-ish) -> weights (1/4, 3/4, 0) over
    # sizes (3, 5, 7): 0.75 + 3.75 = 4.5. Class 1: all on 7.
    edge = torch.tensor([[0.0, math.log(3), -1e4], [-1e4, -1e4, 0.0]])
    nonedge = torch.zeros(2, 3)  # uniform: (3 + 5 + 7) / 3 = 5
    return OrderedDict([
        ('backbone.conv.weight', torch.zeros(1)),
        ('decode_head.loss_decode.1.edge_size_logits', edge),
        ('decode_head.loss_decode.1.nonedge_size_logits', nonedge),
        ('auxiliary_head.loss_decode.edge_size_logits', torch.zeros(2, 3)),
        ('auxiliary_head.loss_decode.nonedge_size_logits', torch.zeros(2, 3)),
    ])


@pytest.fixture(scope='module')
def tool(repo_root):
    path = repo_root / 'tools' / 'analysis' / 'plot_kernel_sizes.py'
    spec = importlib.util.spec_from_file_location('plot_kernel_sizes', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_effective_sizes_from_state_dict():
    losses = kernel_sizes_from_state_dict(aaf_state_dict())
    assert [loss.prefix for loss in losses] == [
        'decode_head.loss_decode.1', 'auxiliary_head.loss_decode'
    ]
    np.testing.assert_allclose(losses[0].edge, [4.5, 7.0])
    np.testing.assert_allclose(losses[0].nonedge, [5.0, 5.0])


def test_state_dict_errors():
    with pytest.raises(ValueError, match=r'expected \(num_classes, 2\)'):
        kernel_sizes_from_state_dict(aaf_state_dict(), (3, 5))
    with pytest.raises(ValueError, match='no AAFLoss size logits'):
        kernel_sizes_from_state_dict({'conv.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match='no matching'):
        kernel_sizes_from_state_dict({'a.edge_size_logits': torch.zeros(2, 3)})


def test_plot_writes_a_png(tmp_path):
    import matplotlib.image
    out = plot_kernel_sizes(['road', 'car'], [4.5, 7.0], [5.0, 5.0],
                            (3, 5, 7), str(tmp_path / 'sub' / 'fig.png'))
    data = open(out, 'rb').read()
    assert data[:8] == PNG_SIGNATURE and len(data) > 1000
    image = matplotlib.image.imread(out)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    with pytest.raises(ValueError, match='3 class names for 2'):
        plot_kernel_sizes(['a', 'b', 'c'], [4.5, 7.0], [5.0, 5.0], (3, 5, 7),
                          str(tmp_path / 'bad.png'))


def test_plot_wraps_a_long_title_inside_a_narrow_figure(tmp_path,
                                                        monkeypatch):
    from matplotlib.figure import Figure
    saved = []
    original = Figure.savefig

    def keep(figure, *args, **kwargs):
        saved.append(figure)
        return original(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, 'savefig', keep)
    title = ('DRIVE, UNet-S5-D16 at CPU scale, + Dice + AAF: learned '
             'effective kernel sizes (mean of 3 seed(s))')
    plot_kernel_sizes(['background', 'vessel'], [3.1, 3.0], [6.5, 5.9],
                      (3, 5, 7), str(tmp_path / 'fig.png'), title=title)
    figure, = saved
    text = figure._suptitle
    assert text.get_text().replace('\n', ' ') == title
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    renderer = FigureCanvasAgg(figure).get_renderer()
    box = text.get_window_extent(renderer)
    assert box.x0 >= 0 and box.x1 <= figure.bbox.width


def test_plot_sorts_unsorted_candidates(tmp_path, monkeypatch):
    """Candidates (7, 3, 5) draw the ticks and limits of (3, 5, 7)."""
    from matplotlib.figure import Figure
    saved = []
    monkeypatch.setattr(Figure, 'savefig',
                        lambda figure, *args, **kwargs: saved.append(figure))
    axes = {}
    for sizes in ((3, 5, 7), (7, 3, 5)):
        plot_kernel_sizes(['road', 'car'], [4.5, 7.0], [5.0, 5.0], sizes,
                          str(tmp_path / 'fig.png'))
        axes[sizes] = saved[-1].axes
    for sorted_ax, unsorted_ax in zip(axes[3, 5, 7], axes[7, 3, 5]):
        assert list(unsorted_ax.get_yticks()) == [3, 5, 7]
        assert unsorted_ax.get_ylim() == sorted_ax.get_ylim() == (0, 8)
        assert sorted(line.get_ydata()[0] for line in unsorted_ax.lines) \
            == [3, 5, 7]


def test_tool_with_plain_checkpoint(tool, tmp_path):
    checkpoint = tmp_path / 'iter_10.pth'
    torch.save(
        dict(state_dict=aaf_state_dict(),
             meta=dict(dataset_meta=dict(classes=['road', 'car']))),
        checkpoint)
    out = tool.main([str(checkpoint), '--out', str(tmp_path / 'fig4.png'),
                     '--loss-index', '1'])
    assert open(out, 'rb').read(8) == PNG_SIGNATURE
    with pytest.raises(ValueError, match='--loss-index 2 is out of range'):
        tool.main([str(checkpoint), '--loss-index', '2', '--out',
                   str(tmp_path / 'x.png')])
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        tool.main([str(tmp_path / 'missing.pth')])
    # Not a checkpoint: refused by name, never loaded unsafely.
    random = tmp_path / 'random.pth'
    random.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(UnsafeCheckpointError, match='will not be unpickled'):
        tool.main([str(random)])


def test_config_helpers():
    cfg = dict(
        model=dict(decode_head=dict(loss_decode=[
            dict(type='CrossEntropyLoss'),
            dict(type='AAFLoss', kernel_sizes=(3, 7)),
        ]), auxiliary_head=dict(loss_decode=dict(type='AAFLoss'))),
        test_dataloader=dict(dataset=dict(type='PascalVOCDataset')))
    assert aaf_kernel_sizes_from_config(cfg, 0) == (3, 7)
    assert aaf_kernel_sizes_from_config(cfg, 1) == (3, 5, 7)
    with pytest.raises(ValueError, match='out of range'):
        aaf_kernel_sizes_from_config(cfg, 2)
    names = class_names_from_config(cfg)
    assert len(names) == 21 and names[0] == 'background'
    cfg['val_dataloader'] = dict(dataset=dict(metainfo=dict(classes=['x'])))
    assert class_names_from_config(cfg) == ['x']
