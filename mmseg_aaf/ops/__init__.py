# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Compiled operators: the fused affinity field (CPU C++ and CUDA Triton)
behind :func:`mmseg_aaf.models.losses.affinity_field_terms`."""
from .affinity_field import (affinity_field_class_sums, fused_available,
                             unavailable_reason)

__all__ = ['affinity_field_class_sums', 'fused_available',
           'unavailable_reason']
