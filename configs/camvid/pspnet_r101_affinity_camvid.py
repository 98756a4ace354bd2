# CamVid, GPU scale: PSPNet-R101-D8 + the affinity field loss (k = 3) with
# the paper's settings (margin 3, both lambdas 1, stride-8 grid, decay from
# 1 to 0.1); everything else as pspnet_r101_ce_camvid.py.
_base_ = [
    './_base_/pspnet_r101-d8_camvid.py', '../aaf/_base_/affinity_fields.py'
]
model = dict(
    decode_head=dict(loss_decode=[
        _base_.ce_loss,
        dict(_base_.affinity_loss, num_classes=11),
    ]))
