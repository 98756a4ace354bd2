# The CPU-scale CamVid setting shared by the *_camvid-cpu.py configs: a
# small PSPNet trained from scratch (no pretrained weights are reachable
# offline) on CamVid at half resolution (240x180), on the train split only.
# The method configs add custom_imports and change nothing but the decode
# head's loss list, the optimizer wrapper and the decay hook.
#
# Data: tools/dataset_converters/camvid.py SRC data/camvid_half --scale 0.5
_base_ = ['../../_base_/datasets/camvid.py']
data_root = 'data/camvid_half'
num_classes = 11
img_scale = (240, 180)
crop_size = (144, 192)
max_iters = 600
norm_cfg = dict(type='BN', requires_grad=True)
# Median-frequency class balancing, as SegNet trains on CamVid: weight(c)
# proportional to median_c'(f(c')) / f(c), f(c) = pixels of c / pixels of
# the train images that contain c, scaled to a mean of 1 over the train
# pixels (mmseg_aaf.datasets.camvid_conversion.median_frequency_weights on
# data/camvid_half/ann_dir/train). Without it this short schedule never
# predicts pole, sign, pedestrian or bicyclist (IoU 0 on val), the thin
# classes the comparison is about. reduction='none' leaves the average to
# mmengine (a mean over all pixels, ignored ones contributing 0): mmseg
# 1.2.2's 'mean' with class weights fails on ignored (255) labels.
class_weight = [
    0.5937, 0.4269, 10.1042, 0.3137, 2.1149, 0.8963, 8.1454, 4.1811, 1.6675,
    13.4862, 18.6511
]
weighted_ce_loss = dict(
    type='CrossEntropyLoss',
    use_sigmoid=False,
    loss_weight=1.0,
    reduction='none',
    class_weight=class_weight)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size)
# ResNetV1c-18 at a quarter of the usual width with PSPNet's output stride 8
# (stages 3 and 4 dilate instead of striding): 0.8 M parameters; 600
# iterations of batch 8 take about 6 minutes on 2 CPU cores. Wider or
# finer (output stride 4) variants cost 3-8x more per iteration.
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=16,
        base_channels=16,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        norm_cfg=norm_cfg,
        contract_dilation=True),
    decode_head=dict(
        type='PSPHead',
        in_channels=128,
        in_index=3,
        channels=32,
        pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=weighted_ce_loss),
    # As in PSPNet: a light FCN head on stage 3 with plain CE, weight 0.4.
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=64,
        in_index=2,
        channels=16,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(weighted_ce_loss, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=img_scale,
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
# Two cores: data loading in the main process keeps both for the model.
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.004, weight_decay=0.0001))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=100, by_epoch=False),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=100, end=max_iters,
         by_epoch=False),
]
# Trained on train only; val is scored once, after the last iteration, and
# nothing is tuned on it.
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_scope = 'mmseg'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=500,
        max_keep_ckpts=1, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
