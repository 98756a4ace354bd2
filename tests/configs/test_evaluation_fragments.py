# Copyright (c) mmseg_aaf contributors. All rights reserved.
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from PIL import Image

import mmseg
import mmseg_aaf  # noqa: F401

pytestmark = pytest.mark.integration

MMSEG_DATASETS = (mmseg.__path__[0] + '/.mim/configs/_base_/datasets')


def compose(tmp_path, repo_root, dataset: str, fragment: str) -> Config:
    path = tmp_path / 'cfg.py'
    # The usage the fragments document in their header.
    path.write_text(
        f"_base_ = ['{MMSEG_DATASETS}/{dataset}',\n"
        f"          '{repo_root}/configs/_base_/evaluation/{fragment}']\n"
        'test_dataloader = dict(dataset=dict(\n'
        '    pipeline={{_base_.boundary_instance_test_pipeline}}))\n'
        'test_evaluator = {{_base_.boundary_instance_test_evaluator}}\n')
    return Config.fromfile(str(path))


@pytest.mark.parametrize('dataset, fragment, definition', [
    ('pascal_voc12.py', 'boundary_instance_voc.py', 'paper'),
    ('cityscapes.py', 'boundary_instance_cityscapes.py', 'cityscapes'),
])
def test_fragment_composes_with_mmseg_dataset(tmp_path, repo_root, dataset,
                                              fragment, definition):
    cfg = compose(tmp_path, repo_root, dataset, fragment)
    pipeline = [t['type'] for t in cfg.test_dataloader.dataset.pipeline]
    assert pipeline[-2:] == ['LoadInstanceAnnotations',
                             'PackSegInputsWithInstances']
    # Only testing changes; the val pipeline stays mmseg's.
    assert cfg.val_dataloader.dataset.pipeline[-1]['type'] == 'PackSegInputs'
    assert cfg.test_dataloader.dataset.type == cfg.val_dataloader.dataset.type
    types = [m['type'] for m in cfg.test_evaluator]
    assert types == ['PerClassIoUMetric', 'BoundaryMetric',
                     'InstanceIoUMetric']
    assert cfg.test_evaluator[2]['definition'] == definition


def test_voc_fragment_end_to_end(tmp_path, repo_root):
    """Load a VOC-like sample with the fragment's pipeline and evaluate a
    perfect prediction with its evaluator."""
    root = tmp_path / 'VOC2012'
    for name in ('JPEGImages', 'SegmentationClass', 'SegmentationObject'):
        (root / name).mkdir(parents=True)
    label = np.zeros((12, 16), np.uint8)
    label[2:6, 2:6] = 15  # a person
    label[7:11, 9:14] = 7  # a car
    label[6, :] = 255
    objects = np.where(label == 15, 1, np.where(label == 7, 2, 0))
    objects[label == 255] = 255
    Image.fromarray(np.zeros((12, 16, 3), np.uint8)).save(
        root / 'JPEGImages' / 'a.jpg')
    Image.fromarray(label).save(root / 'SegmentationClass' / 'a.png')
    Image.fromarray(objects.astype(np.uint8)).save(
        root / 'SegmentationObject' / 'a.png')

    cfg = compose(tmp_path, repo_root, 'pascal_voc12.py',
                  'boundary_instance_voc.py')
    init_default_scope('mmseg')
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    packed = pipeline(
        dict(img_path=str(root / 'JPEGImages' / 'a.jpg'),
             seg_map_path=str(root / 'SegmentationClass' / 'a.png'),
             reduce_zero_label=False, seg_fields=[]))
    data_sample = packed['data_samples']
    assert data_sample.gt_instance_seg.data.shape == (1, 12, 16)
    gt = data_sample.gt_sem_seg.data
    data_sample.pred_sem_seg = PixelData(data=gt.masked_fill(gt == 255, 0))

    evaluator = Evaluator(cfg.test_evaluator)
    from mmseg.datasets import PascalVOCDataset
    evaluator.dataset_meta = PascalVOCDataset.METAINFO
    evaluator.process([data_sample], dict(inputs=[packed['inputs']]))
    metrics = evaluator.evaluate(1)
    assert metrics['mIoU'] == 100.0
    assert metrics['bFscore'] == 100.0
    assert metrics['mIoU_instance'] == 100.0
