# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Offline pretrained weights and miniature datasets for the config runs."""
import os
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.datasets.miniature import (write_camvid_segnet, write_cityscapes,
                                      write_gta5, write_voc12aug)

#: What the upstream R101 configs set as ``model.pretrained``.
PRETRAINED = 'open-mmlab://resnet101_v1c'


@pytest.fixture(scope='session')
def torch_home(tmp_path_factory) -> Path:
    """A TORCH_HOME whose hub cache already holds ``resnet101_v1c``.

    mmengine resolves ``open-mmlab://resnet101_v1c`` through its URL map
    and torch.hub's download cache, ``$TORCH_HOME/hub/checkpoints/<file>``;
    with the file there, nothing is downloaded and the real loading path
    runs. The weights are a randomly initialised ResNetV1c-101 with exactly
    the keys of the published checkpoint.
    """
    import torch
    from mmengine.runner.checkpoint import get_external_models
    from mmseg.models.backbones import ResNetV1c

    url = get_external_models()[PRETRAINED[len('open-mmlab://'):]]
    home = tmp_path_factory.mktemp('torch_home')
    cache = home / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(ResNetV1c(depth=101).state_dict(),
               cache / os.path.basename(url))
    return home


@pytest.fixture(scope='session')
def run_dir(tmp_path_factory) -> Path:
    """A directory to run the tools in, as from a checkout with data.

    ``data/`` holds miniature copies of Cityscapes, VOC 2012 + aug, GTA5
    (labels converted, Part 1 split written) and CamVid (converted from the
    SegNet layout at full and half scale) in their real layouts at the
    paths the configs name; ``configs`` and ``tools`` link to the repo's, so
    commands run exactly as documented.
    """
    from mmseg_aaf.datasets.camvid_conversion import convert_camvid
    from mmseg_aaf.datasets.gta5_conversion import convert_gta5

    root = tmp_path_factory.mktemp('run')
    data = root / 'data'
    write_cityscapes(data / 'cityscapes')
    write_voc12aug(data / 'VOCdevkit' / 'VOC2012')
    write_gta5(data / 'gta5')
    report = convert_gta5(str(data / 'gta5'))
    assert not report.errors and report.part1_pairs == 2, report.lines()
    segnet = write_camvid_segnet(root / 'segnet_camvid')
    for name, scale in (('camvid', 1.0), ('camvid_half', 0.5)):
        report = convert_camvid(str(segnet), str(data / name), scale=scale)
        assert not report.failed(), report.lines()
    (root / 'configs').symlink_to(REPO_ROOT / 'configs')
    (root / 'tools').symlink_to(REPO_ROOT / 'tools')
    return root
