# Test PSPNet-R101-D8 + adaptive affinity fields, trained on Cityscapes with
# pspnet_r101_aaf_cityscapes.py, on GTA5 Part 1 without fine-tuning, as in
# the paper, which reports mIoU and pixel accuracy (aAcc) there.
_base_ = ['./pspnet_r101_aaf_cityscapes.py', '../_base_/datasets/gta5.py']
test_dataloader = dict(_delete_=True, **_base_.gta5_test_dataloader)
test_evaluator = _base_.gta5_test_evaluator
