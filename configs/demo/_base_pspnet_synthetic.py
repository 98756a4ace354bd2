# The demo's shared setting: a small PSPNet trained from scratch on the
# synthetic thin-structure dataset of mmseg_aaf/comparison/synthetic.py, on CPU.
# tools/demo.py loads the method configs below and sets data_root,
# work_dir, the number of iterations and the seed; the values here are the
# full demo's (the --quick mode shortens the schedule).
custom_imports = dict(
    imports=['mmseg_aaf', 'mmseg_aaf.comparison'], allow_failed_imports=False)
num_classes = 6
crop_size = (96, 96)
max_iters = 800
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[127.5, 127.5, 127.5],
    std=[64.0, 64.0, 64.0],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size)
# ResNetV1c-18 at 1/4 of the usual width, output stride 4 (the stem's
# stride only; later stages dilate instead of striding): on 96 px images
# the logits are 24 x 24, fine enough to hold 2-3 px structures after
# upsampling. PSPNet proper uses stride 8 on 473+ px crops.
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=16,
        base_channels=16,
        strides=(1, 1, 1, 1),
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
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

dataset_type = 'BaseSegDataset'
data_root = 'work_dirs/demo/data'
metainfo = dict(
    classes=('background', 'wheel', 'pole', 'wire', 'crate', 'blob'),
    palette=[[40, 40, 40], [230, 25, 75], [255, 225, 25], [0, 200, 255],
             [60, 180, 75], [245, 130, 48]])
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='PackSegInputs'),
]
# The instance maps feed InstanceIoUMetric.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='LoadDemoInstanceMap'),
    dict(type='PackSegInputsWithInstances'),
]
# What both splits share; tools/demo.py sets data_root on each loader.
synthetic_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    metainfo=metainfo,
    img_suffix='.png',
    seg_map_suffix='.png')
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        synthetic_dataset,
        data_prefix=dict(
            img_path='img_dir/train', seg_map_path='ann_dir/train'),
        pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        synthetic_dataset,
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=test_pipeline))
test_evaluator = [
    dict(type='IoUMetric', iou_metrics=['mIoU']),
    # The rule the demo's numbers (docs/get_started.md) were measured with
    # (before BSDS one-to-one matching became the default): distance
    # matching of the one-sided boundaries within 2 px.
    dict(
        type='BoundaryMetric',
        tolerance=2,
        matching='distance',
        boundary='inner'),
    dict(type='InstanceIoUMetric', definition='paper'),
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.006, weight_decay=0.0001))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=50, by_epoch=False),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=50, end=max_iters,
         by_epoch=False),
]
# Evaluation runs once, after training (tools/demo.py calls runner.test()).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
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
# Same seed for all methods: identical initial weights and batch order.
randomness = dict(seed=0, deterministic=True)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=max_iters,
        max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
