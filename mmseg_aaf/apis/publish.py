# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Ship an AAF-trained model to an environment without the plugin.

AAF changes only the training loss, so the trained network is a stock
mmseg model. :func:`publish_checkpoint` makes that hold for the shipped
files:

* the checkpoint keeps ``state_dict`` and ``meta`` only (no optimizer
  state, no message hub, no scheduler state), without the AAF size logits
  (``*.edge_size_logits`` / ``*.nonedge_size_logits``), which are loss
  parameters, not network ones; the effective kernel sizes they had learned
  are kept as plain numbers in ``meta['aaf_kernel_sizes']``, and
  ``meta['cfg']`` becomes the inference config's text;
* :func:`inference_config` is the training config with everything of the
  plugin removed: the pairwise losses from every ``loss_decode``, the
  adversarial optimizer wrapper (back to mmengine's), the plugin's hooks
  and ``mmseg_aaf`` in ``custom_imports``; ``AffinityDDRHead`` /
  ``AffinityPIDHead`` go back to mmseg's ``DDRHead`` / ``PIDHead``, and
  ``AffinityMask2FormerHead`` / ``AffinityMaskFormerHead`` to
  ``Mask2FormerHead`` / ``MaskFormerHead`` without their ``loss_affinity``
  and ``affinity_all_layers``.

Everything left in the published file loads with ``torch.load(...,
weights_only=True)``, and the dumped config builds with mmseg alone.
"""
import copy
import hashlib
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.config import Config, ConfigDict

from ..visualization.kernel_sizes import (EDGE_SUFFIX, NONEDGE_SUFFIX,
                                          kernel_sizes_from_state_dict)

#: Loss types of the plugin, dropped from every ``loss_decode``.
PAIRWISE_LOSSES = ('AAFLoss', 'AffinityLoss')
#: The plugin's heads -> the mmseg heads they extend (same parameters).
PLUGIN_HEADS = {
    'AffinityDDRHead': 'DDRHead',
    'AffinityPIDHead': 'PIDHead',
    'AffinityMask2FormerHead': 'Mask2FormerHead',
    'AffinityMaskFormerHead': 'MaskFormerHead',
}
#: Keys only the plugin's mask-classification heads take.
PLUGIN_HEAD_KEYS = ('loss_affinity', 'affinity_all_layers')
#: The plugin's optimizer wrappers -> mmengine's.
PLUGIN_WRAPPERS = {
    'AdversarialOptimWrapper': 'OptimWrapper',
    'AdversarialAmpOptimWrapper': 'AmpOptimWrapper',
}
PLUGIN_HOOKS = ('AffinityLossDecayHook', 'KernelSizeLoggerHook')
PLUGIN_PACKAGE = 'mmseg_aaf'
#: Checkpoint entries that only resuming a training needs.
TRAINING_STATE = ('optimizer', 'message_hub', 'param_schedulers')


class PublishError(ValueError):
    """The checkpoint or config cannot be published as asked."""


def _heads(model: dict) -> List[Tuple[str, dict]]:
    """Every head dict of a segmentor config, with its place."""
    found = []

    def visit(place, node):
        if isinstance(node, (list, tuple)):
            for i, item in enumerate(node):
                visit(f'{place}.{i}', item)
        elif isinstance(node, dict):
            found.append((place, node))
            if node.get('kernel_generate_head'):
                visit(f'{place}.kernel_generate_head',
                      node['kernel_generate_head'])

    for name in ('decode_head', 'auxiliary_head'):
        if model.get(name):
            visit(name, model[name])
    return found


def _strip_losses(place: str, head: dict, removed: List[str]) -> None:
    for key in PLUGIN_HEAD_KEYS:
        if key in head and head.get('type') in PLUGIN_HEADS:
            value = head.pop(key)
            removed.append(f'{place}: {key}' + (
                f' ({value["type"]})' if isinstance(value, dict) else ''))
    losses = head.get('loss_decode')
    if losses is None:
        return
    single = isinstance(losses, dict)
    kept = []
    for loss in [losses] if single else losses:
        if loss.get('type') in PAIRWISE_LOSSES:
            removed.append(f'{place}: {loss["type"]}')
        else:
            kept.append(loss)
    if not kept:
        raise PublishError(
            f'{place} has only pairwise losses; the inference config would '
            'have no loss_decode')
    head['loss_decode'] = kept[0] if single or len(kept) == 1 else kept


def inference_config(cfg: Config) -> Tuple[Config, List[str]]:
    """The config without the plugin, and a line per thing removed.

    Raises:
        PublishError: a pairwise loss is the only loss of a head, or the
            model still names a type only the plugin registers.
    """
    data = copy.deepcopy(cfg.to_dict())
    removed: List[str] = []
    model = data.get('model')
    if not model:
        raise PublishError('the config has no model')
    for place, head in _heads(model):
        _strip_losses(place, head, removed)
        if head.get('type') in PLUGIN_HEADS:
            removed.append(f'{place}: {head["type"]} -> '
                           f'{PLUGIN_HEADS[head["type"]]}')
            head['type'] = PLUGIN_HEADS[head['type']]
    wrapper = data.get('optim_wrapper') or {}
    if wrapper.get('type') in PLUGIN_WRAPPERS:
        removed.append(f'optim_wrapper: {wrapper["type"]} -> '
                       f'{PLUGIN_WRAPPERS[wrapper["type"]]}')
        wrapper['type'] = PLUGIN_WRAPPERS[wrapper['type']]
    hooks = data.get('custom_hooks') or []
    for hook in hooks:
        if hook.get('type') in PLUGIN_HOOKS:
            removed.append(f'custom_hooks: {hook["type"]}')
    data['custom_hooks'] = [
        h for h in hooks if h.get('type') not in PLUGIN_HOOKS
    ]
    for name in [k for k, v in data.items() if isinstance(v, dict) and
                 v.get('type') in PAIRWISE_LOSSES]:
        # Loss templates of the AAF bases (configs/aaf/_base_/), unused.
        removed.append(f'{name}: {data[name]["type"]} template')
        del data[name]
    imports = (data.get('custom_imports') or {}).get('imports', [])
    imports = [imports] if isinstance(imports, str) else list(imports)
    if PLUGIN_PACKAGE in imports:
        removed.append(f'custom_imports: {PLUGIN_PACKAGE}')
        imports.remove(PLUGIN_PACKAGE)
    if imports:
        data['custom_imports']['imports'] = imports
    else:
        data.pop('custom_imports', None)
    left = _plugin_model_types(model)
    if left:
        raise PublishError(
            f'the model still uses {", ".join(sorted(left))}, registered by '
            'mmseg_aaf only; stock mmseg could not build it')
    return Config(data), removed


def _plugin_model_types(model: dict) -> set:
    """Types in the model config that mmseg's registry does not know."""
    from mmseg.registry import MODELS
    found = set()

    def visit(node):
        if isinstance(node, dict):
            kind = node.get('type')
            if isinstance(kind, str):
                module = MODELS.get(kind)
                if module is not None and module.__module__.startswith(
                        PLUGIN_PACKAGE + '.'):
                    found.add(kind)
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(model)
    return found


def _is_size_logit(key: str) -> bool:
    return key.endswith('.' + EDGE_SUFFIX) or key == EDGE_SUFFIX or \
        key.endswith('.' + NONEDGE_SUFFIX) or key == NONEDGE_SUFFIX


def _plain(value):
    """``value`` as types ``torch.load(weights_only=True)`` accepts."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, 'tolist'):  # numpy arrays and scalars
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _kernel_sizes(state_dict, cfg: Optional[Config]) -> List[Dict]:
    keys = [k for k in state_dict if k.endswith('.' + EDGE_SUFFIX) and
            not k.endswith('.' + NONEDGE_SUFFIX)]
    if not keys:
        return []
    sizes_by_place = {}
    if cfg is not None:
        for place, head in _heads(cfg.model):
            single = head.get('loss_affinity')
            if isinstance(single, dict) and single.get('type') == 'AAFLoss':
                sizes_by_place[f'{place}.loss_affinity'] = tuple(
                    single.get('kernel_sizes', (3, 5, 7)))
            losses = head.get('loss_decode')
            losses = [losses] if isinstance(losses, dict) else losses or []
            for i, loss in enumerate(losses):
                if loss.get('type') == 'AAFLoss':
                    sizes_by_place[f'{place}.loss_decode.{i}'] = tuple(
                        loss.get('kernel_sizes', (3, 5, 7)))
    result = []
    for key in keys:
        place = key[:-len('.' + EDGE_SUFFIX)]
        kernel_sizes = sizes_by_place.get(place, (3, 5, 7))
        found = kernel_sizes_from_state_dict(
            {k: state_dict[k]
             for k in (key, f'{place}.{NONEDGE_SUFFIX}')}, kernel_sizes)[0]
        result.append(
            dict(place=place, kernel_sizes=list(kernel_sizes),
                 edge=_plain(found.edge), nonedge=_plain(found.nonedge)))
    return result


def publish_checkpoint(checkpoint_path: str,
                       out_path: str,
                       config: Optional[Config] = None) -> Dict:
    """Write ``<out>-<sha256[:8]>.pth`` and its inference config.

    Args:
        checkpoint_path (str): A checkpoint written by mmengine's Runner.
        out_path (str): ``OUT`` or ``OUT.pth``; the files are
            ``OUT-<hash>.pth`` and ``OUT-<hash>.py``.
        config (Config, optional): The config it was trained with; it wins
            over the one the Runner stored in ``meta['cfg']`` (a stale or
            missing stored config is what it is for). Default: the stored
            one.

    Returns:
        dict: ``checkpoint`` and ``config`` (the written paths),
        ``removed`` (what was taken out of the config), ``dropped_keys``
        (state-dict entries removed), ``kernel_sizes`` (read with the
        config used), ``stored_config_replaced`` (``config`` was given
        and the checkpoint stores one too).
    """
    from ..utils.checkpoint_compat import load_local_checkpoint
    checkpoint = load_local_checkpoint(checkpoint_path, map_location='cpu')
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        raise PublishError(f'{checkpoint_path} holds no state_dict')
    meta = dict(checkpoint.get('meta') or {})
    stored_config_replaced = config is not None and bool(meta.get('cfg'))
    if config is None:
        text = meta.get('cfg')
        if not text:
            raise PublishError(
                f'{checkpoint_path} stores no config in meta; pass --config')
        config = Config.fromstring(text, '.py')
    published_cfg, removed = inference_config(config)
    state = checkpoint['state_dict']
    dropped = [k for k in state if _is_size_logit(k)]
    sizes = _kernel_sizes(state, config)
    meta = _plain({k: v for k, v in meta.items() if k != 'cfg'})
    meta['cfg'] = published_cfg.pretty_text
    if sizes:
        meta['aaf_kernel_sizes'] = sizes
    published = dict(
        meta=meta,
        state_dict={k: v for k, v in state.items() if k not in dropped})
    base = out_path[:-4] if out_path.endswith('.pth') else out_path
    if osp.dirname(base):
        os.makedirs(osp.dirname(base), exist_ok=True)
    temporary = base + '.publishing.pth'
    torch.save(published, temporary)
    with open(temporary, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    final = f'{base}-{digest[:8]}.pth'
    os.replace(temporary, final)
    config_path = f'{base}-{digest[:8]}.py'
    published_cfg.dump(config_path)
    return dict(checkpoint=final, config=config_path, removed=removed,
                dropped_keys=dropped, kernel_sizes=sizes,
                stored_config_replaced=stored_config_replaced)
