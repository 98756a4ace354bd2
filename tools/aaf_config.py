# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Write the AAF twin of an mmseg config (the checkout's form of the
installed ``mmseg-aaf-config`` command; see mmseg_aaf/cli/aaf_config.py).

Examples::

    python tools/aaf_config.py \\
        mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py
    python tools/aaf_config.py my_configs/ocrnet.py --out my_configs/
    python tools/aaf_config.py CONFIG --method affinity --aux
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmseg_aaf.cli.aaf_config import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
