"""A PyTorch Lightning module on the Wine table, watched by dmt-tui through one callback:

    python examples/lightning_module.py      # then `dmt-tui` shows the run under ./runs
    python examples/lightning_module.py --runs-dir /tmp/runs --epochs 5

Needs `pip install 'dmt-tui[lightning]'`. Whatever `self.log` records at the epoch's end
(here train_loss, val_loss, val_acc) goes into the run's `epoch` events; the callback adds
per-layer gradient norms, and `s` in the app stops the fit after the epoch.
"""

from __future__ import annotations

import argparse

import lightning.pytorch as pl
import torch
from plain_loop import load_wine  # the same data as the plain loop
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dmt_tui.lightning import DmtCallback


class WineClassifier(pl.LightningModule):
    def __init__(self, hidden: int = 32, lr: float = 1e-3) -> None:
        super().__init__()
        self.save_hyperparameters()  # the run's config.yaml
        self.net = nn.Sequential(nn.Linear(13, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, 3))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> None:
        x, y = batch
        out = self.net(x)
        self.log("val_loss", nn.functional.cross_entropy(out, y))
        self.log("val_acc", (out.argmax(1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams["lr"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default="runs", help="where the run folder goes (runs)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs at most (30)")
    args = parser.parse_args()
    pl.seed_everything(0, verbose=False)
    x_train, y_train, x_val, y_val = load_wine(seed=0)
    train = DataLoader(TensorDataset(x_train, y_train), batch_size=16, shuffle=True)
    val = DataLoader(TensorDataset(x_val, y_val), batch_size=64)
    callback = DmtCallback("wine-lightning", runs_dir=args.runs_dir)
    trainer = pl.Trainer(max_epochs=args.epochs, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[callback])
    trainer.fit(WineClassifier(), train, val)
    ended = callback.run.ended if callback.run else None
    print(f"run {callback.run.run_dir if callback.run else '?'}: "
          f"{ended['state'] if ended else '?'}")


if __name__ == "__main__":
    main()
