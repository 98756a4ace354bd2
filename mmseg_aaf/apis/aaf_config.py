# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Write the AAF (or affinity) twin of any mmseg config.

:func:`make_twin` reads an mmseg config and returns the text of a config
that ``_base_``-s it and switches the pairwise loss on where it takes
effect:

* the loss goes on the head(s) that train on dense ``(N, C, H, W)`` class
  logits through ``loss_decode``: the decode head; in a cascade, the last
  stage that does (earlier dense stages, like OCRNet's soft-region FCN
  head, play the auxiliary role); K-Net's ``kernel_generate_head``;
  auxiliary heads only when asked. Existing losses are kept.
* DDRNet's and PIDNet's heads call their losses by position and would
  never call an appended one: their type becomes the plugin's
  ``AffinityDDRHead`` / ``AffinityPIDHead``, which also apply the losses
  after the positional ones to the head's main output.
* Mask2Former's and MaskFormer's heads train by mask classification and
  drop unknown keys: their type becomes the plugin's
  ``AffinityMask2FormerHead`` / ``AffinityMaskFormerHead`` and the loss goes
  under ``loss_affinity``, applied to the per-pixel class distribution of
  inference on the stride-4 mask grid (``downsample`` counted on that grid:
  the loss's 8 input pixels become 2 mask cells).
* A pixel sampler (OHEM) on the carrying head is kept: it still chooses
  the pixels of the per-pixel losses, while the pairwise loss ignores its
  weights and keeps every valid pixel pair.
* the optimizer is inherited untouched; only the wrapper type changes
  (``OptimWrapper`` -> ``AdversarialOptimWrapper``, ``AmpOptimWrapper`` ->
  ``AdversarialAmpOptimWrapper``, which keeps ``loss_scale`` and
  ``dtype``), and the file says which lr and weight decay the size logits
  get under the inherited ``paramwise_cfg``.
* ``AffinityLossDecayHook`` is added to the inherited ``custom_hooks``.

A config this cannot serve raises :class:`RefusedConfig` with the head's
place, its type and the reason.
"""
import contextlib
import inspect
import io
import os.path as osp
import textwrap
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import mmseg
from mmengine.config import Config, ConfigDict

#: What ``--method`` selects: the loss class appended to each carrying head.
METHOD_LOSSES = {'aaf': 'AAFLoss', 'affinity': 'AffinityLoss'}


def loss_template(method: str) -> dict:
    """The loss config ``method`` appends, with the class's defaults
    spelled out (so the written file shows the settings it trains with);
    ``num_classes`` is added per head. ``implementation`` is left to its
    default ('auto'): it says how the same sums are computed, not what is
    trained, and configs written before it existed keep their hash."""
    from mmseg_aaf.models.losses import AAFLoss, AffinityLoss
    cls = {'AAFLoss': AAFLoss, 'AffinityLoss': AffinityLoss}[
        METHOD_LOSSES[method]]
    template = dict(type=cls.__name__)
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name in ('ignore_index', 'loss_name', 'implementation') or \
                param.default is param.empty:
            continue
        template[name] = param.default
    return template


#: The wrapper each inherited wrapper becomes for AAF.
ADVERSARIAL_WRAPPERS = {
    'OptimWrapper': 'AdversarialOptimWrapper',
    'AmpOptimWrapper': 'AdversarialAmpOptimWrapper',
    'AdversarialOptimWrapper': 'AdversarialOptimWrapper',
    'AdversarialAmpOptimWrapper': 'AdversarialAmpOptimWrapper',
}

#: Heads that call their losses by position -> the plugin's subclass that
#: also applies the appended ones (see mmseg_aaf.models.decode_heads).
POSITIONAL_HEADS = {
    'DDRHead': 'AffinityDDRHead',
    'PIDHead': 'AffinityPIDHead',
}

#: Mask-classification heads -> the plugin's subclass that takes the loss
#: as ``loss_affinity`` (see mmseg_aaf.models.decode_heads).
MASK_CLASSIFICATION_HEADS = {
    'Mask2FormerHead': 'AffinityMask2FormerHead',
    'MaskFormerHead': 'AffinityMaskFormerHead',
}

#: Stride of the mask logits of the mask-classification heads (the pixel
#: decoder's finest level, 1/4 of the input for every zoo backbone); the
#: loss's ``downsample`` is divided by it.
MASK_STRIDE = 4

#: Heads without dense per-pixel class logits in training.
NON_DENSE_HEADS = {
    'PointHead': 'it trains on point-sampled logits (N, C, P), not dense '
    '(N, C, H, W) maps, so pixel pairs do not exist',
    'SideAdapterCLIPHead': 'it trains by mask classification against CLIP '
    'text embeddings (MultimodalEncoderDecoder), and two things a twin '
    'needs are missing: its frozen CLIP image and text encoders come from '
    "a checkpoint downloaded at initialisation (Pretrained_Part of the "
    "config's pretrained URL), so it cannot be built from random init and "
    'train-step tested offline; and its loss_by_feat asserts on every '
    'loss_decode name but loss_cls_ce, loss_mask_ce and loss_mask_dice, '
    'so an appended loss fails and adding one needs a subclass that '
    'rewrites loss_by_feat (its masks are at 1/16)',
    'VPDDepthHead': 'it regresses depth, not class logits',
}

#: Heads whose own ``loss_by_feat`` hands dense logits to the standard one
#: (so to every ``loss_decode``); what that means for the loss.
DELEGATING_HEADS = {
    'DAHead': 'applied to each of its 3 outputs (PAM+CAM, PAM, CAM): '
    '3 terms sharing one loss module',
    'EncHead': 'applied to the segmentation logits (not the SE-loss '
    'branch)',
}

#: Auxiliary heads that supervise something else than the classes.
NOT_CLASS_HEADS = {
    'STDCHead': 'it trains a 2-channel boundary map, not the classes',
}


class UnknownLossOption(ValueError):
    """A ``loss_options`` key that the appended loss does not take."""


class RefusedConfig(ValueError):
    """The config cannot carry the loss; says where and why."""

    def __init__(self, place: str, head_type: str, reason: str):
        self.place = place
        self.head_type = head_type
        self.reason = reason
        super().__init__(f'{place} ({head_type}): {reason}')


@dataclass
class Placement:
    """Where the loss goes: a head's place in the model and its type."""
    place: str
    head_type: str
    num_classes: int
    loss_index: Optional[int]
    note: str = ''

    @property
    def loss_place(self) -> str:
        """The loss module's name in the model: an entry of
        ``loss_decode``, or a mask-classification head's
        ``loss_affinity`` (``loss_index`` None)."""
        if self.loss_index is None:
            return f'{self.place}.loss_affinity'
        return f'{self.place}.loss_decode.{self.loss_index}'


@dataclass
class Twin:
    """What :func:`make_twin` decided, and the config text."""
    placements: List[Placement]
    skipped: List[Tuple[str, str, str]] = field(default_factory=list)
    wrapper: Optional[Tuple[str, str]] = None
    optimizer_type: str = ''
    size_logit_settings: List[str] = field(default_factory=list)
    text: str = ''


def resolve_config_path(config: str) -> str:
    """``mmseg::x.py`` -> the file inside the installed mmseg, else as is."""
    if config.startswith('mmseg::'):
        return osp.join(mmseg_config_root(), config[len('mmseg::'):])
    return config


def mmseg_config_root() -> str:
    return osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs')


def base_reference(config: str, out_path: str) -> str:
    """How the written file names ``config`` in ``_base_``.

    mmseg's own configs as ``mmseg::...`` (what ``Config`` resolves in any
    environment), others relative to the written file: never absolute.
    """
    if config.startswith('mmseg::'):
        return config
    path = osp.abspath(config)
    root = osp.abspath(mmseg_config_root())
    if path.startswith(root + osp.sep):
        return 'mmseg::' + osp.relpath(path, root).replace(osp.sep, '/')
    rel = osp.relpath(path, osp.dirname(osp.abspath(out_path)))
    return rel.replace(osp.sep, '/')


def _head_class(head_type: str):
    from mmseg.registry import MODELS
    import mmseg_aaf.models  # noqa: F401  (registers the plugin's heads)
    return MODELS.get(head_type)


def _default_arg(cls, name):
    for klass in cls.__mro__:
        if name in getattr(klass.__init__, '__code__', ()).co_varnames:
            param = inspect.signature(klass.__init__).parameters.get(name)
            if param is not None and param.default is not param.empty:
                return param.default
    return None


def _head_setting(head: dict, cls, name):
    return head[name] if name in head else _default_arg(cls, name)


def _uses_standard_loss(cls) -> bool:
    """Whether ``cls`` applies every ``loss_decode`` to its dense logits."""
    from mmseg.models.decode_heads.cascade_decode_head import \
        BaseCascadeDecodeHead
    from mmseg.models.decode_heads.decode_head import BaseDecodeHead
    loss_ok = cls.loss in (BaseDecodeHead.loss, BaseCascadeDecodeHead.loss)
    by_feat_ok = (cls.loss_by_feat is BaseDecodeHead.loss_by_feat
                  or cls.__name__ in DELEGATING_HEADS)
    return loss_ok and by_feat_ok


def classify_head(place: str, head: dict) -> Tuple[str, str]:
    """``('dense', note)``, ``('positional', subclass)`` or raise.

    Raises:
        RefusedConfig: the head cannot carry a pairwise loss.
    """
    head_type = head.get('type', '?')
    if head_type in NON_DENSE_HEADS:
        raise RefusedConfig(place, head_type, NON_DENSE_HEADS[head_type])
    if head_type in POSITIONAL_HEADS:
        return 'positional', POSITIONAL_HEADS[head_type]
    if head_type in POSITIONAL_HEADS.values():  # already the subclass
        return 'positional', head_type
    if head_type in MASK_CLASSIFICATION_HEADS:
        return 'mask', MASK_CLASSIFICATION_HEADS[head_type]
    if head_type in MASK_CLASSIFICATION_HEADS.values():
        if head.get('loss_affinity'):
            raise RefusedConfig(
                place, head_type, 'it already carries a loss_affinity '
                f"({head['loss_affinity'].get('type', '?')}); the head takes "
                'one pairwise loss')
        return 'mask', head_type
    try:
        cls = _head_class(head_type)
    except KeyError:
        cls = None
    if cls is None:
        raise RefusedConfig(
            place, head_type, 'the type is not registered in mmseg or '
            'mmseg_aaf (a custom head: add the loss to its loss_decode by '
            'hand if it applies every loss to dense (N, C, H, W) logits)')
    if not _uses_standard_loss(cls):
        raise RefusedConfig(
            place, head_type, 'it computes its losses in its own '
            'loss/loss_by_feat, so an appended loss may never be called')
    num_classes = _head_setting(head, cls, 'num_classes')
    out_channels = _head_setting(head, cls, 'out_channels')
    if out_channels is not None and out_channels != num_classes:
        raise RefusedConfig(
            place, head_type, f'it predicts out_channels={out_channels} '
            f'for num_classes={num_classes} (a sigmoid head); the pairwise '
            'loss needs one softmax channel per class')
    notes = [DELEGATING_HEADS.get(cls.__name__) or '']
    sampler = head.get('sampler')
    if sampler:
        kind = sampler.get('type', sampler) if isinstance(
            sampler, dict) else sampler
        notes.append(
            f'its pixel sampler ({kind}) still chooses the pixels of the '
            'per-pixel losses as before; the pairwise loss ignores the '
            "sampler's weights and keeps every valid pixel pair (to the "
            "sampler's loss ranking it adds 0 per pixel)")
    return 'dense', '; '.join(n for n in notes if n)


def _losses(head: dict) -> list:
    losses = head.get('loss_decode', None)
    if losses is None:
        cls = _head_class(head['type'])
        losses = _default_arg(cls, 'loss_decode')
    if isinstance(losses, (list, tuple)):
        return [_plain(loss) for loss in losses]
    return [_plain(losses)]


def _takes_num_classes(loss_type: str) -> bool:
    """Whether the registered loss ``loss_type`` has a ``num_classes``
    argument (the pairwise losses do, mmseg's per-pixel ones do not)."""
    from mmseg.registry import MODELS
    import mmseg_aaf.models  # noqa: F401  (registers the plugin's losses)
    cls = MODELS.get(loss_type)
    return cls is not None and 'num_classes' in inspect.signature(
        cls.__init__).parameters


def _plain(value):
    """Config values as plain Python containers (what the file shows)."""
    if isinstance(value, (ConfigDict, dict)):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def _add_loss(place: str, head: dict, loss: dict,
              placements: List[Placement]) -> dict:
    """A copy of ``head`` carrying ``loss``; records the placement."""
    kind, detail = classify_head(place, head)
    cls = _head_class(head['type'])
    num_classes = _head_setting(head, cls, 'num_classes')
    if not isinstance(num_classes, int) or num_classes < 2:
        raise RefusedConfig(
            place, head['type'],
            f'num_classes={num_classes!r}: the pairwise loss needs at '
            'least 2 classes')
    new_head = _plain(head)
    note = detail
    pairwise = loss['type'] in METHOD_LOSSES.values()
    if kind == 'mask':
        if not pairwise:
            raise RefusedConfig(
                place, head['type'], f'it trains by mask classification, '
                f'without the per-pixel loss_decode that {loss["type"]} '
                'needs')
        return _add_mask_loss(place, head, new_head, detail, num_classes,
                              loss, placements)
    if kind == 'positional' and detail != head['type']:
        new_head['type'] = detail
        note = (f'type {head["type"]} -> {detail}: {head["type"]} calls its '
                'losses by position; the subclass applies the appended '
                'one to its main output')
    inherited = _losses(head)
    carried = [i.get('type') for i in inherited]
    if loss['type'] in carried:
        raise RefusedConfig(
            place, head['type'], f'its loss_decode already holds '
            f'{", ".join(t for t in carried if t)}; adding '
            f'{loss["type"]} would train with it twice')
    appended = dict(type=loss['type'])
    if _takes_num_classes(loss['type']):
        appended['num_classes'] = num_classes
    appended.update({k: v for k, v in loss.items() if k != 'type'})
    new_head['loss_decode'] = inherited + [appended]
    placements.append(
        Placement(place, head['type'], num_classes, len(inherited), note))
    return new_head


def _add_mask_loss(place, head, new_head, subclass, num_classes, loss,
                   placements):
    """A mask-classification head: the subclass, the loss as
    ``loss_affinity`` with ``downsample`` on the mask grid."""
    downsample = loss.get('downsample', 8)
    if downsample % MASK_STRIDE:
        raise RefusedConfig(
            place, head['type'], f'downsample={downsample} is not a '
            f'multiple of the mask stride {MASK_STRIDE}: {subclass} '
            'evaluates the field on the mask grid (1/4 of the input), '
            f'where downsample counts mask cells; use {MASK_STRIDE} x k')
    new_head['type'] = subclass
    new_head['loss_affinity'] = dict(
        type=loss['type'], num_classes=num_classes,
        **{k: v for k, v in loss.items() if k != 'type'})
    new_head['loss_affinity']['downsample'] = downsample // MASK_STRIDE
    note = (f'{head["type"]} trains by mask classification; {subclass} '
            'applies the loss to the class distribution inference uses '
            "(softmax(cls)[..., :-1] x sigmoid(mask), summed over queries, "
            'normalised over classes) of the last decoder layer on the '
            f'stride-{MASK_STRIDE} mask grid, labels sampled nearest onto it'
            f'; downsample={downsample} input pixels is '
            f'{downsample // MASK_STRIDE} mask cell(s)')
    if subclass == head['type']:
        note = ('the loss is applied to the class distribution of '
                'inference on the mask grid')
    placements.append(
        Placement(place, head['type'], num_classes, None, note))
    return new_head


def _carry_decode_heads(decode_head, loss, aux, placements, skipped):
    """The decode head(s), with the loss where it belongs."""
    if isinstance(decode_head, (list, tuple)):
        heads = [_plain(h) for h in decode_head]
        dense = []
        for i, head in enumerate(heads):
            try:
                classify_head(f'decode_head.{i}', head)
                dense.append(i)
            except RefusedConfig as exc:
                skipped.append((exc.place, exc.head_type, exc.reason))
        if not dense:
            raise RefusedConfig('decode_head', '/'.join(
                h.get('type', '?') for h in heads),
                'no stage of the cascade trains on dense class logits')
        carrying = dense if aux else dense[-1:]
        for i in dense:
            if i not in carrying:
                skipped.append(
                    (f'decode_head.{i}', heads[i]['type'],
                     'an earlier cascade stage (auxiliary role); --aux '
                     'adds the loss here too'))
        for i in carrying:
            heads[i] = _add_loss(f'decode_head.{i}', heads[i], loss,
                                 placements)
        return heads
    head = _plain(decode_head)
    if head.get('type') == 'IterativeDecodeHead':
        generator = _add_loss('decode_head.kernel_generate_head',
                              head['kernel_generate_head'], loss, placements)
        placements[-1].note = (
            f'applied by K-Net to each of its {1 + head["num_stages"]} mask '
            'predictions (the kernel generator\'s and every update stage\'s)'
            ': terms sharing one loss module')
        return dict(kernel_generate_head=_merge_part(generator, head[
            'kernel_generate_head']))
    return _merge_part(
        _add_loss('decode_head', head, loss, placements), head)


def _carry_auxiliary_heads(auxiliary_head, loss, num_classes, placements,
                           skipped):
    heads = auxiliary_head
    as_list = isinstance(heads, (list, tuple))
    heads = [_plain(h) for h in (heads if as_list else [heads])]
    out = []
    for i, head in enumerate(heads):
        place = f'auxiliary_head.{i}' if as_list else 'auxiliary_head'
        head_type = head.get('type', '?')
        if head_type in NOT_CLASS_HEADS:
            skipped.append((place, head_type, NOT_CLASS_HEADS[head_type]))
            out.append(head)
            continue
        if head.get('num_classes', num_classes) != num_classes:
            skipped.append((place, head_type, 'it predicts '
                            f'{head.get("num_classes")} classes, not the '
                            f"model's {num_classes}"))
            out.append(head)
            continue
        try:
            out.append(_add_loss(place, head, loss, placements))
        except RefusedConfig as exc:
            skipped.append((exc.place, exc.head_type, exc.reason))
            out.append(head)
    if as_list:
        return out
    return _merge_part(out[0], heads[0]) if out[0] != heads[0] else {}


def _merge_part(new_head: dict, old_head: dict) -> dict:
    """What a dict that merges into ``old_head`` must say: the new loss
    list, and the type where it changed."""
    if 'loss_affinity' in new_head:
        part = dict(loss_affinity=new_head['loss_affinity'])
    else:
        part = dict(loss_decode=new_head['loss_decode'])
    if new_head['type'] != old_head.get('type'):
        part = dict(type=new_head['type'], **part)
    return part


def _size_logit_settings(cfg: Config,
                         placements: List[Placement]) -> List[str]:
    """What lr and weight decay each loss's size logits get.

    Built with the inherited optimizer, ``paramwise_cfg`` and constructor
    on a stand-in module that holds only the size logits, at their real
    names (the constructor matches ``custom_keys`` against names).
    """
    import torch
    import torch.nn as nn
    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    import mmseg.engine  # noqa: F401  (mmseg's optimizer constructors)
    from mmseg_aaf.engine import optim_wrapper  # noqa: F401
    from mmseg_aaf.models.losses.affinity_loss import mark_for_ascent

    root = nn.Module()
    # Layer-decay constructors look at the backbone's class name.
    backbone = cfg.model.get('backbone', {}).get('type', 'Backbone')
    root.backbone = type(backbone.split('.')[-1], (nn.Module, ), {})()
    for placement in placements:
        module = root
        for part in placement.loss_place.split('.'):
            if not hasattr(module, part):
                module.add_module(part, nn.Module())
            module = getattr(module, part)
        module.edge_size_logits = mark_for_ascent(
            nn.Parameter(torch.zeros(2, 3)))
    wrapper_cfg = _plain(cfg.optim_wrapper)
    # The AMP variant needs CUDA to build; the param groups are the same.
    for key in ('loss_scale', 'dtype', 'use_fsdp'):
        wrapper_cfg.pop(key, None)
    wrapper_cfg['type'] = 'AdversarialOptimWrapper'
    base_lr = wrapper_cfg.get('optimizer', {}).get('lr')
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('ERROR')  # the constructors log every group
    try:
        with DefaultScope.overwrite_default_scope('mmseg'), \
                contextlib.redirect_stdout(io.StringIO()):
            wrapper = build_optim_wrapper(root, wrapper_cfg)
    except Exception as exc:  # a constructor that needs the real model
        return [f'the lr of the group the optimizer constructor puts them '
                f'in (not computed here: {type(exc).__name__}: {exc}) and '
                'weight decay 0']
    finally:
        logger.setLevel(level)
    groups = {
        id(p): group
        for group in wrapper.optimizer.param_groups for p in group['params']
    }
    named = dict(root.named_parameters())
    lines = []
    for placement in placements:
        lr = groups[id(named[placement.loss_place +
                             '.edge_size_logits'])]['lr']
        mult = '' if not base_lr or lr == base_lr else \
            f' ({lr / base_lr:g} x the base lr {base_lr:g})'
        lines.append(f'{placement.loss_place}: lr {lr:g}{mult}, weight '
                     'decay 0')
    return lines


def _optim_wrapper(cfg: Config, method: str) -> Tuple[str, str]:
    old = cfg.get('optim_wrapper', {}).get('type', 'OptimWrapper')
    if method != 'aaf':
        return old, old
    if old not in ADVERSARIAL_WRAPPERS:
        raise RefusedConfig(
            'optim_wrapper', old, 'no adversarial counterpart: AAF needs '
            'OptimWrapper or AmpOptimWrapper to become '
            'AdversarialOptimWrapper / AdversarialAmpOptimWrapper')
    return old, ADVERSARIAL_WRAPPERS[old]


def _import_custom_modules(cfg: Config) -> None:
    """Import the config's ``custom_imports``, so that heads registered by
    the user's own plugins are classified by their class. One that cannot
    be imported (e.g. mmdet, not installed) is skipped with mmengine's
    warning: its heads are then classified by name where possible, and the
    twin is still written."""
    from mmengine.utils import import_modules_from_strings
    imports = (cfg.get('custom_imports') or {}).get('imports', [])
    imports = [imports] if isinstance(imports, str) else list(imports)
    imports = [m for m in imports if m != 'mmseg_aaf']
    if imports:
        import_modules_from_strings(imports, allow_failed_imports=True)


def _load_segmentor_config(config: str,
                           loaded: Optional[Config] = None) -> Config:
    """``config`` loaded (its custom imports imported, failures allowed),
    or ``loaded``; refused unless its segmentor trains decode heads on
    class labels through ``loss_decode``."""
    if loaded is None:
        cfg = Config.fromfile(resolve_config_path(config),
                              import_custom_modules=False)
        _import_custom_modules(cfg)
    else:
        cfg = loaded
    model = cfg.get('model')
    if not model or 'decode_head' not in model:
        raise RefusedConfig(
            'model', (model or {}).get('type', '?'),
            'the model has no decode_head')
    segmentor = model.get('type', '?')
    heads = model['decode_head']
    if not isinstance(heads, (list, tuple)) and \
            heads.get('type') in NON_DENSE_HEADS:
        raise RefusedConfig('decode_head', heads['type'],
                            NON_DENSE_HEADS[heads['type']])
    if segmentor not in ('EncoderDecoder', 'CascadeEncoderDecoder'):
        raise RefusedConfig(
            'model', segmentor, 'only EncoderDecoder and '
            'CascadeEncoderDecoder segmentors train heads on class labels '
            'through loss_decode')
    return cfg


def make_twin(config: str,
              out_path: str,
              method: str = 'aaf',
              aux: bool = False,
              log_kernel_sizes: bool = False,
              decay_base: float = 10.0,
              loaded: Optional[Config] = None,
              loss_options: Optional[dict] = None) -> Twin:
    """Decide and write (as text) the AAF twin of ``config``.

    Args:
        config (str): A config path or ``mmseg::<family>/<name>.py``.
        out_path (str): Where the twin will be written (for the relative
            ``_base_`` path).
        method (str): 'aaf' (AAFLoss, adversarial wrapper) or 'affinity'
            (AffinityLoss, k = 3, wrapper kept).
        aux (bool): Also put the loss on auxiliary heads (and earlier
            dense cascade stages).
        log_kernel_sizes (bool): Add ``KernelSizeLoggerHook`` (AAF only).
        decay_base (float): Base of ``AffinityLossDecayHook``.
        loaded (Config, optional): ``config`` already loaded (without its
            custom imports), to save loading it again.
        loss_options (dict, optional): Settings of the appended loss that
            replace the class defaults (e.g. ``dict(downsample=4)`` for
            data at half resolution); ``num_classes`` is read from the
            head and cannot be set here.

    Raises:
        RefusedConfig: the config cannot carry the loss.
        UnknownLossOption: ``loss_options`` names a setting the loss does not
            have.
    """
    if method not in METHOD_LOSSES:
        raise ValueError(f'method must be one of {sorted(METHOD_LOSSES)}, '
                         f'got {method!r}')
    cfg = _load_segmentor_config(config, loaded)
    model = cfg.model
    loss = loss_template(method)
    for name, value in (loss_options or {}).items():
        if name not in loss or name == 'type':
            settable = sorted(k for k in loss if k != 'type')
            raise UnknownLossOption(
                f'{loss["type"]} has no setting {name!r} to change; it '
                f'takes {", ".join(settable)} (num_classes comes from the '
                'head)')
        loss[name] = value
    twin = Twin(placements=[])
    old_wrapper, new_wrapper = _optim_wrapper(cfg, method)
    model_override = dict(
        decode_head=_carry_decode_heads(model['decode_head'], loss, aux,
                                        twin.placements, twin.skipped))
    if aux and model.get('auxiliary_head'):
        num_classes = twin.placements[0].num_classes
        aux_override = _carry_auxiliary_heads(model['auxiliary_head'], loss,
                                              num_classes, twin.placements,
                                              twin.skipped)
        if aux_override:
            model_override['auxiliary_head'] = aux_override
    elif model.get('auxiliary_head'):
        twin.skipped.append(('auxiliary_head', _types(model.auxiliary_head),
                             'auxiliary heads keep their losses; --aux adds '
                             'the loss there too'))
    twin.optimizer_type = cfg.get('optim_wrapper', {}).get(
        'optimizer', {}).get('type', '?')
    if method == 'aaf':
        twin.wrapper = (old_wrapper, new_wrapper)
        twin.size_logit_settings = _size_logit_settings(
            cfg, twin.placements)
    hooks = [_plain(h) for h in cfg.get('custom_hooks', [])]
    hooks.append(dict(type='AffinityLossDecayHook', base=decay_base))
    if log_kernel_sizes and method == 'aaf':
        hooks.append(dict(type='KernelSizeLoggerHook', interval=50))
    imports = cfg.get('custom_imports', {}).get('imports', [])
    imports = [imports] if isinstance(imports, str) else list(imports)
    overrides = dict(
        custom_imports=dict(
            imports=imports + [m for m in ['mmseg_aaf'] if m not in imports],
            allow_failed_imports=False),
        model=model_override)
    if method == 'aaf':
        overrides['optim_wrapper'] = dict(type=new_wrapper)
    overrides['custom_hooks'] = hooks
    twin.text = _render(config, base_reference(config, out_path), method,
                        twin, overrides, decay_base)
    return twin


def make_loss_twin(config: str,
                   out_path: str,
                   loss: dict,
                   label: str,
                   loaded: Optional[Config] = None) -> Twin:
    """The config that appends a per-pixel ``loss`` (e.g. mmseg's
    ``DiceLoss``) to the heads :func:`make_twin` would give the pairwise
    loss, and changes nothing else (optimizer, hooks and imports stay).

    Args:
        config (str): A config path or ``mmseg::<family>/<name>.py``.
        out_path (str): Where the twin will be written (for the relative
            ``_base_`` path).
        loss (dict): The loss config to append, with its ``type``;
            ``num_classes`` is added where the loss takes it.
        label (str): What the header calls the twin, e.g. ``'+ Dice'``.
        loaded (Config, optional): ``config`` already loaded.

    Raises:
        RefusedConfig: a carrying head already holds a loss of that type,
            trains by mask classification, or cannot carry a loss.
    """
    cfg = _load_segmentor_config(config, loaded)
    twin = Twin(placements=[])
    model = cfg.model
    model_override = dict(decode_head=_carry_decode_heads(
        model['decode_head'], dict(loss), False, twin.placements,
        twin.skipped))
    if model.get('auxiliary_head'):
        twin.skipped.append(('auxiliary_head', _types(model.auxiliary_head),
                             'auxiliary heads keep their losses'))
    base = base_reference(config, out_path)
    notes = [f'{label} twin of {base}: everything not set here is '
             'inherited.']
    for p in twin.placements:
        notes.append(f'{loss["type"]} appended to the loss_decode of '
                     f'{p.place} ({p.head_type})' +
                     (f'; {p.note}' if p.note else '') + '.')
    for place, head_type, reason in twin.skipped:
        notes.append(f'Not on {place} ({head_type}): {reason}.')
    overrides = dict(model=model_override)
    if any(p.head_type in POSITIONAL_HEADS for p in twin.placements):
        # The head became the plugin's subclass, registered by mmseg_aaf.
        imports = cfg.get('custom_imports', {}).get('imports', [])
        imports = [imports] if isinstance(imports, str) else list(imports)
        overrides = dict(
            custom_imports=dict(
                imports=imports + [m for m in ['mmseg_aaf']
                                   if m not in imports],
                allow_failed_imports=False),
            **overrides)
    twin.text = _config_text(notes, base, overrides)
    return twin


def _types(heads) -> str:
    heads = heads if isinstance(heads, (list, tuple)) else [heads]
    return '/'.join(h.get('type', '?') for h in heads)


def _render(config: str, base: str, method: str, twin: Twin,
            overrides: Dict, decay_base: float) -> str:
    """The config file: a header that says what changed and why, then the
    overrides as ``dict(...)`` source."""
    loss_type = METHOD_LOSSES[method]
    notes = [f'{"AAF" if method == "aaf" else "Affinity-field"} twin of '
             f'{base}, written by tools/aaf_config.py: everything not set '
             'here is inherited.']
    for p in twin.placements:
        where = ('set as the loss_affinity' if p.loss_index is None else
                 'appended to the loss_decode')
        notes.append(f'{loss_type} (num_classes={p.num_classes}) {where} '
                     f'of {p.place} ({p.head_type})' +
                     (f'; {p.note}' if p.note else '') + '.')
    for place, head_type, reason in twin.skipped:
        notes.append(f'Not on {place} ({head_type}): {reason}.')
    if twin.wrapper:
        old, new = twin.wrapper
        notes.append(
            f'optim_wrapper: {old} -> {new}; the optimizer '
            f'({twin.optimizer_type}) with its settings, paramwise_cfg and '
            'clip_grad are inherited.')
        notes.append('The AAF size logits ascend the loss, with '
                     + '; '.join(twin.size_logit_settings) + '.')
    notes.append('AffinityLossDecayHook scales the pairwise term from 1 to '
                 f'1/{decay_base:g} over the run, as the authors do.')
    return _config_text(notes, base, overrides)


def _config_text(notes: List[str], base: str, overrides: Dict) -> str:
    """``notes`` as the header comment, then ``_base_`` and the
    overrides as ``dict(...)`` source."""
    lines = []
    for note in notes:
        lines += textwrap.wrap(
            note,
            77,
            initial_indent='# ',
            subsequent_indent='#   ',
            break_long_words=False,
            break_on_hyphens=False)
    lines += ['', f'_base_ = {base!r}']
    for key, value in overrides.items():
        lines += ['', f'{key} = ' + _formatted(value, 0, len(key) + 3)]
    return '\n'.join(lines) + '\n'


_WIDTH = 79


def _formatted(value, indent: int, used: int) -> str:
    """``_py(value)``, broken one item per line where it would not fit."""
    inline = _py(value)
    if indent + used + len(inline) <= _WIDTH or not isinstance(
            value, (dict, list, tuple)) or not value:
        return inline
    pad = ' ' * (indent + 4)
    if isinstance(value, dict):
        if all(isinstance(k, str) and k.isidentifier() for k in value):
            items = [f'{pad}{k}=' + _formatted(v, indent + 4, len(k) + 2)
                     for k, v in value.items()]
            opening, closing = 'dict(', ')'
        else:
            items = [f'{pad}{_py(k)}: ' +
                     _formatted(v, indent + 4, len(_py(k)) + 3)
                     for k, v in value.items()]
            opening, closing = '{', '}'
    else:
        items = [pad + _formatted(v, indent + 4, 1) for v in value]
        opening, closing = ('[', ']') if isinstance(value, list) else ('(',
                                                                       ')')
    return (opening + '\n' + ',\n'.join(items) + ',\n' + ' ' * indent +
            closing)


def _py(value) -> str:
    """Python source of a config value, dicts as ``dict(...)`` calls."""
    if isinstance(value, dict):
        if all(isinstance(k, str) and k.isidentifier() for k in value):
            return 'dict(' + ', '.join(f'{k}={_py(v)}'
                                       for k, v in value.items()) + ')'
        return '{' + ', '.join(f'{_py(k)}: {_py(v)}'
                               for k, v in value.items()) + '}'
    if isinstance(value, list):
        return '[' + ', '.join(_py(v) for v in value) + ']'
    if isinstance(value, tuple):
        inner = ', '.join(_py(v) for v in value)
        return f'({inner},)' if len(value) == 1 else f'({inner})'
    return repr(value)
