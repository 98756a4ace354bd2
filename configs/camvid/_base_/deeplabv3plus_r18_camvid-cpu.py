# The CPU-scale CamVid setting of _base_/pspnet_r18_camvid-cpu.py (data,
# quarter-width ResNetV1c-18 at output stride 8, auxiliary FCN head,
# class-balanced CE, schedule) with DeepLabV3+'s decoder instead of the
# pyramid pooling head: depthwise-separable ASPP on stage 4 plus a decoder
# that fuses the stride-4 features of stage 1, so the logits come out at
# stride 4 (PSPNet's at stride 8). The ASPP dilations are mmseg's
# (12, 24, 36) scaled to the input: its configs see 64x64 or larger
# stride-8 maps, the 144x192 crops here give 18x24.
_base_ = ['./pspnet_r18_camvid-cpu.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='DepthwiseSeparableASPPHead',
        in_channels=128,
        in_index=3,
        channels=32,
        dilations=(1, 4, 8, 12),
        c1_in_channels=16,
        c1_channels=12,
        dropout_ratio=0.1,
        num_classes={{_base_.num_classes}},
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.weighted_ce_loss}}))
