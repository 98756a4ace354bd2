# The GPU-scale CamVid setting shared by pspnet_r101_{ce,affinity,aaf}_camvid:
# mmseg's PSPNet-R101-D8 (ImageNet-pretrained ResNetV1c-101 backbone,
# downloaded on first use), CamVid at full resolution (360x480 crops),
# 20k iterations of batch 8 (2 GPUs x 4), SGD lr 0.01 with poly decay:
# mmseg's own model and schedule bases, unchanged but for the classes.
_base_ = [
    'mmseg::_base_/models/pspnet_r50-d8.py',
    '../../_base_/datasets/camvid.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_20k.py'
]
data_preprocessor = dict(size=_base_.crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained='open-mmlab://resnet101_v1c',
    backbone=dict(depth=101),
    decode_head=dict(num_classes=11),
    auxiliary_head=dict(num_classes=11))
train_dataloader = dict(batch_size=4)
