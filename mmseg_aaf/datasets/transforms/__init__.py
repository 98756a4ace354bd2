# Copyright (c) mmseg_aaf contributors. All rights reserved.
from .instance_annotations import (LoadInstanceAnnotations,
                                   PackSegInputsWithInstances)

__all__ = ['LoadInstanceAnnotations', 'PackSegInputsWithInstances']
