# GTA5 Part 1 (images 00001..02500) as a test set for models trained on
# Cityscapes, without fine-tuning, as in the AAF paper. Labels are the
# Cityscapes train ids written by tools/dataset_converters/gta5.py, which
# also writes part1.txt; the dataset needs custom_imports of mmseg_aaf.
#
# The names carry a gta5_ prefix because mmengine refuses a key defined by
# two bases; a test config on top of a Cityscapes config applies them:
#
#   _base_ = ['./pspnet_r101_aaf_cityscapes.py',
#             '../_base_/datasets/gta5.py']
#   test_dataloader = dict(_delete_=True, **_base_.gta5_test_dataloader)
#   test_evaluator = _base_.gta5_test_evaluator
#
# GTA5 images are 1914x1052. They are resized as Cityscapes' test images
# are, to fit (2048, 1024) keeping the aspect ratio (here 1863x1024, about
# the scale of the Cityscapes training data); predictions are scored at
# the labels' full resolution.
gta5_dataset_type = 'GTA5Dataset'
gta5_data_root = 'data/gta5/'
gta5_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    # Annotations are loaded after Resize: they are not resized.
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
gta5_test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=gta5_dataset_type,
        data_root=gta5_data_root,
        data_prefix=dict(img_path='images', seg_map_path='labels'),
        ann_file='part1.txt',
        pipeline=gta5_test_pipeline))
# mIoU over the 19 Cityscapes classes; aAcc is the pixel accuracy.
gta5_test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
