"""PyTorch Lightning: `DmtCallback` writes a `Trainer.fit` into a run folder, gradient norms
included, so the app shows it like any other run (`pip install 'dmt-tui[lightning]'`).

    trainer = lightning.Trainer(max_epochs=20, callbacks=[DmtCallback("my-net")])

Each training epoch's logged metrics (`self.log("val_loss", ...)`) become the `epoch`
event: `train_loss`, `val_loss`, `train_acc`, `val_acc` keep their meaning, any other scalar
is kept under its name, and a metric logged per step and per epoch counts by its epoch value.
"""

from __future__ import annotations

import os
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities.exceptions import SIGTERMException

from dmt_tui.api import RESERVED, Run


class DmtCallback(pl.Callback):
    """A Run for a Lightning Trainer: begins at fit start (on global rank 0 only), takes each
    optimizer step's gradient norms in `on_before_optimizer_step` (the gradients are ready
    there, after any accumulation), writes an epoch at each training epoch's end, and ends
    the run with the fit: finished, early_stopped by Lightning's EarlyStopping or by
    `early_stopping` in `config`, diverged, stopped (SIGTERM, the app's `s`, or Ctrl-C) or
    failed. `config` defaults to the module's hyperparameters (`save_hyperparameters()`)."""

    def __init__(self, name: str | None = None, config: Any = None,
                 runs_dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self.name, self.config, self.runs_dir = name, config, runs_dir
        self.run: Run | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        config = dict(pl_module.hparams) if self.config is None else self.config
        if isinstance(config, dict) and "train" not in config and (trainer.max_epochs or 0) > 0:
            config = {**config, "train": {"epochs": trainer.max_epochs}}
        run = Run(self.name or type(pl_module).__name__, config=config, runs_dir=self.runs_dir)
        run.begin(handle_sigterm=False)  # Lightning's own handler ends the fit after the epoch
        self.run = run
        run.watch(pl_module, hook=False)

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                 optimizer: Any) -> None:
        if self.run is not None and self.run.ended is None:
            self.run.record_step()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.run is None or self.run.ended is not None:
            return
        metrics = epoch_metrics(trainer.callback_metrics)
        if "lr" not in metrics and trainer.optimizers:
            metrics["lr"] = trainer.optimizers[0].param_groups[0].get("lr")
        self.run.epoch(**metrics)
        if self.run.should_stop:
            trainer.should_stop = True

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.run is None or self.run.ended is not None:
            return
        if not self.run.should_stop:
            for early in trainer.early_stopping_callbacks:
                if early.stopped_epoch:
                    self.run.end(state="early_stopped", reason=(
                        f"Lightning EarlyStopping: {early.monitor} did not improve for "
                        f"{early.patience} checks; best {float(early.best_score):.6g}"))
                    return
        self.run.end()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        if self.run is None or self.run.ended is not None:
            return
        if isinstance(exception, SIGTERMException):  # Lightning ends the fit after the epoch
            self.run.end(state="stopped",
                         reason=f"stopped by SIGTERM after epoch {self.run.epoch_count}")
        else:
            self.run.end(exception)


def epoch_metrics(logged: dict[str, Any]) -> dict[str, Any]:
    """Lightning's logged metrics as `epoch` fields: scalars only, a `name_epoch` value as
    `name`, per-step values (`name_step`) and names the run writes itself left out."""
    metrics: dict[str, Any] = {}
    for name, value in logged.items():
        if name.endswith("_step") or name in RESERVED or \
                getattr(value, "numel", lambda: 1)() != 1:
            continue
        metrics[name.removesuffix("_epoch")] = value
    return metrics
