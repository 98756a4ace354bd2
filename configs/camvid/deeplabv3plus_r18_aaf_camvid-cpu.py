# AAF twin of deeplabv3plus_r18_ce_camvid-cpu.py, written by
#   tools/aaf_config.py: everything not set here is inherited.
# AAFLoss (num_classes=11) appended to the loss_decode of decode_head
#   (DepthwiseSeparableASPPHead).
# Not on auxiliary_head (FCNHead): auxiliary heads keep their losses; --aux
#   adds the loss there too.
# optim_wrapper: OptimWrapper -> AdversarialOptimWrapper; the optimizer
#   (AdamW) with its settings, paramwise_cfg and clip_grad are inherited.
# The AAF size logits ascend the loss, with decode_head.loss_decode.1: lr
#   0.004, weight decay 0.
# AffinityLossDecayHook scales the pairwise term from 1 to 1/10 over the run,
#   as the authors do.

_base_ = 'deeplabv3plus_r18_ce_camvid-cpu.py'

custom_imports = dict(imports=['mmseg_aaf'], allow_failed_imports=False)

model = dict(
    decode_head=dict(
        loss_decode=[
            dict(
                type='CrossEntropyLoss',
                use_sigmoid=False,
                loss_weight=1.0,
                reduction='none',
                class_weight=[
                    0.5937,
                    0.4269,
                    10.1042,
                    0.3137,
                    2.1149,
                    0.8963,
                    8.1454,
                    4.1811,
                    1.6675,
                    13.4862,
                    18.6511,
                ],
            ),
            dict(
                type='AAFLoss',
                num_classes=11,
                kernel_sizes=(3, 5, 7),
                margin=3.0,
                edge_loss_weight=1.0,
                nonedge_loss_weight=1.0,
                downsample=4,
                loss_weight=1.0,
            ),
        ],
    ),
)

optim_wrapper = dict(type='AdversarialOptimWrapper')

custom_hooks = [dict(type='AffinityLossDecayHook', base=10.0)]
