# Baseline: cross-entropy only.
_base_ = ['./_base_pspnet_synthetic.py']
