# CamVid, 11 classes, SegNet split (367 train, 101 val, 233 test images of
# 360x480), converted by tools/dataset_converters/camvid.py into
# data/camvid/{img_dir,ann_dir}/{train,val,test} (void -> 255). The dataset
# needs custom_imports of mmseg_aaf.
#
# The test dataloader reads val through the standard data_prefix; point it
# at another split with --cfg-options, e.g. for the SegNet test split:
#   --cfg-options test_dataloader.dataset.data_prefix.img_path=img_dir/test \
#                 test_dataloader.dataset.data_prefix.seg_map_path=ann_dir/test
dataset_type = 'CamVidDataset'
data_root = 'data/camvid'
img_scale = (480, 360)
crop_size = (360, 480)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=img_scale,
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    # Annotations are loaded after Resize: scored at their own size.
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='img_dir/train', seg_map_path='ann_dir/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# mIoU, with the per-class table; semantic boundary precision / recall / F
# (BoundaryMetric's defaults) and Boundary IoU (dilation ratio 0.02 of the
# diagonal: 6 pixels at 240x180, 12 at 480x360); see
# docs/user_guides/5_evaluation.md.
val_evaluator = [
    dict(type='PerClassIoUMetric', iou_metrics=['mIoU']),
    dict(type='BoundaryMetric'),
    dict(type='BoundaryIoUMetric'),
]
test_evaluator = val_evaluator
