# CamVid, CPU scale: cross-entropy + the affinity field loss with one fixed
# 3x3 field; everything else as pspnet_r18_ce_camvid-cpu.py.
#
# downsample=4: the paper evaluates the field every 8 pixels of the
# full-resolution image (PSPNet's stride-8 grid), so that k = 3, 5, 7 span
# 8, 16 and 24 pixels of the scene. The data here is at half resolution, so
# the same grid in the scene is every 4 pixels (the logits are bilinearly
# upsampled from the network's stride-8 output). The term decays from 1 to
# 0.1 over the run (AffinityLossDecayHook of the base below).
_base_ = [
    './_base_/pspnet_r18_camvid-cpu.py', '../aaf/_base_/affinity_fields.py'
]
model = dict(
    decode_head=dict(loss_decode=[
        _base_.weighted_ce_loss,
        dict(_base_.affinity_loss, num_classes=11, downsample=4),
    ]))
