"""Training throughput, side by side in one process: the course's plain PyTorch loop against
this trainer with gradient monitoring off and on.

    python bench/throughput.py                 # 20,000 points, hidden [16,16,16], batch 32
    python bench/throughput.py --presets       # also every built-in preset
    python bench/throughput.py --device cuda   # where a GPU is

Throughput: each case runs its variants end to end, interleaved, `--repeats` times in rotating
order; it reports the median epochs/s of each and the median of the per-repeat ratios.

Monitoring overhead is a few percent, below what whole runs a second apart resolve on a shared
machine (their ratio wanders by +-5%). So it is measured epoch by epoch: three trainers in
one process, with gradient statistics on, off, and off again, take turns an epoch at a time.
The third is the control: its difference from the second is the measurement's own noise.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dmt_tui import rundir
from dmt_tui.presets import list_presets, load_preset  # noqa: E402
from dmt_tui.presets.schema import load  # noqa: E402
from dmt_tui.trainer import boundary, engine, loop  # noqa: E402
from dmt_tui.trainer.host import Silent, StopRequest  # noqa: E402
from dmt_tui.trainer.optim import OPTIMIZERS  # noqa: E402
from dmt_tui.trainer.speed.syncs import CountSyncs  # noqa: E402

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
    device = session.device  # the data are already there; Lightning trains where they are
    accelerator = "gpu" if device.type == "cuda" else "cpu"
    trainer = pl.Trainer(max_epochs=epochs, accelerator=accelerator,
                         devices=[device.index or 0] if device.type == "cuda" else 1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0,
                         callbacks=[pl.callbacks.EarlyStopping("val_loss", patience=10**6)])
    began = time.perf_counter()
    trainer.fit(Module(), train, val)
    return epochs / (time.perf_counter() - began)


def this_trainer(config: dict[str, Any], epochs: int, grad_stats: bool) -> float:
    """engine.run end to end (events, status, checkpoints included). Returns epochs/s."""
    # early stopping off: every variant trains the same number of epochs
    config = {**config, "train": {**config["train"], "epochs": epochs, "grad_stats": grad_stats,
                                  "boundary": grad_stats},  # 2-D runs' boundary events too
              "early_stopping": {**config["early_stopping"], "patience": 0}}
    session = loop.prepare(config)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = rundir.create_run_dir(Path(tmp), "bench")
        began = time.perf_counter()
        end = engine.run(config, run_dir, lambda line: None, session)
        seconds = time.perf_counter() - began
    assert end["state"] == "finished", end
    return epochs / seconds


def interleaved_overhead(config: dict[str, Any], seconds: float,
                         epochs: int = 30) -> tuple[float, float, float]:
    """Trainers with gradient statistics on, off and off again take turns, one epoch each in
    rotating order, each writing its events as the engine does, until each has trained about
    `seconds` and at least `epochs` epochs (after two warm-up epochs). Returns on/off - 1,
    the noise (off again/off - 1), and the decision boundary's part of the overhead (the
    monitored trainer's time in its boundary monitor / off's time). The monitored trainer's
    last histograms and boundary, written at the end of a run, count too."""
    variants = {"on": True, "off": False, "control": False}
    trainers = {}
    # the monitored trainer has a third of the time: its batches of histograms would hold a
    # third of a lone run's epochs, and their cost would count three times over
    lone_every_s, lone_boundary_s = loop.GRAD_EVENTS_EVERY_S, boundary.BOUNDARY_EVERY_S
    loop.GRAD_EVENTS_EVERY_S = lone_every_s * len(variants)
    boundary.BOUNDARY_EVERY_S = lone_boundary_s * len(variants)  # the same, for boundaries
    boundaries = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, grad_stats in variants.items():
            session = loop.prepare({**config, "train": {**config["train"],
                                                        "grad_stats": grad_stats,
                                                        "boundary": grad_stats}})
            events = rundir.EventLog(rundir.create_run_dir(Path(tmp), name))
            trainers[name] = loop.Trainer(session, events, StopRequest())
            boundaries[name] = boundary.BoundaryMonitor(session, events)
        spent = dict.fromkeys(variants, 0.0)
        in_boundary = 0.0  # the monitored trainer's, within spent["on"]
        names, number = list(variants), 0
        while min(spent.values()) < seconds or number < epochs + 2:
            number += 1
            for name in names[number % 3:] + names[:number % 3]:
                trainer = trainers[name]
                began = time.perf_counter()
                r = trainer.epoch(number)
                trainer.events.write("epoch", epoch=number, train_loss=r.train_loss,
                                     val_loss=r.val_loss, train_acc=r.train_acc,
                                     val_acc=r.val_acc)
                trainer.grad_events(r.grads)
                drawn = time.perf_counter()
                boundaries[name].after_epoch(number)
                if number > 2:
                    spent[name] += time.perf_counter() - began
                    in_boundary += (time.perf_counter() - drawn) if name == "on" else 0.0
        began = time.perf_counter()
        trainers["on"].grad_events(trainers["on"].take_grads())
        drawn = time.perf_counter()
        boundaries["on"].finish(number)
        in_boundary += time.perf_counter() - drawn
        spent["on"] += time.perf_counter() - began
    loop.GRAD_EVENTS_EVERY_S, boundary.BOUNDARY_EVERY_S = lone_every_s, lone_boundary_s
    return (spent["on"] / spent["off"] - 1, spent["control"] / spent["off"] - 1,
            in_boundary / spent["off"])


def syncs_per_epoch(config: dict[str, Any], epochs: int = 20) -> tuple[float, float | None]:
    """Host-device synchronisations per epoch of the monitored trainer, after a warm-up
    epoch: the syncing calls a TorchFunctionMode sees (any device), and on CUDA also what
    torch.cuda.set_sync_debug_mode reports (each synchronising CUDA call warns once)."""
    trainer = loop.Trainer(loop.prepare({**config, "train": {**config["train"],
                                                              "grad_stats": True}}),
                           Silent(), StopRequest())
    trainer.epoch(1)
    with CountSyncs() as syncs:
        for number in range(2, epochs + 2):
            trainer.epoch(number)
    counted = sum(syncs.calls.values()) / epochs
    if trainer.session.device.type != "cuda":
        return counted, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            for number in range(epochs + 2, 2 * epochs + 2):
                trainer.epoch(number)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    # the first warning says the mode is a prototype; each other one is a sync
    return counted, sum(str(w.message).startswith("called a synchronizing CUDA operation")
                        for w in caught) / epochs


def epochs_for(config: dict[str, Any], epochs: int, seconds: float) -> int:
    """At least `epochs`, and enough that one measurement lasts about `seconds`: a preset's
    epoch can be 5 ms, and three of them cannot resolve a 3% difference."""
    rate = plain_loop(config, 2)
    return max(epochs, min(5000, math.ceil(seconds * rate)))


def measure(config: dict[str, Any], epochs: int, repeats: int,
            lightning: bool = False) -> dict[str, float]:
    """Median epochs/s of each variant, and the medians of the per-repeat ratios. A ratio
    of two runs made seconds apart cancels the slow drifts of a shared machine that the
    ratio of two medians keeps; the order of the variants rotates, so none always goes
    first."""
    runs: dict[str, Callable[[], float | None]] = {
        "plain": lambda: plain_loop(config, epochs),
        "off": lambda: this_trainer(config, epochs, grad_stats=False),
        "on": lambda: this_trainer(config, epochs, grad_stats=True)}
    if lightning:
        runs["lightning"] = lambda: lightning_loop(config, epochs)
    if lightning and config["train"]["device"].startswith("cuda"):  # the graph's share
        eager = {**config, "train": {**config["train"], "cuda_graphs": False}}
        runs["no graph"] = lambda: this_trainer(eager, epochs, grad_stats=True)
    samples: dict[str, list[float]] = {name: [] for name in runs}
    speedups, overheads = [], []
    names = list(runs)
    for k in range(repeats):
        rates = {name: runs[name]() for name in names[k % len(names):] + names[:k % len(names)]}
        for name, rate in rates.items():
            if rate is not None:
                samples[name].append(rate)
        speedups.append(rates["on"] / rates["plain"])
        overheads.append(rates["off"] / rates["on"])
    result = {k: statistics.median(v) for k, v in samples.items() if v}
    result["speedup"], result["overhead"] = (statistics.median(speedups),
                                             statistics.median(overheads))
    return result


def report(label: str, r: dict[str, float], overhead: float, noise: float,
           boundary_share: float) -> None:
    print(f"{label:<28} {r['plain']:>8.2f} {r['off']:>8.2f} {r['on']:>8.2f} "
          f"{r['speedup']:>8.2f}x {100 * overhead:>+8.1f}% {100 * noise:>+7.1f}% "
          f"{100 * boundary_share:>8.2f}%", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs per measurement, at least (3)")
    parser.add_argument("--seconds", type=float, default=0.6,
                        help="make each measurement last about this long (0.6)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (5)")
    parser.add_argument("--overhead-seconds", type=float, default=3.0,
                        help="training time of each variant in the overhead measurement (3)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (cpu)")
    parser.add_argument("--presets", action="store_true", help="also every built-in preset")
    parser.add_argument("--only", default="", help="these presets alone, comma-separated "
                        "(no small-model case, no Lightning)")
    args = parser.parse_args()
    device = [f"train.device={args.device}"]
    cases = [("small model 20k x [16,16,16]", load("name: bench", "bench", SMALL_MODEL + device))]
    if args.presets:
        cases += [(p.name, load_preset(p.name, device)) for p in list_presets()
                  if p.source == "built-in"]
    if args.only:
        cases = [(name, load_preset(name, device)) for name in args.only.split(",")]
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, "
          f"about {args.seconds:g} s a measurement x {args.repeats} repeats, interleaved; "
          f"medians of epochs/s and of the per-repeat ratios")
    print(f"{'case':<28} {'plain':>8} {'mon. off':>8} {'mon. on':>8} {'on/plain':>9} "
          f"{'overhead':>9} {'control':>8} {'boundary':>9}")
    worst_speedup, worst_overhead, worst_noise, worst_boundary = float("inf"), -1.0, 0.0, 0.0
    for i, (label, config) in enumerate(cases):
        epochs = epochs_for(config, args.epochs, args.seconds)
        peer = i == 0 and not args.only  # Lightning on the small-model case
        result = measure(config, epochs, args.repeats, lightning=peer)
        overhead, noise, boundary_share = interleaved_overhead(config, args.overhead_seconds)
        report(label, result, overhead, noise, boundary_share)
        worst_boundary = max(worst_boundary, boundary_share)
        worst_speedup = min(worst_speedup, result["speedup"])
        worst_overhead, worst_noise = max(worst_overhead, overhead), max(worst_noise, abs(noise))
        if peer:
            lightning = result.get("lightning")
            peer_line = ("PyTorch Lightning is not installed (pip install pytorch-lightning); "
                         "skipped" if lightning is None else
                         f"PyTorch Lightning Trainer + EarlyStopping {lightning:.2f} epochs/s: "
                         f"this trainer is {result['on'] / lightning:.2f}x as fast (budget >= 2x)")
            print(f"  {peer_line}", flush=True)
            if "no graph" in result:
                print(f"  monitored, full batches replayed from a CUDA graph {result['on']:.2f} "
                      f"epochs/s; with train.cuda_graphs=false {result['no graph']:.2f}: "
                      f"{result['on'] / result['no graph']:.2f}x", flush=True)
    counted, cuda = syncs_per_epoch(cases[0][1])
    print(f"host-device syncs per epoch, {cases[0][0]}, monitored: {counted:.2f} syncing "
          f"calls (one read of the epoch's results)" + ("" if cuda is None else
          f"; {cuda:.2f} synchronising CUDA calls (torch.cuda.set_sync_debug_mode)"))
    print(f"budgets: on/plain >= 1.00 (worst {worst_speedup:.2f}); monitoring overhead <= 3% "
          f"(worst {100 * worst_overhead:+.1f}%; the control's largest difference, the "
          f"measurement's noise, {100 * worst_noise:.1f}%), of which the decision boundary "
          f"(2-D data) at most {100 * worst_boundary:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
