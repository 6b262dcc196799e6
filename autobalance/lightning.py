"""The search in a PyTorch Lightning training: :class:`SearchCallback` calls
:meth:`autobalance.search.Search.step` after each optimizer step of ``Trainer.fit`` (automatic
optimization, one optimizer), logs each hyper-step's validation objective and, given a path,
exports the learned loss when training ends. The LightningModule trains with ``search.loss``.
Needs the optional extra: ``pip install "autobalance[lightning]"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback

from autobalance.search import Search


class SearchCallback(Callback):
    """Args:
        search: the search; the module's ``training_step`` computes its loss with ``search.loss``.
        export_to: where to write the learned loss when training ends (None: nowhere).
        class_names: the names the exported file gives the classes.
    """

    def __init__(self, search: Search, export_to: str | Path | None = None,
                 class_names: list[str] | None = None) -> None:
        self.search, self.export_to, self.class_names = search, export_to, class_names

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        x, y = batch[0], batch[1]
        attribute = batch[2] if len(batch) > 2 else None
        record = self.search.step(trainer.optimizers[0], x, y, attribute)
        if record is not None and "val_loss" in record:
            pl_module.log("search/val_objective", float(record["val_loss"]), on_step=True, on_epoch=False)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.export_to is not None:
            self.search.export(self.export_to, self.class_names)
