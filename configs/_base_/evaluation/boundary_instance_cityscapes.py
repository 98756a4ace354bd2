# Boundary F-score and Cityscapes' class-level iIoU on Cityscapes val,
# beside mIoU. mmengine refuses keys defined by two bases, so this fragment
# only defines new names; a test config applies them:
#
#   _base_ = ['./my_pspnet_aaf_cityscapes.py',
#             '../_base_/evaluation/boundary_instance_cityscapes.py']
#   test_dataloader = dict(
#       dataset=dict(pipeline={{_base_.boundary_instance_test_pipeline}}))
#   test_evaluator = {{_base_.boundary_instance_test_evaluator}}
#
# Instance maps are read from *_gtFine_instanceIds.png beside
# *_gtFine_labelTrainIds.png. Set output_file on a metric to also write its
# per-class results JSON for tools/analysis/benchmark_tables.py.
boundary_instance_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    # Annotations are loaded after Resize: metrics compare at full size.
    dict(type='LoadAnnotations'),
    dict(type='LoadInstanceAnnotations', format='cityscapes'),
    dict(type='PackSegInputsWithInstances'),
]
boundary_instance_test_evaluator = [
    dict(type='PerClassIoUMetric', iou_metrics=['mIoU'], output_file=None),
    # The BSDS benchmark's defaults: one-to-one matching within 0.0075 of
    # the image diagonal, on thinned semantic boundaries.
    dict(type='BoundaryMetric', output_file=None),
    dict(type='InstanceIoUMetric', definition='cityscapes', output_file=None),
]
