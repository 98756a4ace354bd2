# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""GTA5 (Richter et al., ECCV 2016) with the 19 Cityscapes classes.

The paper evaluates Cityscapes-trained models, without fine-tuning, on GTA5
Part 1. Labels must first be converted to Cityscapes train ids with
``tools/dataset_converters/gta5.py``, which also writes the Part 1 split.
"""
import os.path as osp
from typing import List

import mmengine
from mmengine import fileio
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset, CityscapesDataset
from mmseg.registry import DATASETS

from .pair_check import abbreviate, check_pair_sizes


@DATASETS.register_module()
class GTA5Dataset(BaseSegDataset):
    """GTA5 images with Cityscapes train-id labels.

    Layout (``data_root``)::

        images/00001.png
        labels/00001.png                  # original, palette of label ids
        labels/00001_labelTrainIds.png    # written by the converter
        part1.txt                         # ids 00001..02500, one per line

    Classes and palette are Cityscapes' so that a model trained there is
    evaluated class for class.

    A few GTA5 ids come without a label file. Such images are left out,
    and so are labels without an image; the dataset logs how many
    image/label pairs it found and names some of the files it left out.
    This applies both to a split given as ``ann_file`` and to a scan of the
    image directory. Without ``seg_map_path`` every image is used. A label
    whose size differs from its image is an error that names both files.

    Args:
        img_suffix (str): Default: '.png'.
        seg_map_suffix (str): Default: '_labelTrainIds.png'.
        **kwargs: See :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = dict(
        classes=CityscapesDataset.METAINFO['classes'],
        palette=CityscapesDataset.METAINFO['palette'])

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '_labelTrainIds.png',
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    def _list_names(self, directory: str, suffix: str) -> List[str]:
        """Base names of the files in ``directory`` ending with ``suffix``."""
        if not fileio.isdir(directory, backend_args=self.backend_args):
            raise FileNotFoundError(
                f'{type(self).__name__}: no directory {directory}')
        names = fileio.list_dir_or_file(
            directory, list_dir=False, suffix=suffix, recursive=False,
            backend_args=self.backend_args)
        return sorted(name[:-len(suffix)] for name in names)

    def load_data_list(self) -> List[dict]:
        name = type(self).__name__
        img_dir = self.data_prefix.get('img_path', None)
        ann_dir = self.data_prefix.get('seg_map_path', None)
        labelled = ann_dir is not None and ann_dir != ''
        if self.ann_file:
            if not fileio.isfile(self.ann_file,
                                 backend_args=self.backend_args):
                raise FileNotFoundError(
                    f'{name}: split file {self.ann_file} not found; '
                    'tools/dataset_converters/gta5.py writes part1.txt')
            lines = mmengine.list_from_file(
                self.ann_file, backend_args=self.backend_args)
            ids = [line.strip() for line in lines if line.strip()]
            source = f'split {self.ann_file}'
        else:
            # The label directory also holds the original label PNGs, so
            # images are listed from the image directory only.
            ids = self._list_names(img_dir, self.img_suffix)
            source = f'directory {img_dir}'

        def img_path(id_):
            return osp.join(img_dir, id_ + self.img_suffix)

        def seg_path(id_):
            return osp.join(ann_dir, id_ + self.seg_map_suffix)

        def exists(path):
            return fileio.isfile(path, backend_args=self.backend_args)

        if self.ann_file:
            missing_images = [i for i in ids if not exists(img_path(i))]
        elif labelled:
            # Scanning: labels whose image is not in the image directory.
            image_set = set(ids)
            missing_images = [
                i for i in self._list_names(ann_dir, self.seg_map_suffix)
                if i not in image_set
            ]
        else:
            missing_images = []
        if labelled:
            no_image = set(missing_images)
            missing_labels = [
                i for i in ids
                if i not in no_image and not exists(seg_path(i))
            ]
        else:
            missing_labels = []
        left_out = set(missing_images) | set(missing_labels)

        data_list = []
        for id_ in ids:
            if id_ in left_out:
                continue
            data_info = dict(img_path=img_path(id_))
            if labelled:
                data_info['seg_map_path'] = seg_path(id_)
            data_info['label_map'] = self.label_map
            data_info['reduce_zero_label'] = self.reduce_zero_label
            data_info['seg_fields'] = []
            data_list.append(data_info)

        what = 'image/label pairs' if labelled else 'images'
        print_log(f'{name}: found {len(data_list)} {what} ({source})',
                  logger='current')
        if missing_labels:
            print_log(
                f'{name}: left out {len(missing_labels)} image(s) without a '
                f'label {ann_dir}/<id>{self.seg_map_suffix}: '
                f'{abbreviate(missing_labels)}', logger='current', level=30)
        if missing_images:
            verb = 'left out' if self.ann_file else 'found'
            print_log(
                f'{name}: {verb} {len(missing_images)} label(s) without an '
                f'image {img_dir}/<id>{self.img_suffix}: '
                f'{abbreviate(missing_images)}', logger='current', level=30)
        if not data_list:
            raise FileNotFoundError(
                f'{name}: no {what} in {source} (images {img_dir}, labels '
                f'{ann_dir}); convert the labels with '
                'tools/dataset_converters/gta5.py first')
        check_pair_sizes(name, data_list, self.backend_args)
        return data_list
