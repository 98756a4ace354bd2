# CamVid, CPU scale: DeepLabV3+ with cross-entropy + mmseg's LovaszLoss
# (configured and explained in _base_/lovasz_loss.py); everything else as
# deeplabv3plus_r18_ce_camvid-cpu.py.
_base_ = ['./deeplabv3plus_r18_ce_camvid-cpu.py', './_base_/lovasz_loss.py']
model = dict(
    decode_head=dict(
        loss_decode=[_base_.weighted_ce_loss, _base_.lovasz_loss]))
