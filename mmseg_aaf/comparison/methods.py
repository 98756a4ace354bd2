# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""What ``mmseg-aaf-compare`` compares: a baseline config and the methods
derived from it.

A method is written on the command line as

* ``ce`` or ``base``: the baseline config as it is;
* ``+dice``, ``+lovasz``, ``+affinity``, ``+aaf`` and combinations such as
  ``+dice+aaf``, each optionally weighted (``+dice:3.0``): the baseline
  with those losses appended, in that order, to the heads the config tool
  chooses (:func:`mmseg_aaf.apis.aaf_config.make_twin` for the pairwise
  losses, :func:`~mmseg_aaf.apis.aaf_config.make_loss_twin` for the
  per-pixel ones);
* ``NAME=path/to/config.py``: any other config, under that name.

:func:`derive_configs` writes each derived method as a readable config
file that ``_base_``-s the previous step of its chain, its header saying
what it adds.
"""
import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ..apis.aaf_config import (make_loss_twin, make_twin,
                               resolve_config_path)

#: The per-pixel losses a method may append, as the CamVid study
#: configures them (configs/camvid/_base_/{dice,lovasz}_loss.py say why):
#: key -> (display name, loss config).
APPENDED_LOSSES = {
    'dice': ('Dice', dict(type='DiceLoss', use_sigmoid=False,
                          loss_weight=1.0)),
    'lovasz': ('Lovász', dict(type='LovaszLoss', loss_type='multi_class',
                              classes='present', per_image=False,
                              reduction='none', loss_weight=1.0)),
}
#: The pairwise losses (the config tool's methods) -> display name.
PAIRWISE_LOSSES = {'aaf': 'AAF', 'affinity': 'affinity (k=3)'}
#: The names of the baseline itself -> display name.
BASELINE_KEYS = {'ce': 'CE', 'base': 'base'}
ADDITIONS = tuple(APPENDED_LOSSES) + tuple(PAIRWISE_LOSSES)

_NAME = re.compile(r'^[A-Za-z0-9_.+-]+$')


class MethodError(ValueError):
    """A method that cannot be parsed or derived."""


@dataclass(frozen=True)
class Addition:
    """One loss a derived method appends, with its weight if given."""
    loss: str
    weight: Optional[float] = None

    @property
    def spelling(self) -> str:
        return '+' + self.loss + ('' if self.weight is None else
                                  f':{self.weight:g}')

    @property
    def name(self) -> str:
        name = {**APPENDED_LOSSES, **{
            k: (v, None) for k, v in PAIRWISE_LOSSES.items()}}[self.loss][0]
        return name if self.weight is None else f'{name} x{self.weight:g}'


@dataclass(frozen=True)
class Method:
    """A compared method.

    Attributes:
        key (str): As written on the command line (``+dice+aaf``); also
            the name of its records folder, see :attr:`slug`.
        name (str): Shown in tables and charts (``+ Dice + AAF``).
        additions (tuple[Addition]): What a derived method appends.
        config (str, optional): A ``NAME=config`` method's file.
    """
    key: str
    name: str
    additions: Tuple[Addition, ...] = ()
    config: Optional[str] = None

    @property
    def is_baseline(self) -> bool:
        return self.key in BASELINE_KEYS

    @property
    def slug(self) -> str:
        """Folder name of its runs and records: the key without the
        leading ``+`` and with ``:`` as ``x`` (``dice+aaf``, ``dicex3``)."""
        return self.key.lstrip('+').replace(':', 'x')

    @property
    def short_name(self) -> str:
        """The name without a leading ``+ `` (``Dice + AAF``)."""
        return self.name[2:] if self.name.startswith('+ ') else self.name


def parse_method(spec: str) -> Method:
    """One command-line method; raises :class:`MethodError`."""
    if spec in BASELINE_KEYS:
        return Method(spec, BASELINE_KEYS[spec])
    if '=' in spec:
        name, _, path = spec.partition('=')
        if not name or not _NAME.match(name) or not path:
            raise MethodError(
                f'method {spec!r}: NAME=CONFIG needs a name of letters, '
                'digits and _.+- and a config path')
        if not osp.isfile(resolve_config_path(path)):
            raise MethodError(f'method {name}: config not found: {path}')
        # A committed config standing in for a derived method keeps the
        # derived method's name (e.g. +dice=configs/x_dice.py).
        try:
            display = parse_method(name).name if name.startswith('+') \
                else name
        except MethodError:
            display = name
        return Method(name, display, config=path)
    if not spec.startswith('+'):
        raise MethodError(
            f'unknown method {spec!r}: use ce or base (the baseline), '
            f'additions such as +dice, +aaf, +dice+aaf or +dice:3.0 '
            f'(from {", ".join("+" + a for a in ADDITIONS)}), or '
            'NAME=path/to/config.py')
    additions = []
    for part in spec[1:].split('+'):
        loss, _, weight = part.partition(':')
        if loss not in ADDITIONS:
            raise MethodError(
                f'unknown addition {"+" + loss!r} in {spec!r}: choose from '
                f'{", ".join("+" + a for a in ADDITIONS)}')
        try:
            value = float(weight) if weight else None
        except ValueError:
            value = -1.0
        if value is not None and not value > 0:
            raise MethodError(f'{spec!r}: the weight of +{loss} must be a '
                              f'positive number, got {weight!r}')
        additions.append(Addition(loss, value))
    losses = [a.loss for a in additions]
    if len(set(losses)) != len(losses):
        raise MethodError(f'{spec!r} appends a loss twice')
    if all(k in losses for k in PAIRWISE_LOSSES):
        raise MethodError(f'{spec!r}: +aaf and +affinity are two pairwise '
                          'losses of one kind; a head takes one of them')
    name = '+ ' + ' + '.join(a.name for a in additions)
    return Method(spec, name, tuple(additions))


def parse_methods(specs: Sequence[str]) -> List[Method]:
    """The methods in the order given; the same key twice is an error."""
    methods = [parse_method(spec) for spec in specs]
    keys = [m.key for m in methods]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise MethodError(f'method(s) given twice: {", ".join(twice)}')
    slugs = [m.slug for m in methods]
    if len(set(slugs)) != len(slugs):
        raise MethodError('two methods share a records folder name: '
                          f'{", ".join(keys)}')
    return methods


def _write(path: str, text: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    if osp.isfile(path):
        with open(path) as f:
            if f.read() == text:
                return  # unchanged: keep its time stamp
    with open(path, 'w') as f:
        f.write(text)


def derive_configs(baseline: str, methods: Sequence[Method], out_dir: str,
                   loss_options: Optional[dict] = None) -> Dict[str, str]:
    """The config file of every method: the baseline's own path, the given
    file of a ``NAME=config`` method, or the derived file written into
    ``out_dir``.

    A derived method ``+a+b`` is the ``+b`` twin of the ``+a`` twin of the
    baseline, so each file adds one loss to the one before; the first
    header line of each names the method and the baseline.

    Args:
        baseline (str): The baseline config (a path or ``mmseg::...``).
        methods (Sequence[Method]): From :func:`parse_methods`.
        out_dir (str): Where the derived configs go
            (``<baseline name>_<slug>.py``).
        loss_options (dict, optional): Settings of the pairwise losses
            (``+aaf``, ``+affinity``) that replace their defaults, as
            ``mmseg-aaf-config --loss-options`` takes them.

    Returns:
        dict: method key -> config path.

    Raises:
        MethodError: a method that cannot be derived (with the config
            tool's reason, e.g. the baseline already carries the loss).
    """
    stem = osp.splitext(osp.basename(resolve_config_path(baseline)))[0]
    paths = {}
    for method in methods:
        if method.is_baseline:
            paths[method.key] = baseline
            continue
        if method.config is not None:
            paths[method.key] = method.config
            continue
        parent = baseline
        for depth in range(1, len(method.additions) + 1):
            chain = method.additions[:depth]
            slug = ''.join(a.spelling for a in chain).lstrip('+').replace(
                ':', 'x')
            path = osp.join(out_dir, f'{stem}_{slug}.py')
            text = _derived_text(baseline, parent, path, chain[-1],
                                 loss_options, '+'.join(
                                     a.spelling.lstrip('+') for a in chain))
            _write(path, text)
            parent = path
        paths[method.key] = parent
    return paths


def _derived_text(baseline: str, parent: str, path: str,
                  addition: Addition, loss_options: Optional[dict],
                  key: str) -> str:
    """The config text that adds ``addition`` to ``parent``."""
    try:
        if addition.loss in PAIRWISE_LOSSES:
            options = dict(loss_options or {})
            if addition.weight is not None:
                options['loss_weight'] = addition.weight
            twin = make_twin(parent, path, method=addition.loss,
                             loss_options=options)
        else:
            name, loss = APPENDED_LOSSES[addition.loss]
            loss = dict(loss)
            if addition.weight is not None:
                loss['loss_weight'] = addition.weight
            twin = make_loss_twin(parent, path, loss, f'+ {name}')
    except ValueError as exc:  # RefusedConfig, UnknownLossOption
        raise MethodError(
            f'cannot derive +{key} from {baseline}: {exc}') from exc
    header = (f'# Method +{key} of mmseg-aaf-compare, derived from '
              f'{baseline}.\n')
    return header + twin.text
