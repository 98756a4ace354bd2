# The evaluation of the DRIVE configs (configs/drive/): region, boundary
# and centerline scores of the vessels on the 20 validation (test) images,
# every pixel counted as mmseg's IoUMetric counts it. mmengine refuses keys
# defined by two bases and mmseg's DRIVE base sets val_evaluator, so this
# fragment only defines a new name; a config applies it:
#
#   _base_ = ['mmseg::unet/unet-s5-d16_fcn_4xb4-40k_drive-64x64.py',
#             '../_base_/evaluation/drive_vessels.py']
#   val_evaluator = _base_.drive_vessels_evaluator
#   test_evaluator = val_evaluator
#
# Set output_file on a metric to also write its per-class results JSON for
# tools/analysis/benchmark_tables.py.
drive_vessels_evaluator = [
    # mDice as mmseg's DRIVE configs report it (its zoo: 88.38 for
    # UNet-S5-D16 + FCN), and mIoU; PerClassIoUMetric is IoUMetric plus
    # the optional per-class file.
    dict(type='PerClassIoUMetric', iou_metrics=['mDice', 'mIoU']),
    # The BSDS benchmark's defaults: one-to-one matching within 0.0075 of
    # the image diagonal (6 pixels at 584x565), on thinned boundaries.
    dict(type='BoundaryMetric'),
    # Bands of 0.005 of the diagonal, the official Cityscapes setting (4
    # pixels here): COCO's 0.02 (16 pixels) is wider than every vessel, so
    # the vessel band would be the whole vessel mask.
    dict(type='BoundaryIoUMetric', dilation_ratio=0.005),
    # clDice, Tprec, Tsens of the vessel class (every class but 0).
    dict(type='CenterlineDiceMetric'),
]
