# What the configs in configs/aaf/ add to an mmseg baseline, besides the
# loss list of the decode head and, for AAF, the optimizer wrapper:
#
#   _base_ = ['mmseg::pspnet/<baseline>.py', './_base_/affinity_fields.py']
#   model = dict(decode_head=dict(loss_decode=[
#       _base_.ce_loss, dict(_base_.aaf_loss, num_classes=19)]))
#   optim_wrapper = dict(type='AdversarialOptimWrapper')  # AAF only
#
# Only names that mmseg's bases leave undefined are set here (mmengine
# refuses a key defined by two bases); the loss templates lack num_classes.
custom_imports = dict(imports=['mmseg_aaf'], allow_failed_imports=False)
# The affinity term decays from 1 to 1/10 over the run, as the authors do.
custom_hooks = [dict(type='AffinityLossDecayHook', base=10.0)]

# The decode head's cross-entropy, exactly as upstream.
ce_loss = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)
# The paper's settings: margin m = 3, edge and non-edge lambdas 1, the
# field on the stride-8 output grid.
affinity_loss = dict(
    type='AffinityLoss',
    kernel_sizes=(3, ),
    margin=3.0,
    edge_loss_weight=1.0,
    nonedge_loss_weight=1.0,
    downsample=8,
    loss_weight=1.0)
aaf_loss = dict(
    type='AAFLoss',
    kernel_sizes=(3, 5, 7),
    margin=3.0,
    edge_loss_weight=1.0,
    nonedge_loss_weight=1.0,
    downsample=8,
    loss_weight=1.0)
