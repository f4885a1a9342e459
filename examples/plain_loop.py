"""The course's plain training loop on the Wine table (178 wines, 13 measurements, 3
cultivars), streamed into the dmt-tui monitor by the lines marked `# dmt-tui`:

    python examples/plain_loop.py            # then `dmt-tui` shows the run under ./runs
    python examples/plain_loop.py --runs-dir /tmp/runs --epochs 5

The app shows its losses, accuracy, early-stopping counter and per-layer gradient norms
live, and `s` there stops it: the loop sees `run.should_stop` and leaves.
"""

from __future__ import annotations

import argparse
from importlib.resources import files

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import dmt_tui  # dmt-tui


def load_wine(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """D: the shipped Wine table, split 80/20 with the seed, standardized with the
    training split's statistics."""
    table = pd.read_csv(str(files("dmt_tui.presets") / "datasets" / "wine.csv"))
    labels = table.pop("cultivar").str.removeprefix("cultivar_").astype(int)
    x = torch.tensor(table.to_numpy(), dtype=torch.float32)
    y = torch.tensor(labels.to_numpy())
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_val = len(x) // 5
    val, train = order[:n_val], order[n_val:]
    mean, std = x[train].mean(0), x[train].std(0)
    x = (x - mean) / std
    return x[train], y[train], x[val], y[val]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default="runs", help="where the run folder goes (runs)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs at most (30)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (1e-3)")
    args = parser.parse_args()
    torch.manual_seed(0)
    x_train, y_train, x_val, y_val = load_wine(seed=0)
    # M: a small MLP, logits out
    model = nn.Sequential(nn.Linear(13, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    train = DataLoader(TensorDataset(x_train, y_train), batch_size=16, shuffle=True)
    # what the app's Run panel shows; early_stopping as in a preset
    config = {"data": {"dataset": "wine"},
              "model": {"kind": "mlp", "hidden": [32, 32], "activation": "relu"},
              "optimizer": {"name": "adam", "lr": args.lr},
              "train": {"epochs": args.epochs, "batch_size": 16, "seed": 0},
              "early_stopping": {"patience": 10}}

    # T: the training iteration
    with dmt_tui.Run("wine-plain-loop", config=config, runs_dir=args.runs_dir) as run:  # dmt-tui
        run.watch(model)  # dmt-tui
        for epoch in range(1, args.epochs + 1):
            model.train()
            total = 0.0
            for x, y in train:
                optimizer.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(x)
            model.eval()
            with torch.no_grad():
                out = model(x_val)
                val_loss = loss_fn(out, y_val).item()
                val_acc = (out.argmax(1) == y_val).float().mean().item()
            train_loss = total / len(x_train)
            print(f"epoch {epoch}  train {train_loss:.4f}  val {val_loss:.4f}  "
                  f"acc {val_acc:.1%}")
            run.epoch(train_loss=train_loss, val_loss=val_loss, val_acc=val_acc)  # dmt-tui
            if run.should_stop:  # dmt-tui
                break
    print(f"run {run.run_dir}: {run.ended['state'] if run.ended else '?'}")


if __name__ == "__main__":
    main()
