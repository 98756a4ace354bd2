# CamVid, GPU scale: PSPNet-R101-D8 + adaptive affinity fields (k = 3, 5, 7)
# with the paper's settings; the size logits ascend the loss
# (AdversarialOptimWrapper, optimizer unchanged). Everything else as
# pspnet_r101_ce_camvid.py.
_base_ = [
    './_base_/pspnet_r101-d8_camvid.py', '../aaf/_base_/affinity_fields.py'
]
model = dict(
    decode_head=dict(loss_decode=[
        _base_.ce_loss,
        dict(_base_.aaf_loss, num_classes=11),
    ]))
optim_wrapper = dict(type='AdversarialOptimWrapper')
