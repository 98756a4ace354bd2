# CamVid, CPU scale: the small PSPNet of _base_/pspnet_r18_camvid-cpu.py with
# cross-entropy only (the baseline). About 6 minutes on 2 CPU cores
# (the AAF config about 7).
_base_ = ['./_base_/pspnet_r18_camvid-cpu.py']
custom_imports = dict(imports=['mmseg_aaf'], allow_failed_imports=False)
