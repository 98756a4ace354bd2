# CamVid, CPU scale: cross-entropy + mmseg's LovaszLoss (the Lovász-softmax
# surrogate of the per-class Jaccard index); everything else as
# pspnet_r18_ce_camvid-cpu.py.
#
# loss_type='multi_class' takes the softmax of the logits; per_image=False
# computes the loss over the batch's pixels at once, which mmseg allows only
# with reduction='none' (the loss is a scalar then). The decode head passes
# ignore_index=255, so void pixels are removed before the loss (mmseg's
# flatten_probs); classes='present' averages over the classes present in
# the batch's labels. loss_weight 1, as mmseg's docs show it.
_base_ = ['./pspnet_r18_ce_camvid-cpu.py']
model = dict(
    decode_head=dict(loss_decode=[
        _base_.weighted_ce_loss,
        dict(
            type='LovaszLoss',
            loss_type='multi_class',
            classes='present',
            per_image=False,
            reduction='none',
            loss_weight=1.0),
    ]))
