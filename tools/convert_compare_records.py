# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Convert the records of the CamVid loss comparison (written by
``tools/compare_losses.py`` before it became ``mmseg-aaf-compare``) into
``mmseg-aaf-compare`` records, without training anything.

Each old record names the config it was trained from; the converted
record carries the hash of *that* config, resolved as the study resolves
its methods. ``mmseg-aaf-compare`` then accepts it only if the method it
derives resolves to the same config (same model, data, schedule,
optimizer, hooks and evaluator), and refuses it otherwise.

    python tools/convert_compare_records.py OLD/pspnet \\
        configs/camvid/pspnet_r18_ce_camvid-cpu.py \\
        --methods ce +lovasz +dice +affinity +aaf \\
        --loss-options downsample=4 --out docs/compare_losses/pspnet/records
"""
import argparse
import json
import os.path as osp
import sys

from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmseg_aaf.cli import error, quiet_setuptools  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert old CamVid loss-comparison records (one '
        'model) into mmseg-aaf-compare records.')
    parser.add_argument('old', help='the old records of one model: '
                        '<method>/seed<k>.json')
    parser.add_argument('baseline', help='the study\'s baseline config')
    parser.add_argument('--methods', nargs='+', required=True,
                        help='the study\'s methods; an old method folder '
                        'X becomes +X (ce stays ce)')
    parser.add_argument('--loss-options', nargs='+', action=DictAction)
    parser.add_argument('--out', required=True,
                        help='the new records folder')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_setuptools()
    import mmseg_aaf  # noqa: F401
    from mmseg_aaf.comparison.methods import MethodError, parse_methods
    from mmseg_aaf.comparison.records import (config_hash,
                                              convert_legacy_record,
                                              record_path, write_record)
    from mmseg_aaf.comparison.study import Study, resolved_config
    try:
        methods = parse_methods(args.methods)
    except MethodError as exc:
        return error(str(exc))
    study = Study(baseline=args.baseline, methods=methods, seeds=[0],
                  work_dir='work_dirs/convert', records_dir=args.out,
                  loss_options=args.loss_options)
    converted = 0
    for method in methods:
        old_key = method.key.lstrip('+')
        folder = osp.join(args.old, old_key)
        if not osp.isdir(folder):
            print(f'{method.key}: no old records in {folder}')
            continue
        for seed in range(100):
            path = osp.join(folder, f'seed{seed}.json')
            if not osp.isfile(path):
                continue
            with open(path) as f:
                old = json.load(f)
            cfg = resolved_config(old['config'], study)
            if cfg.train_cfg.max_iters != old['iters']:
                return error(f'{path} trained {old["iters"]} iterations, '
                             f'{old["config"]} schedules '
                             f'{cfg.train_cfg.max_iters}')
            classes = _classes(cfg)
            record = convert_legacy_record(old, method.key, method.name,
                                           config_hash(cfg), classes,
                                           _aaf_kernel_sizes(cfg.model))
            write_record(record_path(args.out, method.slug, seed), record)
            converted += 1
            print(f'{path} -> {record_path(args.out, method.slug, seed)}')
    print(f'converted {converted} records')
    return 0


def _aaf_kernel_sizes(node):
    """The ``kernel_sizes`` of the first AAFLoss in a model config (the
    class default where the config leaves it out), or None."""
    if isinstance(node, dict):
        if node.get('type') == 'AAFLoss':
            if 'kernel_sizes' in node:
                return list(node['kernel_sizes'])
            import inspect

            from mmseg_aaf.models.losses import AAFLoss
            return list(inspect.signature(AAFLoss.__init__)
                        .parameters['kernel_sizes'].default)
        children = node.values()
    elif isinstance(node, (list, tuple)):
        children = node
    else:
        return None
    for child in children:
        found = _aaf_kernel_sizes(child)
        if found:
            return found
    return None


def _classes(cfg):
    from mmseg_aaf.comparison.study import dataset_classes
    classes = dataset_classes(cfg)
    if not classes:
        raise SystemExit(error('cannot tell the dataset\'s classes'))
    return classes


if __name__ == '__main__':
    sys.exit(main())
