"""Training throughput, side by side in one process: the course's plain PyTorch loop against
this trainer with gradient monitoring off and on.

    python bench/throughput.py                 # 20,000 points, hidden [16,16,16], batch 32
    python bench/throughput.py --presets       # also every built-in preset
    python bench/throughput.py --device cuda   # where a GPU is

Each case runs its three variants interleaved, `--repeats` times, and reports the median
epochs/s, so that a noisy shared machine slows all three alike.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from presets import list_presets, load_preset  # noqa: E402
from trainer import engine, loop, rundir  # noqa: E402
from trainer.config import load  # noqa: E402
from trainer.optim import OPTIMIZERS  # noqa: E402

SMALL_MODEL = ["name=bench-small", "data.dataset=spiral", "data.n_samples=25000",
               "data.val_fraction=0.2", "model.hidden=[16,16,16]", "model.activation=relu",
               "optimizer.name=adam", "optimizer.lr=1e-3", "train.batch_size=32",
               "early_stopping.patience=0"]


def plain_loop(config: dict[str, Any], epochs: int) -> float:
    """The course's loop: DataLoader over TensorDataset, loss.item() every batch, no
    monitoring; same data, model, optimizer and validation each epoch. Returns epochs/s."""
    session = loop.prepare(config)
    model = session.model
    # as the course writes it: torch.optim's default implementation, not our fused choice
    optimizer = OPTIMIZERS[config["optimizer"]["name"]](model.parameters(), config["optimizer"])
    loss_fn = torch.nn.CrossEntropyLoss() if session.data.task == "classification" \
        else torch.nn.MSELoss()
    train = DataLoader(TensorDataset(session.x_train, session.y_train),
                       batch_size=config["train"]["batch_size"], shuffle=True)
    val = DataLoader(TensorDataset(session.x_val, session.y_val), batch_size=1024)
    began = time.perf_counter()
    for _ in range(epochs):
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
            val_total = sum(loss_fn(model(x), y).item() * len(x) for x, y in val)
        _ = (total, val_total)
    return epochs / (time.perf_counter() - began)


def lightning_loop(config: dict[str, Any], epochs: int) -> float | None:
    """The same model, data and optimizer as a PyTorch Lightning Trainer with EarlyStopping
    on val_loss (an optional benchmark dependency). Returns epochs/s, or None without it."""
    try:
        import pytorch_lightning as pl
    except ImportError:
        return None
    session = loop.prepare(config)
    task = session.data.task
    opt = config["optimizer"]

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = session.model

        def _loss(self, batch: Any) -> torch.Tensor:
            x, y = batch
            out = self.net(x)
            if task == "classification":
                return torch.nn.functional.cross_entropy(out, y)
            return torch.nn.functional.mse_loss(out, y)

        def training_step(self, batch: Any, index: int) -> torch.Tensor:
            return self._loss(batch)

        def validation_step(self, batch: Any, index: int) -> None:
            self.log("val_loss", self._loss(batch), prog_bar=False)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return OPTIMIZERS[opt["name"]](self.parameters(), opt)

    train = DataLoader(TensorDataset(session.x_train, session.y_train),
                       batch_size=config["train"]["batch_size"], shuffle=True)
    val = DataLoader(TensorDataset(session.x_val, session.y_val), batch_size=1024)
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0,
                         callbacks=[pl.callbacks.EarlyStopping("val_loss", patience=10**6)])
    began = time.perf_counter()
    trainer.fit(Module(), train, val)
    return epochs / (time.perf_counter() - began)


def this_trainer(config: dict[str, Any], epochs: int, grad_stats: bool) -> float:
    """engine.run end to end (events, status, checkpoints included). Returns epochs/s."""
    # early stopping off: every variant trains the same number of epochs
    config = {**config, "train": {**config["train"], "epochs": epochs, "grad_stats": grad_stats},
              "early_stopping": {**config["early_stopping"], "patience": 0}}
    session = loop.prepare(config)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = rundir.create_run_dir(Path(tmp), "bench")
        began = time.perf_counter()
        end = engine.run(config, run_dir, lambda line: None, session)
        seconds = time.perf_counter() - began
    assert end["state"] == "finished", end
    return epochs / seconds


def epochs_for(config: dict[str, Any], epochs: int, seconds: float) -> int:
    """At least `epochs`, and enough that one measurement lasts about `seconds`: a preset's
    epoch can be 5 ms, and three of them cannot resolve a 3% difference."""
    rate = plain_loop(config, 2)
    return max(epochs, min(5000, math.ceil(seconds * rate)))


def measure(config: dict[str, Any], epochs: int, repeats: int,
            lightning: bool = False) -> dict[str, float]:
    samples: dict[str, list[float]] = {"plain": [], "off": [], "on": [], "lightning": []}
    for _ in range(repeats):
        samples["plain"].append(plain_loop(config, epochs))
        samples["off"].append(this_trainer(config, epochs, grad_stats=False))
        samples["on"].append(this_trainer(config, epochs, grad_stats=True))
        if lightning:
            rate = lightning_loop(config, epochs)
            if rate is not None:
                samples["lightning"].append(rate)
    return {k: statistics.median(v) for k, v in samples.items() if v}


def report(label: str, r: dict[str, float]) -> tuple[float, float]:
    speedup, overhead = r["on"] / r["plain"], r["off"] / r["on"]
    print(f"{label:<28} {r['plain']:>9.2f} {r['off']:>9.2f} {r['on']:>9.2f} "
          f"{speedup:>9.2f}x {100 * (overhead - 1):>+8.1f}%", flush=True)
    return speedup, overhead


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs per measurement, at least (3)")
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="make each measurement last about this long (1.0)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (3)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (cpu)")
    parser.add_argument("--presets", action="store_true", help="also every built-in preset")
    args = parser.parse_args()
    device = [f"train.device={args.device}"]
    cases = [("small model 20k x [16,16,16]", load("name: bench", "bench", SMALL_MODEL + device))]
    if args.presets:
        cases += [(p.name, load_preset(p.name, device)) for p in list_presets()
                  if p.source == "built-in"]
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, "
          f"about {args.seconds:g} s a measurement x {args.repeats} repeats, interleaved, "
          f"median epochs/s")
    print(f"{'case':<28} {'plain':>9} {'mon. off':>9} {'mon. on':>9} {'on/plain':>10} "
          f"{'off/on-1':>9}")
    worst_speedup, worst_overhead = float("inf"), 0.0
    for i, (label, config) in enumerate(cases):
        epochs = epochs_for(config, args.epochs, args.seconds)
        result = measure(config, epochs, args.repeats, lightning=i == 0)
        speedup, overhead = report(label, result)
        worst_speedup, worst_overhead = min(worst_speedup, speedup), max(worst_overhead, overhead)
        if i == 0:
            peer = result.get("lightning")
            peer_line = ("PyTorch Lightning is not installed (pip install pytorch-lightning); "
                         "skipped" if peer is None else
                         f"PyTorch Lightning Trainer + EarlyStopping {peer:.2f} epochs/s: this "
                         f"trainer is {result['on'] / peer:.2f}x as fast (budget >= 2x)")
            print(f"  {peer_line}", flush=True)
    print(f"budgets: on/plain >= 1.00 (worst {worst_speedup:.2f}); "
          f"monitoring overhead <= 3% (worst {100 * (worst_overhead - 1):+.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
