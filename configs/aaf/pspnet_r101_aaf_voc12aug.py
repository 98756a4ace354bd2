# PSPNet-R101-D8 + adaptive affinity fields (k = 3, 5, 7) on VOC 2012 + SBD.
# All else is the mmseg baseline pspnet_r101-d8_4xb4-40k_voc12aug-512x512
# (40k iterations, 512x512 crops, batch 16 = 4 GPUs x 4, SGD lr 0.01,
# poly 0.9), so the result compares one-to-one with its
# model-zoo entry: 78.52 mIoU on val (single scale).
_base_ = [
    'mmseg::pspnet/pspnet_r101-d8_4xb4-40k_voc12aug-512x512.py',
    './_base_/affinity_fields.py'
]
model = dict(
    decode_head=dict(loss_decode=[
        _base_.ce_loss,
        dict(_base_.aaf_loss, num_classes=21),
    ]))
# The auxiliary FCN head keeps upstream's plain CE (the authors' net has none).
# The AAF size logits ascend the loss while the network descends it; the
# optimizer stays upstream's (SGD, lr 0.01, momentum 0.9, weight decay 5e-4).
optim_wrapper = dict(type='AdversarialOptimWrapper')
