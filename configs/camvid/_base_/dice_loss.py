# mmseg's DiceLoss as the CamVid loss comparison appends it to a CE head's
# loss_decode, on PSPNet and DeepLabV3+ alike.
#
# use_sigmoid=False: the softmax over the classes (mmseg's default is a
# sigmoid per channel, which does not match the softmax CE head). What
# mmseg 1.2.2's DiceLoss then computes on CamVid (tested in
# tests/configs/test_camvid_loss_configs.py):
# - one V-Net Dice score per image over all classes and pixels together,
#   1 - 2 sum(p t) / (sum(p^2) + sum(t^2)), averaged over the batch: not a
#   mean of per-class Dice scores, so large classes dominate it;
# - void (255) pixels get an all-zero one-hot target, so they are NOT
#   removed: their softmax probabilities still enter sum(p^2). Its
#   ignore_index removes a class *channel* of that index, which does not
#   exist for 11 classes. On CamVid's train labels void covers a few
#   percent of the pixels, mostly thin bands along object contours.
# There is no setting that masks void pixels; the loss is used as mmseg
# ships it, loss_weight 1.
dice_loss = dict(type='DiceLoss', use_sigmoid=False, loss_weight=1.0)
