# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""One upstream config per decode-head type that carries the loss.

The smallest config of each type in mmseg 1.2.2's zoo (fewest backbone
layers, then smallest crop); ``test_every_dense_head_type_has_a_case``
keeps this list complete against the zoo.
"""
from mmseg_aaf.testing.model_zoo import shrink_mask_classification

#: (place in the model, head type the config has there) -> config.
HEAD_TYPE_CASES = {
    ('decode_head', 'ANNHead'): 'ann/ann_r50-d8_4xb4-80k_ade20k-512x512.py',
    ('decode_head', 'APCHead'):
    'apcnet/apcnet_r50-d8_4xb4-80k_ade20k-512x512.py',
    ('decode_head', 'ASPPHead'):
    'deeplabv3/deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py',
    ('decode_head', 'CCHead'): 'ccnet/ccnet_r50-d8_4xb4-80k_ade20k-512x512.py',
    ('decode_head', 'DAHead'): 'danet/danet_r50-d8_4xb4-80k_ade20k-512x512.py',
    ('decode_head', 'DDRHead'):
    'ddrnet/ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes-1024x1024.py',
    ('decode_head', 'DMHead'): 'dmnet/dmnet_r50-d8_4xb4-80k_ade20k-512x512.py',
    ('decode_head', 'DNLHead'): 'dnlnet/dnl_r50-d8_4xb4-80k_ade20k-512x512.py',
    ('decode_head', 'DPTHead'): 'dpt/dpt_vit-b16_8xb2-160k_ade20k-512x512.py',
    ('decode_head', 'DepthwiseSeparableASPPHead'):
    'deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py',
    ('decode_head', 'DepthwiseSeparableFCNHead'):
    'fastscnn/fast_scnn_8xb4-160k_cityscapes-512x1024.py',
    ('decode_head', 'EMAHead'):
    'emanet/emanet_r50-d8_4xb2-80k_cityscapes-512x1024.py',
    ('decode_head', 'EncHead'):
    'encnet/encnet_r50-d8_4xb4-80k_ade20k-512x512.py',
    ('decode_head', 'FCNHead'):
    'fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py',
    ('decode_head', 'FPNHead'): 'sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py',
    ('decode_head', 'GCHead'): 'gcnet/gcnet_r50-d8_4xb4-80k_ade20k-512x512.py',
    ('decode_head', 'ISAHead'):
    'isanet/isanet_r50-d8_4xb4-80k_ade20k-512x512.py',
    ('decode_head', 'LRASPPHead'):
    'mobilenet_v3/mobilenet-v3-d8-s_lraspp_4xb4-320k_cityscapes-512x1024.py',
    ('decode_head', 'LightHamHead'):
    'segnext/segnext_mscan-t_1xb16-adamw-160k_ade20k-512x512.py',
    ('decode_head', 'NLHead'):
    'nonlocal_net/nonlocal_r50-d8_4xb4-80k_ade20k-512x512.py',
    ('decode_head', 'PIDHead'):
    'pidnet/pidnet-s_2xb6-120k_1024x1024-cityscapes.py',
    ('decode_head', 'PSAHead'):
    'psanet/psanet_r50-d8_4xb4-80k_ade20k-512x512.py',
    ('decode_head', 'PSPHead'):
    'pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py',
    ('decode_head', 'SETRMLAHead'):
    'setr/setr_vit-l-mla_8xb1-160k_ade20k-512x512.py',
    ('decode_head', 'SETRUPHead'):
    'setr/setr_vit-l_naive_8xb2-160k_ade20k-512x512.py',
    ('decode_head', 'SegformerHead'):
    'segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py',
    ('decode_head', 'SegmenterMaskTransformerHead'):
    'segmenter/segmenter_vit-t_mask_8xb1-160k_ade20k-512x512.py',
    ('decode_head', 'UPerHead'): 'upernet/upernet_r18_4xb2-40k_cityscapes-512x1024.py',
    ('decode_head', 'Mask2FormerHead'):
    'mask2former/mask2former_r50_8xb2-90k_cityscapes-512x1024.py',
    ('decode_head', 'MaskFormerHead'):
    'maskformer/maskformer_r50-d32_8xb2-160k_ade20k-512x512.py',
    ('decode_head.0', 'FPNHead'):
    'point_rend/pointrend_r50_4xb2-80k_cityscapes-512x1024.py',
    ('decode_head.1', 'OCRHead'):
    'ocrnet/ocrnet_hr18s_4xb2-40k_cityscapes-512x1024.py',
    ('decode_head.kernel_generate_head', 'ASPPHead'):
    'knet/knet-s3_r50-d8_deeplabv3_8xb2-adamw-80k_ade20k-512x512.py',
    ('decode_head.kernel_generate_head', 'FCNHead'):
    'knet/knet-s3_r50-d8_fcn_8xb2-adamw-80k_ade20k-512x512.py',
    ('decode_head.kernel_generate_head', 'PSPHead'):
    'knet/knet-s3_r50-d8_pspnet_8xb2-adamw-80k_ade20k-512x512.py',
    ('decode_head.kernel_generate_head', 'UPerHead'):
    'knet/knet-s3_r50-d8_upernet_8xb2-adamw-80k_ade20k-512x512.py',
}

#: Input sizes other than 64 that a head type needs: LRASPP pools its
#: stride-8 features with a fixed 49x49 window.
INPUT_SIZES = {'LRASPPHead': 400}

#: Head types whose upstream loss list cannot take ignored pixels: mmseg
#: 1.2.2's CrossEntropyLoss with ``class_weight`` looks the ignore index up
#: in its weight table (PIDNet's first loss), so their batch has none.
NO_IGNORED_PIXELS = {'PIDHead'}

#: Model edits before the CPU build, for head types whose zoo models are
#: too big for a test step: the mask-classification heads get a ResNet-18,
#: 32 channels, 4 queries and 2 decoder layers (same architecture and
#: losses; see ``shrink_mask_classification``).
MODEL_EDITS = {
    'Mask2FormerHead': shrink_mask_classification,
    'MaskFormerHead': shrink_mask_classification,
}
