# CamVid, GPU scale: PSPNet-R101-D8 with cross-entropy only (the baseline
# for pspnet_r101_{affinity,aaf}_camvid.py). Train with 2 GPUs:
#   tools/dist_train.sh configs/camvid/pspnet_r101_ce_camvid.py 2
_base_ = ['./_base_/pspnet_r101-d8_camvid.py']
custom_imports = dict(imports=['mmseg_aaf'], allow_failed_imports=False)
