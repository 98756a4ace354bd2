# Cross-entropy + affinity field loss with one fixed 3x3 field.
#
# downsample=2: the paper evaluates the field on the stride-8 output grid
# of 473+ px crops, where the 7x7 field (distance 3) spans 24 px, the scale
# of the thin parts it targets. Here images are 96 px and the structures
# 1-3 px wide with gaps of 1-3 px, so the field is evaluated every 2 px:
# 2-3 px lines are always sampled and distances 1, 2, 3 mean 2, 4, 6 px.
# On the network's own stride-4 grid (downsample=4) half of the 1-2 px
# lines would never be compared, and distance 3 would span 12 px.
#
# As in the published training, the affinity term decays from 1 to 0.1
# over the run (AffinityLossDecayHook); the AAF run does the same.
_base_ = ['./_base_pspnet_synthetic.py']
model = dict(
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', loss_weight=1.0),
        dict(
            type='AffinityLoss',
            num_classes=6,
            kernel_sizes=(3, ),
            margin=3.0,
            downsample=2,
            loss_weight=1.0),
    ]))
custom_hooks = [dict(type='AffinityLossDecayHook', base=10.0)]
