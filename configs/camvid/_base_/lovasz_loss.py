# mmseg's LovaszLoss (the Lovász-softmax surrogate of the per-class Jaccard
# index) as the CamVid loss comparison appends it to a CE head's
# loss_decode, on PSPNet and DeepLabV3+ alike.
#
# loss_type='multi_class' takes the softmax of the logits; per_image=False
# computes the loss over the batch's pixels at once, which mmseg allows only
# with reduction='none' (the loss is a scalar then). The decode head passes
# ignore_index=255, so void pixels are removed before the loss (mmseg's
# flatten_probs); classes='present' averages over the classes present in
# the batch's labels. loss_weight 1, as mmseg's docs show it. mmseg 1.2.2's
# implementation needs float32 logits (float64 fails in its torch.dot).
lovasz_loss = dict(
    type='LovaszLoss',
    loss_type='multi_class',
    classes='present',
    per_image=False,
    reduction='none',
    loss_weight=1.0)
