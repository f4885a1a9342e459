"""Synthetic runs for the app benchmarks: run folders as the trainer writes them, without
the cost of training.

    python bench/synthetic_runs.py live RUNS_DIR [--runs 8] [--rate 20] [--seconds 30]

Every file goes through the trainer's own writers (`rundir.EventLog`, `rundir.write_status`),
so the events hold exactly the contract's fields; only the numbers are made up. Each run gets
its own learning rate and final losses, so a benchmark can tell from the screen which run the
panels show (the runs list shows neither).

`live` is a separate process on purpose: a trainer is one, and a writer thread inside the
app's process would take the app's GIL and count against the app's own lag.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dmt_tui import rundir  # noqa: E402 - torch-free; after the path, to run from a checkout
from dmt_tui.app.format import number  # noqa: E402

RECORDED_CONFIG = ROOT / "tests" / "data" / "recorded" / "20261126-154811-deep-sigmoid-vanishing"
HIDDEN = [32, 32, 32]  # the built-in presets' usual size: four layers in `grad` events
BINS = 24  # the trainer's default `train.hist_bins`
STEPS = 50  # steps per epoch: the histogram counts add up to this
N_TRAIN, N_VAL = 1600, 400


def learning_rate(index: int) -> float:
    """Run `index`'s learning rate, shown as `lr 0.01001`, `lr 0.01011`, ... in the Run panel:
    all the same length, so no run's marker is the start of another's."""
    return float(f"0.01{index:02d}1")


def final_val_loss(index: int) -> float:
    """Where run `index`'s val loss ends: the loss panel's subtitle names it."""
    return round(0.2 + index * 0.001, 6)


def run_markers(index: int) -> tuple[bytes, bytes]:
    """Text on screen only while run `index` is the selected one: its lr in the Run panel
    and its last val loss in the Loss panel's subtitle."""
    return (f"lr {learning_rate(index):g}".encode(),
            f"val {number(final_val_loss(index))} acc".encode())


def run_name(index: int) -> str:
    return f"bench-{index:02d}"


def write_config(run_dir: Path, index: int, epochs: int) -> dict[str, Any]:
    """A resolved config (the recorded run's, with this run's name, size and lr)."""
    config = yaml.safe_load((RECORDED_CONFIG / rundir.CONFIG).read_text("utf-8"))
    config["name"] = run_name(index)
    config["description"] = "synthetic run for the app benchmarks"
    config["model"]["hidden"] = list(HIDDEN)
    config["model"]["activation"] = "relu"
    config["optimizer"].update(name="adam", lr=learning_rate(index))
    config["train"].update(epochs=epochs, batch_size=32, hist_bins=BINS)
    config["early_stopping"]["patience"] = 0  # runs every epoch, as long runs do
    (run_dir / rundir.CONFIG).write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
    return config


def layer_names(index: int) -> list[str]:
    """Run `index`'s layers, named for the run (`b07fc1`) so the Gradient norms panel shows
    which run it draws: real layer names repeat from run to run."""
    return [f"b{index:02d}fc{i + 1}" for i in range(len(HIDDEN))] + [f"b{index:02d}out"]


def grad_marker(index: int) -> bytes:
    """The Gradient norms panel's note while it shows run `index` (its first layer)."""
    return f"layer {layer_names(index)[0]} (".encode()


def histogram(name: str, centre: float, rng: random.Random) -> dict[str, Any]:
    """One layer's stats: STEPS norms spread over BINS log-spaced bins around `centre`."""
    low, high = centre / 3, centre * 3
    ratio = (high / low) ** (1 / BINS)
    edges = [float(f"{low * ratio ** i:.6g}") for i in range(BINS + 1)]
    counts = [0] * BINS
    for _ in range(STEPS):
        counts[min(BINS - 1, max(0, int(rng.gauss(BINS / 2, BINS / 6))))] += 1
    return {"name": name, "mean": centre, "min": low, "max": high, "counts": counts,
            "edges": edges, "zeros": 0, "nonfinite": 0}


def grad_fields(index: int, epoch: int, rng: random.Random) -> dict[str, Any]:
    """A `grad` event's fields: norms that shrink toward the input and over the epochs."""
    scale = 1.0 / math.sqrt(epoch)
    layers = [histogram(name, scale * 10 ** (depth - len(HIDDEN)), rng)
              for depth, name in enumerate(layer_names(index))]
    return {"epoch": epoch, "layers": layers, "total": histogram("total", scale * 1.5, rng)}


