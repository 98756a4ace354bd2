# pspnet_r101_affinity_cityscapes.py with the authors' Cityscapes recipe
# instead of mmseg's: 90k iterations, 720x720 crops, batch 8 (4 GPUs x 2), base
# lr 1e-3 with poly 0.9 decay to 0. The augmentation (random rescale 0.5-2,
# flip, photometric distortion) and whole-image testing stay mmseg's. The
# result does not compare with the mmseg model zoo.
_base_ = './pspnet_r101_affinity_cityscapes.py'
crop_size = (720, 720)
max_iters = 90000
model = dict(data_preprocessor=dict(size=crop_size))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(2048, 1024),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=9000)
default_hooks = dict(checkpoint=dict(interval=9000))
