# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""SAN stays refused, and the refusal says exactly what is missing."""
import pytest

from mmseg_aaf.apis.aaf_config import RefusedConfig, make_twin

SAN = 'mmseg::san/san-vit-b16_coco-stuff164k-640x640.py'


def test_san_refusal_names_what_is_missing(tmp_path):
    with pytest.raises(RefusedConfig) as info:
        make_twin(SAN, str(tmp_path / 'twin.py'))
    exc = info.value
    assert (exc.place, exc.head_type) == ('decode_head',
                                          'SideAdapterCLIPHead')
    reason = ' '.join(exc.reason.split())
    # What a twin would need and does not have:
    assert ('frozen CLIP image and text encoders come from a checkpoint '
            'downloaded at initialisation') in reason
    assert 'cannot be built from random init and train-step tested ' \
        'offline' in reason
    assert ('its loss_by_feat asserts on every loss_decode name but '
            'loss_cls_ce, loss_mask_ce and loss_mask_dice') in reason
    assert 'subclass that rewrites loss_by_feat' in reason
    assert not (tmp_path / 'twin.py').exists()


def test_the_named_assertion_is_real():
    """The reason quotes mmseg's SAN head: an appended loss name fails."""
    import inspect

    from mmseg.models.decode_heads.san_head import SideAdapterCLIPHead
    source = inspect.getsource(SideAdapterCLIPHead.loss_by_feat)
    for name in ('loss_cls_ce', 'loss_mask_ce', 'loss_mask_dice'):
        assert f"'{name}'" in source
    assert "Only support for 'loss_cls' and 'loss_mask'" in source