def epoch_fields(index: int, epoch: int, epochs: int, rng: random.Random) -> dict[str, Any]:
    """An `epoch` event's fields: losses that fall to this run's final val loss."""
    val = final_val_loss(index) + 0.5 * math.exp(-5 * epoch / epochs)
    if epoch == epochs:
        val = final_val_loss(index)
    train = val * 0.9 + rng.uniform(0, 0.01)
    return {"epoch": epoch, "train_loss": train, "val_loss": val,
            "train_acc": 1 - train / 2, "val_acc": 1 - val / 2, "lr": learning_rate(index),
            "seconds": 0.05, "es_wait": 0, "es_patience": 0, "es_best": val,
            "es_best_epoch": epoch}


class SyntheticRun:
    """One run folder being written: `start` on creation, then `epoch()` per epoch."""

    def __init__(self, runs_dir: Path, index: int, epochs: int) -> None:
        self.index, self.epochs = index, epochs
        self.run_dir = runs_dir / f"20260101-{index:06d}-{run_name(index)}"
        self.run_dir.mkdir(parents=True)
        write_config(self.run_dir, index, epochs)
        self.rng = random.Random(index)
        self.log = rundir.EventLog(self.run_dir)
        self.started = time.time()
        self.epoch_done = 0
        self.status("running")
        self.log.write("start", run_id=self.run_dir.name, preset=run_name(self.index),
                       device="cpu", torch_version="2.13.0+cpu", n_params=2466,
                       n_train=N_TRAIN, n_val=N_VAL, steps_per_epoch=STEPS,
                       layers=layer_names(self.index), pid=os.getpid(), task="classification",
                       n_classes=2, features=["x1", "x2"], classes=[], threads=1,
                       dtype="float32")

    def status(self, state: str, **fields: Any) -> None:
        rundir.write_status(self.run_dir, state=state, pid=os.getpid(),
                            run_id=self.run_dir.name, preset=run_name(self.index),
                            epochs=self.epochs, epoch=self.epoch_done, started=self.started,
                            device="cpu", **fields)

    def epoch(self, progress: bool = True) -> None:
        """Write one epoch's events: progress (optional), epoch, grad."""
        self.epoch_done += 1
        n = self.epoch_done
        if progress:
            self.log.write("progress", epoch=n, step=STEPS, steps=STEPS, samples_per_s=32000.0)
        self.log.write("epoch", **epoch_fields(self.index, n, self.epochs, self.rng))
        self.log.write("grad", **grad_fields(self.index, n, self.rng))

    def finish(self) -> None:
        reason = f"completed all {self.epochs} epochs"
        best = final_val_loss(self.index)
        self.log.write("end", state="finished", reason=reason, epochs=self.epochs,
                       best_epoch=self.epochs, best_val_loss=best)
        self.log.close()
        self.status("finished", best_epoch=self.epochs, best_val_loss=best, reason=reason)


def write_finished_runs(runs_dir: Path, count: int, epochs: int) -> list[Path]:
    """`count` finished runs of `epochs` epochs each; the last index is the newest run."""
    made = []
    for index in range(count):
        run = SyntheticRun(runs_dir, index, epochs)
        for _ in range(epochs):
            run.epoch(progress=False)
        run.finish()
        made.append(run.run_dir)
    return made


def write_live(runs_dir: Path, count: int, rate: float, seconds: float) -> None:
    """`count` runs, each writing `rate` epochs a second (progress every 4th epoch, a
    heartbeat every second) for `seconds`, then `end`."""
    runs = [SyntheticRun(runs_dir, index, epochs=100_000) for index in range(count)]
    began = time.monotonic()
    tick, beat = 0, began
    while time.monotonic() - began < seconds:
        tick += 1
        for run in runs:
            run.epoch(progress=tick % 4 == 0)
        if time.monotonic() - beat >= 1.0:
            beat = time.monotonic()
            for run in runs:
                run.status("running")
        # Keep to the schedule rather than sleep a fixed interval: writing takes time too.
        time.sleep(max(0.0, began + tick / rate - time.monotonic()))
    for run in runs:
        run.finish()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    live = commands.add_parser("live", help="write live runs until --seconds pass")
    live.add_argument("runs_dir", type=Path)
    live.add_argument("--runs", type=int, default=8, help="live runs (default 8)")
    live.add_argument("--rate", type=float, default=20.0, help="epochs a second (default 20)")
    live.add_argument("--seconds", type=float, default=30.0, help="how long (default 30)")
    args = parser.parse_args()
    write_live(args.runs_dir, args.runs, args.rate, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
