# CamVid, CPU scale: cross-entropy + adaptive affinity fields (k = 3, 5, 7)
# on the paper's grid in scene units (downsample=4 at half resolution, see
# the affinity config); the size logits ascend the loss
# (AdversarialOptimWrapper) while the network descends it. Everything else
# as pspnet_r18_ce_camvid-cpu.py.
_base_ = [
    './_base_/pspnet_r18_camvid-cpu.py', '../aaf/_base_/affinity_fields.py'
]
model = dict(
    decode_head=dict(loss_decode=[
        _base_.weighted_ce_loss,
        dict(_base_.aaf_loss, num_classes=11, downsample=4),
    ]))
optim_wrapper = dict(type='AdversarialOptimWrapper')
