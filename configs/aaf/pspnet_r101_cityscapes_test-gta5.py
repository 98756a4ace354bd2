# Test a Cityscapes-trained PSPNet-R101-D8 baseline (mmseg's
# pspnet_r101-d8_4xb2-80k_cityscapes-512x1024, e.g. its model-zoo
# checkpoint) on GTA5 Part 1 without fine-tuning, as in the paper, which
# reports mIoU and pixel accuracy (aAcc) there.
_base_ = [
    'mmseg::pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py',
    '../_base_/datasets/gta5.py'
]
custom_imports = dict(imports=['mmseg_aaf'], allow_failed_imports=False)
test_dataloader = dict(_delete_=True, **_base_.gta5_test_dataloader)
test_evaluator = _base_.gta5_test_evaluator
