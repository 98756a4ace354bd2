# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .affinity_field import AffinityFieldTerms, affinity_field_terms
from .affinity_loss import (AAFLoss, AffinityLoss, is_marked_for_ascent,
                            mark_for_ascent, sample_affinity_grid)

__all__ = [
    'AffinityFieldTerms', 'affinity_field_terms', 'AffinityLoss', 'AAFLoss',
    'mark_for_ascent', 'is_marked_for_ascent', 'sample_affinity_grid'
]
