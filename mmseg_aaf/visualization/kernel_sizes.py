# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Effective AAF kernel sizes per class from a checkpoint (paper Fig. 4)."""
import os
import os.path as osp
import textwrap
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence

import numpy as np
import torch

EDGE_SUFFIX = 'edge_size_logits'
NONEDGE_SUFFIX = 'nonedge_size_logits'
DEFAULT_KERNEL_SIZES = (3, 5, 7)


class EffectiveKernelSizes(NamedTuple):
    """Per-class ``sum_k softmax(logits)_k * k`` of one ``AAFLoss``.

    Attributes:
        prefix (str): State-dict prefix of the loss module, e.g.
            ``'decode_head.loss_decode.1'``.
        edge (np.ndarray): ``(C,)`` effective edge kernel sizes.
        nonedge (np.ndarray): ``(C,)`` effective non-edge kernel sizes.
    """
    prefix: str
    edge: np.ndarray
    nonedge: np.ndarray


def _is_logits_key(key: str, suffix: str) -> bool:
    # 'nonedge_size_logits' also ends with 'edge_size_logits'.
    return key == suffix or key.endswith('.' + suffix)


def _prefix(key: str, suffix: str) -> str:
    return key[:-len(suffix)].rstrip('.')


def kernel_sizes_from_state_dict(
        state_dict: Mapping[str, torch.Tensor],
        kernel_sizes: Sequence[int] = DEFAULT_KERNEL_SIZES
) -> List[EffectiveKernelSizes]:
    """Effective kernel sizes of every ``AAFLoss`` found in a state dict.

    Args:
        state_dict (Mapping[str, Tensor]): Model state dict; losses are
            found by their ``*.edge_size_logits`` and
            ``*.nonedge_size_logits`` entries, ``(C, K)`` each.
        kernel_sizes (Sequence[int]): The ``K`` candidate sizes the loss was
            built with. Default: (3, 5, 7).

    Returns:
        list[EffectiveKernelSizes]: One per loss, in state-dict order.

    Raises:
        ValueError: No AAF logits, an edge entry without its non-edge
            twin, or ``K`` differing from ``len(kernel_sizes)``.
    """
    sizes = torch.as_tensor(list(kernel_sizes), dtype=torch.float64)
    if sizes.ndim != 1 or sizes.numel() == 0:
        raise ValueError(f'kernel_sizes must be a non-empty list of sizes, '
                         f'got {kernel_sizes!r}')
    found = []
    for key in state_dict:
        if _is_logits_key(key, EDGE_SUFFIX) and not _is_logits_key(
                key, NONEDGE_SUFFIX):
            prefix = _prefix(key, EDGE_SUFFIX)
            nonedge_key = (prefix + '.' if prefix else '') + NONEDGE_SUFFIX
            if nonedge_key not in state_dict:
                raise ValueError(f'{key} has no matching {nonedge_key} in '
                                 'the state dict')
            result = {}
            for kind, name in (('edge', key), ('nonedge', nonedge_key)):
                logits = torch.as_tensor(state_dict[name]).double()
                if logits.ndim != 2 or logits.shape[1] != sizes.numel():
                    raise ValueError(
                        f'{name} has shape {tuple(logits.shape)}, expected '
                        f'(num_classes, {sizes.numel()}) for kernel_sizes '
                        f'{tuple(kernel_sizes)}; pass the kernel_sizes the '
                        'AAFLoss was built with (e.g. with --config)')
                result[kind] = (logits.softmax(dim=1) @ sizes).numpy()
            found.append(EffectiveKernelSizes(prefix, **result))
    if not found:
        raise ValueError('the state dict has no AAFLoss size logits '
                         f'(*.{EDGE_SUFFIX}); was the model trained with '
                         'AAFLoss?')
    return found


