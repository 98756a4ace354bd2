# CamVid, CPU scale: DeepLabV3+ (see its base) with cross-entropy only,
# the second model family of the loss study (make compare-losses).
# Its AAF twin is written from this file by the config tool (downsample=4:
# the paper's grid in the scene at half resolution, as the PSPNet configs):
#   python tools/aaf_config.py configs/camvid/deeplabv3plus_r18_ce_camvid-cpu.py \
#       --out configs/camvid/deeplabv3plus_r18_aaf_camvid-cpu.py \
#       --loss-options downsample=4
_base_ = ['./_base_/deeplabv3plus_r18_camvid-cpu.py']
custom_imports = dict(imports=['mmseg_aaf'], allow_failed_imports=False)
