# AAF twin of unet-s5-d16_fcn_ce-1.0-dice-3.0_drive-64x64-cpu.py, written by
#   tools/aaf_config.py: everything not set here is inherited.
# AAFLoss (num_classes=2) appended to the loss_decode of decode_head
#   (FCNHead).
# Not on auxiliary_head (FCNHead): auxiliary heads keep their losses; --aux
#   adds the loss there too.
# optim_wrapper: OptimWrapper -> AdversarialOptimWrapper; the optimizer (SGD)
#   with its settings, paramwise_cfg and clip_grad are inherited.
# The AAF size logits ascend the loss, with decode_head.loss_decode.2: lr
#   0.01, weight decay 0.
# AffinityLossDecayHook scales the pairwise term from 1 to 1/10 over the run,
#   as the authors do.

_base_ = 'unet-s5-d16_fcn_ce-1.0-dice-3.0_drive-64x64-cpu.py'

custom_imports = dict(imports=['mmseg_aaf'], allow_failed_imports=False)

model = dict(
    decode_head=dict(
        loss_decode=[
            dict(
                type='CrossEntropyLoss',
                use_sigmoid=False,
                loss_weight=1.0,
                reduction='none',
                class_weight=[0.8372, 2.7237],
            ),
            dict(type='DiceLoss', loss_name='loss_dice', loss_weight=3.0),
            dict(
                type='AAFLoss',
                num_classes=2,
                kernel_sizes=(3, 5, 7),
                margin=3.0,
                edge_loss_weight=1.0,
                nonedge_loss_weight=1.0,
                downsample=1,
                loss_weight=1.0,
            ),
        ],
    ),
)

optim_wrapper = dict(type='AdversarialOptimWrapper')

custom_hooks = [dict(type='AffinityLossDecayHook', base=10.0)]
