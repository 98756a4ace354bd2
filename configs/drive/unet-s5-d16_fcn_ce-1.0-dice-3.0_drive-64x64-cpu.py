# DRIVE, CPU scale: the CE recipe (unet-s5-d16_fcn_ce_drive-64x64-cpu.py)
# plus mmseg's DiceLoss exactly as mmseg's own DRIVE recipe appends it
# (unet-s5-d16_fcn_4xb4-ce-1.0-dice-3.0-40k_drive-64x64.py): on the decode
# head, weight 3.0, mmseg's defaults (use_sigmoid=True: a Dice score per
# class channel of the sigmoid of the logits). The "+ Dice" of the DRIVE
# loss study (make compare-drive); its AAF twin, "+ Dice + AAF", is written
# from this file by the config tool with --loss-options downsample=1.
_base_ = ['./unet-s5-d16_fcn_ce_drive-64x64-cpu.py']
model = dict(
    decode_head=dict(loss_decode=[
        _base_.weighted_ce_loss,
        dict(type='DiceLoss', loss_name='loss_dice', loss_weight=3.0)
    ]))
