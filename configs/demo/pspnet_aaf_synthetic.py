# Cross-entropy + adaptive affinity fields: per class, learned mixtures of
# 3x3, 5x5 and 7x7 fields whose size logits ascend the loss
# (AdversarialOptimWrapper) while the network descends it. downsample and
# the decay as in pspnet_affinity_synthetic.py.
_base_ = ['./_base_pspnet_synthetic.py']
model = dict(
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', loss_weight=1.0),
        dict(
            type='AAFLoss',
            num_classes=6,
            kernel_sizes=(3, 5, 7),
            margin=3.0,
            downsample=2,
            loss_weight=1.0),
    ]))
optim_wrapper = dict(type='AdversarialOptimWrapper')
custom_hooks = [dict(type='AffinityLossDecayHook', base=10.0)]
