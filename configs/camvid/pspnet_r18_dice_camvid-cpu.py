# CamVid, CPU scale: PSPNet with cross-entropy + mmseg's DiceLoss
# (configured, and what it does with void pixels, in _base_/dice_loss.py);
# everything else as pspnet_r18_ce_camvid-cpu.py.
_base_ = ['./pspnet_r18_ce_camvid-cpu.py', './_base_/dice_loss.py']
model = dict(
    decode_head=dict(loss_decode=[_base_.weighted_ce_loss, _base_.dice_loss]))
