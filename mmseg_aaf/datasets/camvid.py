# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""CamVid (Brostow et al., 2008/2009), 11 classes, in the SegNet split.

The SegNet layout (``train/``, ``trainannot/``, ``val/``, ...; void = 11)
is converted by ``tools/dataset_converters/camvid.py`` into mmseg's
``img_dir/<split>`` / ``ann_dir/<split>`` layout with void as 255.
"""
import os.path as osp
from typing import List

from mmengine import fileio
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .pair_check import check_pair_sizes

#: The 11 evaluated classes, in label-id order 0..10.
CAMVID_CLASSES = ('sky', 'building', 'pole', 'road', 'pavement', 'tree',
                  'signsymbol', 'fence', 'car', 'pedestrian', 'bicyclist')
#: The colours CamVid's 11-class version is usually drawn with (RGB).
CAMVID_PALETTE = [[128, 128, 128], [128, 0, 0], [192, 192, 128],
                  [128, 64, 128], [60, 40, 222], [128, 128, 0],
                  [192, 128, 128], [64, 64, 128], [64, 0, 128],
                  [64, 64, 0], [0, 128, 192]]
#: The source annotations' void (unlabelled) id; the converter maps it to
#: mmseg's ignore index 255.
CAMVID_VOID_ID = 11


@DATASETS.register_module()
class CamVidDataset(BaseSegDataset):
    """CamVid street scenes with the 11 classes of the SegNet split.

    Layout (``data_root``), as written by the converter::

        img_dir/{train,val,test}/0001TP_006690.png   # RGB
        ann_dir/{train,val,test}/0001TP_006690.png   # 0..10, void = 255

    Images are listed from ``img_dir``; an image whose annotation is
    missing or differs from it in size is an error that names the files,
    not a crash in the middle of an epoch or of the validation.

    Args:
        img_suffix (str): Default: '.png'.
        seg_map_suffix (str): Default: '.png'.
        **kwargs: See :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = dict(classes=CAMVID_CLASSES, palette=CAMVID_PALETTE)

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False,
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        name = type(self).__name__
        img_dir = self.data_prefix.get('img_path', None)
        if not fileio.isdir(img_dir, backend_args=self.backend_args):
            raise FileNotFoundError(
                f'{name}: no image directory {img_dir}; convert the SegNet '
                'layout with tools/dataset_converters/camvid.py first')
        data_list = super().load_data_list()
        if not data_list:
            raise FileNotFoundError(
                f'{name}: no *{self.img_suffix} images in {img_dir}')
        if not self.data_prefix.get('seg_map_path'):
            return data_list  # unlabelled: images only
        missing = [
            info['seg_map_path'] for info in data_list
            if not fileio.isfile(
                info['seg_map_path'], backend_args=self.backend_args)
        ]
        if missing:
            shown = ', '.join(osp.basename(p) for p in missing[:5])
            more = f' and {len(missing) - 5} more' if len(missing) > 5 else ''
            raise FileNotFoundError(
                f'{name}: {len(missing)} image(s) in {img_dir} have no '
                f'annotation in {osp.dirname(missing[0])}: {shown}{more}')
        check_pair_sizes(name, data_list, self.backend_args)
        return data_list
