# PSPNet-R101-D8 + the affinity field loss (k = 3) on Cityscapes.
# All else is the mmseg baseline pspnet_r101-d8_4xb2-80k_cityscapes-512x1024
# (80k iterations, 512x1024 crops, batch 8 = 4 GPUs x 2, SGD lr 0.01,
# poly 0.9), so the result compares one-to-one with its
# model-zoo entry: 79.76 mIoU on val (single scale).
_base_ = [
    'mmseg::pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py',
    './_base_/affinity_fields.py'
]
model = dict(
    decode_head=dict(loss_decode=[
        _base_.ce_loss,
        dict(_base_.affinity_loss, num_classes=19),
    ]))
# The auxiliary FCN head keeps upstream's plain CE (the authors' net has none).
