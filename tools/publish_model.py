# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Publish an AAF-trained checkpoint for stock mmseg (no plugin needed).

In the form of mmseg's tools/misc/publish_model.py: drops the optimizer
state, the message hub and the AAF size logits (their learned effective
kernel sizes go into meta['aaf_kernel_sizes']) and writes
OUT-<first 8 hex of sha256>.pth, plus OUT-<hash>.py, the inference config
(the training config without the pairwise losses, the adversarial wrapper,
the plugin's hooks and custom_imports).

    python tools/publish_model.py work_dirs/x/iter_80000.pth \
        work_dirs/x/pspnet_r101_aaf_cityscapes [--config TWIN]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmseg_aaf.cli.publish_model import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
