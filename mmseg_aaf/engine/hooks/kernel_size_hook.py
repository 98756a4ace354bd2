# Copyright (c) mmseg_aaf contributors. All rights reserved.
from typing import List, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ...models.losses import AAFLoss


def kernel_size_scalar_key(kind: str, class_name: str,
                           loss_index: int = 0) -> str:
    """Message-hub key of one effective kernel size.

    ``train/aaf_kernel/<edge|nonedge>/<class>`` for the first ``AAFLoss``
    of the model, ``train/aaf_kernel_<i>/...`` for the ``i``-th after it.
    """
    group = 'aaf_kernel' if loss_index == 0 else f'aaf_kernel_{loss_index}'
    return f'train/{group}/{kind}/{class_name}'


@HOOKS.register_module()
class KernelSizeLoggerHook(Hook):
    """Log the effective kernel size of every class of every ``AAFLoss``.

    Every ``interval`` training iterations, for each ``AAFLoss`` of the
    model, the per-class ``sum_k w_k * k`` of its edge and non-edge size
    weights (the paper's Fig. 4) goes to

    * the message hub, as the scalars named by
      :func:`kernel_size_scalar_key`, so that ``LoggerHook`` writes them
      to the log and to the visualizer backends (TensorBoard,
      ``LocalVisBackend``'s ``scalars.json``);
    * the log, as one compact line per loss.

    Class names come from ``runner.train_dataloader.dataset.metainfo``
    when it lists as many classes as the loss has, else class indices are
    used. The hook warns once when the model has no ``AAFLoss``.

    Args:
        interval (int): Iterations between two records. Default: 50.
    """

    priority = 'NORMAL'

    def __init__(self, interval: int = 50):
        if (not isinstance(interval, int) or isinstance(interval, bool)
                or interval < 1):
            raise ValueError(f'interval must be an int >= 1, got {interval!r}')
        self.interval = interval
        self._warned = False

    def before_train(self, runner) -> None:
        self._aaf_losses(runner)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if not self.every_n_train_iters(runner, self.interval):
            return
        losses = self._aaf_losses(runner)
        for index, loss in enumerate(losses):
            names = self._class_names(runner, loss.num_classes)
            sizes = loss.effective_kernel_sizes()
            parts = []
            for kind in ('edge', 'nonedge'):
                values = sizes[kind].cpu().tolist()
                for name, value in zip(names, values):
                    runner.message_hub.update_scalar(
                        kernel_size_scalar_key(kind, name, index), value)
                parts.append(f'{kind}: ' + ' '.join(
                    f'{name}={value:.2f}'
                    for name, value in zip(names, values)))
            print_log(
                f'AAF kernel sizes [{loss.loss_name}] iter {runner.iter + 1} '
                + ' | '.join(parts), logger='current')

    def _aaf_losses(self, runner) -> List[AAFLoss]:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        losses = [m for m in model.modules() if isinstance(m, AAFLoss)]
        if not losses and not self._warned:
            self._warned = True
            print_log(
                'KernelSizeLoggerHook: the model has no AAFLoss; nothing to '
                'log', logger='current', level=30)
        return losses

    @staticmethod
    def _class_names(runner, num_classes: int) -> Sequence[str]:
        classes: Optional[Sequence[str]] = None
        try:
            classes = runner.train_dataloader.dataset.metainfo.get('classes')
        except AttributeError:
            pass
        if classes is not None and len(classes) == num_classes:
            return [str(name) for name in classes]
        return [str(index) for index in range(num_classes)]
