# pspnet_r101_aaf_cityscapes.py with the authors' Cityscapes recipe instead of
# mmseg's (90k iterations, 720x720 crops, batch 8, base lr 1e-3, poly 0.9):
# the recipe of pspnet_r101_affinity_cityscapes_paper-recipe.py with the AAF
# loss and its optimizer wrapper. The result does not compare with the mmseg
# model zoo.
_base_ = './pspnet_r101_affinity_cityscapes_paper-recipe.py'
model = dict(
    decode_head=dict(loss_decode=[
        _base_.ce_loss,
        dict(_base_.aaf_loss, num_classes=19),
    ]))
# The AAF size logits ascend the loss while the network descends it.
optim_wrapper = dict(type='AdversarialOptimWrapper')