def plot_kernel_sizes(class_names: Sequence[str],
                      edge: Sequence[float],
                      nonedge: Sequence[float],
                      kernel_sizes: Sequence[int],
                      out_path: str,
                      title: Optional[str] = None) -> str:
    """Draw per-class effective kernel sizes as a PNG, like Fig. 4.

    Two panels, edge above non-edge, one bar per class; dashed lines mark
    the candidate sizes.

    Args:
        class_names (Sequence[str]): ``C`` class names.
        edge (Sequence[float]): ``(C,)`` effective edge kernel sizes.
        nonedge (Sequence[float]): ``(C,)`` effective non-edge sizes.
        kernel_sizes (Sequence[int]): Candidate sizes.
        out_path (str): PNG path; missing directories are created.
        title (str, optional): Figure title.

    Returns:
        str: ``out_path``.
    """
    # The object-oriented API renders with Agg without touching pyplot's
    # global backend, so this works headless and inside other programs.
    from matplotlib.figure import Figure

    edge = np.asarray(edge, dtype=np.float64).reshape(-1)
    nonedge = np.asarray(nonedge, dtype=np.float64).reshape(-1)
    names = [str(name) for name in class_names]
    if not len(names) == len(edge) == len(nonedge):
        raise ValueError(
            f'{len(names)} class names for {len(edge)} edge and '
            f'{len(nonedge)} non-edge sizes')
    kernel_sizes = sorted(kernel_sizes)
    positions = np.arange(len(names))
    width = max(6.0, 0.45 * len(names) + 1.5)
    figure = Figure(figsize=(width, 6.0), constrained_layout=True)
    axes = figure.subplots(2, 1, sharex=True)
    panels: Dict[str, np.ndarray] = {'edge': edge, 'non-edge': nonedge}
    for ax, (label, values), colour in zip(axes, panels.items(),
                                           ('tab:red', 'tab:blue')):
        ax.bar(positions, values, color=colour, width=0.7)
        for size in kernel_sizes:
            ax.axhline(size, color='grey', linewidth=0.6, linestyle='--')
        ax.set_ylim(0, kernel_sizes[-1] + 1)
        ax.set_yticks(kernel_sizes)
        ax.set_ylabel(f'{label} kernel size')
    axes[-1].set_xticks(positions)
    axes[-1].set_xticklabels(names, rotation=60, ha='right')
    if title:
        # Wrapped to the figure's width: a study's title and method name do
        # not fit on the narrow figure of a two-class dataset.
        figure.suptitle(textwrap.fill(title, int(width * 7)), fontsize=11)
    directory = osp.dirname(osp.abspath(out_path))
    os.makedirs(directory, exist_ok=True)
    figure.savefig(out_path, format='png', dpi=150)
    return out_path


def _walk(node):
    """Every dict inside a (config) tree of dicts and lists, depth first."""
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _walk(value)


def aaf_kernel_sizes_from_config(cfg: Mapping,
                                 loss_index: int = 0) -> Sequence[int]:
    """``kernel_sizes`` of the ``loss_index``-th ``AAFLoss`` of ``cfg.model``.

    Losses are counted in the order they appear in the model config,
    which for mmseg's ``EncoderDecoder`` is also their state-dict order
    (decode head before auxiliary heads). A loss without ``kernel_sizes``
    uses the ``AAFLoss`` default (3, 5, 7).
    """
    losses = [node for node in _walk(cfg.get('model', {}))
              if node.get('type') == 'AAFLoss']
    if not losses:
        raise ValueError('the config has no AAFLoss in its model')
    if not 0 <= loss_index < len(losses):
        raise ValueError(f'loss index {loss_index} is out of range: the '
                         f'config has {len(losses)} AAFLoss(es)')
    return tuple(losses[loss_index].get('kernel_sizes', DEFAULT_KERNEL_SIZES))


def class_names_from_config(cfg: Mapping) -> Optional[List[str]]:
    """Class names of the config's datasets, or None if none is found.

    Looks, in order, at the ``metainfo['classes']`` of the test, val and
    train datasets, then at the ``METAINFO`` of their registered types.
    """
    datasets = [cfg.get(key, {}) for key in ('test_dataloader',
                                             'val_dataloader',
                                             'train_dataloader')]
    for node in _walk(datasets):
        metainfo = node.get('metainfo')
        if isinstance(metainfo, Mapping) and metainfo.get('classes'):
            return [str(name) for name in metainfo['classes']]
    from mmseg.registry import DATASETS
    for node in _walk(datasets):
        dataset_type = node.get('type')
        if isinstance(dataset_type, str):
            dataset_cls = DATASETS.get(dataset_type)
            classes = getattr(dataset_cls, 'METAINFO', {}).get('classes')
            if classes:
                return [str(name) for name in classes]
    return None
