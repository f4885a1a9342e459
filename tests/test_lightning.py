"""DmtCallback with a real `lightning.Trainer.fit` on the CPU: the run folder, gradient norms
against an independent computation, and the ways a fit ends."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

pl = pytest.importorskip("lightning.pytorch", reason="the [lightning] extra is not installed")

from lightning.pytorch.utilities.exceptions import SIGTERMException  # noqa: E402

from dmt_tui import rundir  # noqa: E402
from dmt_tui.lightning import DmtCallback  # noqa: E402
from dmt_tui.rundir.record import RunRecord  # noqa: E402


class Tiny(pl.LightningModule):
    def __init__(self, lr: float = 0.1, fail_at_epoch: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.Tanh())
        self.head = nn.Linear(8, 3)

    def training_step(self, batch: Any, index: int) -> torch.Tensor:
        if self.hparams["fail_at_epoch"] == self.current_epoch + 1:
            raise RuntimeError("the module broke")
        x, y = batch
        loss = nn.functional.cross_entropy(self.head(self.body(x)), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        self.log("sharpness", 2.5, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, index: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self.head(self.body(x)), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams["lr"])


class ExpectedNorms(pl.Callback):
    """The independent computation: each layer's and the model's gradient norm, by
    torch.linalg.vector_norm, at the same moment the run takes them."""

    def __init__(self) -> None:
        self.steps: list[dict[str, float]] = []

    def on_before_optimizer_step(self, trainer: Any, module: Any, optimizer: Any) -> None:
        def norm(params: Any) -> float:
            return torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in params])).item()

        self.steps.append({"body.0": norm(module.body[0].parameters()),
                           "head": norm(module.head.parameters()),
                           "total": norm(module.parameters())})


class SigtermAt(pl.Callback):
    """Sends the process SIGTERM during the given epoch, as the app's `s` would."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
        if trainer.current_epoch + 1 == self.epoch:
            os.kill(os.getpid(), signal.SIGTERM)


def loaders(n: int = 16, batch: int = 16) -> tuple[DataLoader[Any], DataLoader[Any]]:
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 4, generator=generator), torch.randint(0, 3, (n,), generator=generator)
    data = TensorDataset(x, y)
    return DataLoader(data, batch_size=batch), DataLoader(data, batch_size=n)


def fit(module: pl.LightningModule, epochs: int, *callbacks: pl.Callback,
        runs: Path) -> DmtCallback:
    callback = DmtCallback(runs_dir=runs)
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0,
                         callbacks=[callback, *callbacks])
    train, val = loaders()
    trainer.fit(module, train, val)
    return callback


def events(callback: DmtCallback) -> list[dict[str, Any]]:
    assert callback.run is not None and callback.run.run_dir is not None
    return rundir.read_events(callback.run.run_dir)[0]


def test_a_fit_writes_the_run_with_gradient_norms(tmp_path: Path) -> None:
    """One step an epoch, so each grad event holds exactly that step's norms."""
    torch.manual_seed(0)
    expected = ExpectedNorms()
    callback = fit(Tiny(), 3, expected, runs=tmp_path)
    written = events(callback)
    assert [e["type"] for e in written if e["type"] != "progress"] == \
        ["start", *["epoch", "grad"] * 3, "end"]
    assert written[0]["layers"] == ["body.0", "head"]
    assert written[0]["preset"] == "Tiny"
    epochs = [e for e in written if e["type"] == "epoch"]
    assert all(e["train_loss"] is not None and e["val_loss"] is not None for e in epochs)
    assert epochs[0]["sharpness"] == 2.5 and epochs[0]["lr"] == 0.1
    assert "train_loss_step" not in epochs[0]
    grads = [e for e in written if e["type"] == "grad"]
    assert len(expected.steps) == 3
    for grad, norms in zip(grads, expected.steps, strict=True):
        got = {layer["name"]: layer["mean"] for layer in grad["layers"]}
        got["total"] = grad["total"]["mean"]
        assert got == pytest.approx(norms, rel=1e-6)
    assert written[-1]["state"] == "finished"
    assert callback.run is not None and callback.run.run_dir is not None
    record = RunRecord.load(callback.run.run_dir)
    assert record.state == "finished" and record.epochs_total == 3
    assert record.config["lr"] == 0.1  # the module's hyperparameters
    assert (callback.run.run_dir / rundir.BEST).exists()


def test_sigterm_stops_the_fit_after_the_epoch(tmp_path: Path) -> None:
    with pytest.raises(SIGTERMException):
        fit(Tiny(), 50, SigtermAt(2), runs=tmp_path)
    run_dir = next(tmp_path.iterdir())
    record = RunRecord.load(run_dir)
    assert record.state == "stopped" and len(record.epochs) == 2
    assert record.end["reason"] == "stopped by SIGTERM after epoch 2"


def test_an_exception_in_the_module_ends_failed(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="the module broke"):
        fit(Tiny(fail_at_epoch=2), 5, runs=tmp_path)
    record = RunRecord.load(next(tmp_path.iterdir()))
    assert record.state == "failed" and len(record.epochs) == 1
    assert record.end["reason"] == "RuntimeError: the module broke"


def test_lightnings_early_stopping_ends_early_stopped(tmp_path: Path) -> None:
    early = pl.callbacks.EarlyStopping("val_loss", patience=1, min_delta=10.0)
    callback = fit(Tiny(), 50, early, runs=tmp_path)
    end = events(callback)[-1]
    assert end["state"] == "early_stopped" and end["epochs"] == 2
    assert end["reason"].startswith("Lightning EarlyStopping: val_loss did not improve")
