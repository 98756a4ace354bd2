# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""One JSON record per finished (method, seed) run of ``mmseg-aaf-compare``.

A record holds what the run measured and what it was trained from::

    {
      "format": "mmseg_aaf.compare_record", "version": 1,
      "method": "+aaf", "name": "+ AAF", "seed": 0,
      "config": "work_dirs/cmp/configs/x_aaf.py",
      "config_hash": "<sha256 of the resolved config, see config_hash>",
      "iters": 600,
      "metrics": {"aAcc": 77.9, "mIoU": 48.9, ...},   # evaluator order
      "per_class": {"classes": [...], "IoU": [...], "bFscore": [...]},
      "kernel_sizes": {"edge": [...], "nonedge": [...]} or null,
      "kernel_size_candidates": [3, 5, 7] or null,     # AAF's sizes
      "test_images": 101,                              # images scored
      "train_seconds": 118.2, "test_seconds": 9.1
    }

Per-class values are in percent, ``null`` where a class is undefined.
``test_images`` is missing from records written before it was kept.
Records are small enough to commit; a study continues from them, and
refuses one whose ``config_hash`` is not that of the config it would
train now (:class:`StaleRecord`).
"""
import hashlib
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

FORMAT_NAME = 'mmseg_aaf.compare_record'
FORMAT_VERSION = 1

#: The parts of a resolved config that decide what is trained and how it
#: is scored; the hash leaves out the rest (the work dir, logging, the
#: checkpoint and validation settings the tool sets itself, and helper
#: variables such as a base file's ``dice_loss = dict(...)``).
HASHED_KEYS = ('model', 'train_dataloader', 'test_dataloader', 'train_cfg',
               'test_cfg', 'optim_wrapper', 'param_scheduler',
               'test_evaluator', 'custom_hooks', 'custom_imports',
               'load_from', 'randomness', 'auto_scale_lr')


class StaleRecord(ValueError):
    """A record that was trained from another config."""


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def config_hash(cfg: Config) -> str:
    """sha256 of the :data:`HASHED_KEYS` of ``cfg``, the seed left out.

    ``cfg`` is the config as the study would train it (``--cfg-options``
    and ``--iters`` applied), before the tool points it at a run folder.
    Two configs that build the same model, data, schedule, optimizer,
    hooks and test evaluator hash alike however their files are written.
    """
    parts = {key: _plain(cfg.get(key)) for key in HASHED_KEYS}
    if isinstance(parts['randomness'], dict):
        parts['randomness'].pop('seed', None)
    text = json.dumps(parts, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def record_path(records_dir: str, slug: str, seed: int) -> str:
    return osp.join(records_dir, slug, f'seed{seed}.json')


def write_record(path: str, record: Dict) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(record, f, indent=1)
    os.replace(tmp, path)  # a stop mid-write leaves no half record


def read_record(path: str, expected_hash: Optional[str] = None) -> Dict:
    """The record at ``path``; with ``expected_hash``, refuses a record of
    another config.

    Raises:
        StaleRecord: another format, or another config's record.
    """
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError) as exc:
        raise StaleRecord(f'{path} is not a readable record: {exc}')
    if record.get('format') != FORMAT_NAME:
        raise StaleRecord(f'{path} is not a {FORMAT_NAME} record (an '
                          'older record needs converting, see '
                          'tools/convert_compare_records.py)')
    if expected_hash is not None and \
            record.get('config_hash') != expected_hash:
        raise StaleRecord(
            f'{path} was recorded for another config than the one '
            f'{record.get("method")} would train now (config hash '
            f'{str(record.get("config_hash"))[:12]} != '
            f'{expected_hash[:12]}); move it away or pass another '
            '--records folder')
    return record


def load_records(records_dir: str, slugs: Sequence[str]) -> Dict[str,
                                                                List[Dict]]:
    """``{slug: [record, ...] by seed}`` for the folders that hold any."""
    found = {}
    for slug in slugs:
        folder = osp.join(records_dir, slug)
        names = os.listdir(folder) if osp.isdir(folder) else ()
        seeds = sorted(int(n[4:-5]) for n in names
                       if n.startswith('seed') and n.endswith('.json')
                       and n[4:-5].isdigit())
        if seeds:
            found[slug] = [read_record(record_path(records_dir, slug, s))
                           for s in seeds]
    return found


def convert_legacy_record(old: Dict, key: str, name: str, config_hash: str,
                          classes: Sequence[str],
                          kernel_size_candidates: Optional[Sequence[int]]
                          = None) -> Dict:
    """A record of the CamVid loss comparison (``tools/compare_losses.py``
    before it became ``mmseg-aaf-compare``) in this format.

    The old ``metrics`` held the evaluator's keys plus a derived
    ``thin_mIoU``, which the reports now compute from the per-class IoU
    (``--subset``); it is dropped. Everything else carries over, and the
    per-class lists get their class names.
    """
    metrics = {k: v for k, v in old['metrics'].items() if k != 'thin_mIoU'}
    per_class = dict(classes=list(classes))
    for measure, values in old['per_class'].items():
        if len(values) != len(classes):
            raise ValueError(f'per-class {measure} has {len(values)} values '
                             f'for {len(classes)} classes')
        per_class[measure] = values
    return dict(
        format=FORMAT_NAME,
        version=FORMAT_VERSION,
        method=key,
        name=name,
        seed=old['seed'],
        config=old['config'],
        config_hash=config_hash,
        iters=old['iters'],
        metrics=metrics,
        per_class=per_class,
        kernel_sizes=old.get('kernel_sizes'),
        kernel_size_candidates=list(kernel_size_candidates)
        if old.get('kernel_sizes') else None,
        train_seconds=old.get('train_seconds'),
        converted_from='tools/compare_losses.py record '
        f'{old["model"]}/{old["method"]}/seed{old["seed"]}.json')
