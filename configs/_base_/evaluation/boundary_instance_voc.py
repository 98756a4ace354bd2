# Boundary F-score and the AAF paper's instance-wise mIoU on PASCAL VOC 2012
# val, beside mIoU. mmengine refuses keys defined by two bases, so this
# fragment only defines new names; a test config applies them:
#
#   _base_ = ['./my_pspnet_aaf_voc.py',
#             '../_base_/evaluation/boundary_instance_voc.py']
#   test_dataloader = dict(
#       dataset=dict(pipeline={{_base_.boundary_instance_test_pipeline}}))
#   test_evaluator = {{_base_.boundary_instance_test_evaluator}}
#
# Instance maps are read from SegmentationObject/ beside SegmentationClass/.
# Set output_file on a metric to also write its per-class results JSON for
# tools/analysis/benchmark_tables.py.
boundary_instance_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    # Annotations are loaded after Resize: metrics compare at full size.
    dict(type='LoadAnnotations'),
    dict(type='LoadInstanceAnnotations', format='voc'),
    dict(type='PackSegInputsWithInstances'),
]
boundary_instance_test_evaluator = [
    dict(type='PerClassIoUMetric', iou_metrics=['mIoU'], output_file=None),
    # The BSDS benchmark's defaults: one-to-one matching within 0.0075 of
    # the image diagonal, on thinned semantic boundaries.
    dict(type='BoundaryMetric', output_file=None),
    dict(type='InstanceIoUMetric', definition='paper', output_file=None),
]
