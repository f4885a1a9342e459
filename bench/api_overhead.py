"""What `dmt_tui.Run` costs a user's own training loop: the course's plain loop on the
small-model case, with and without `run.watch(model)` + `run.epoch(...)`.

    python bench/api_overhead.py                  # 20,000 points, hidden [16,16,16], batch 32
    python bench/api_overhead.py --device cuda    # where a GPU is

The difference is a few percent, below what whole runs a second apart resolve on a shared
machine, so it is measured as bench/throughput.py measures the trainer's: three copies of
the loop in one process, watched by a Run, plain, and plain again, take turns an epoch at a
time in rotating order; the third is the control, whose difference from the second is the
measurement's own noise. Every epoch of the watched loop writes its `epoch` and `grad`
events as a script's would. (The Run's optimizer hook is global: the plain loops' steps
call it too, and it returns after one dictionary look-up, about 0.3 us of a 0.5 ms step.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dmt_tui  # noqa: E402
from dmt_tui.presets.schema import load  # noqa: E402
from dmt_tui.trainer import loop  # noqa: E402
from dmt_tui.trainer.optim import OPTIMIZERS  # noqa: E402
from dmt_tui.trainer.speed.syncs import CountSyncs  # noqa: E402

SMALL_MODEL = ["name=bench-small", "data.dataset=spiral", "data.n_samples=25000",
               "data.val_fraction=0.2", "model.hidden=[16,16,16]", "model.activation=relu",
               "optimizer.name=adam", "optimizer.lr=1e-3", "train.batch_size=32",
               "early_stopping.patience=0"]
BUDGET = 0.03  # the same <= 3% as the built-in trainer's monitoring


def plain_epoch(config: dict[str, Any]) -> tuple[Callable[[], tuple[float, float]],
                                                  torch.nn.Module]:
    """One epoch of the course's loop as a function (DataLoader over TensorDataset,
    loss.item() every batch, torch.optim's default Adam); returns it and its model."""
    session = loop.prepare(config)
    model = session.model
    optimizer = OPTIMIZERS[config["optimizer"]["name"]](model.parameters(), config["optimizer"])
    loss_fn = torch.nn.CrossEntropyLoss()
    train = DataLoader(TensorDataset(session.x_train, session.y_train),
                       batch_size=config["train"]["batch_size"], shuffle=True)
    val = DataLoader(TensorDataset(session.x_val, session.y_val), batch_size=1024)

    def epoch() -> tuple[float, float]:
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
        return total / len(session.x_train), val_total / len(session.x_val)

    return epoch, model


def interleaved(config: dict[str, Any], seconds: float, epochs: int,
                runs_dir: Path) -> dict[str, float]:
    """watched/plain - 1 and control/plain - 1 in wall-clock and in CPU time (the process's,
    the heartbeat thread's included: on a busy machine the wall clock also counts waiting for
    a core), and the syncing calls the Run adds per epoch."""
    loops = {name: plain_epoch(config) for name in ("watched", "plain", "control")}
    run = dmt_tui.Run("api-bench", config={"train": {"epochs": 10**6}}, runs_dir=runs_dir)
    run.begin(handle_sigterm=False)
    run.watch(loops["watched"][1])

    def watched() -> None:
        train_loss, val_loss = loops["watched"][0]()
        run.epoch(train_loss=train_loss, val_loss=val_loss)

    steps: dict[str, Callable[[], Any]] = {"watched": watched, "plain": loops["plain"][0],
                                           "control": loops["control"][0]}
    spent = dict.fromkeys(steps, 0.0)
    cpu = dict.fromkeys(steps, 0.0)
    names, number = list(steps), 0
    while min(spent.values()) < seconds or number < epochs + 2:
        number += 1
        for name in names[number % 3:] + names[:number % 3]:
            began, began_cpu = time.perf_counter(), time.process_time()
            steps[name]()
            if number > 2:  # two warm-up epochs
                spent[name] += time.perf_counter() - began
                cpu[name] += time.process_time() - began_cpu
    syncs = {}
    for name in ("watched", "plain"):
        with CountSyncs() as counted:
            for _ in range(3):
                steps[name]()
        syncs[name] = sum(counted.calls.values()) / 3
    run.end()
    return {"wall": spent["watched"] / spent["plain"] - 1,
            "wall control": spent["control"] / spent["plain"] - 1,
            "cpu": cpu["watched"] / cpu["plain"] - 1,
            "cpu control": cpu["control"] / cpu["plain"] - 1,
            "syncs": syncs["watched"] - syncs["plain"], "epochs": number - 2,
            "epoch_s": spent["plain"] / (number - 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="training time of each variant, at least (15)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of each, at least (20)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements (3)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (cpu)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads (1: steadier on a shared machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load("name: bench", "bench", [*SMALL_MODEL, f"train.device={args.device}",
                                           f"train.threads={args.threads}"])
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}; "
          f"small model 20k x [16,16,16], batch 32, Adam; the course's loop with and without "
          f"run.watch + run.epoch, an epoch at a time, >= {args.seconds:g} s each", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            r = interleaved(config, args.seconds, args.epochs, Path(tmp))
            results.append(r)
            print(f"  measurement {k + 1} ({r['epochs']:.0f} epochs of {r['epoch_s']:.2f} s "
                  f"each): wall clock {100 * r['wall']:+.1f}% "
                  f"(control {100 * r['wall control']:+.1f}%)"
                  f"  CPU time {100 * r['cpu']:+.1f}% (control {100 * r['cpu control']:+.1f}%)"
                  f"  syncing calls the Run adds per epoch {r['syncs']:.2f}", flush=True)
    for clock in ("cpu", "wall"):
        values = [r[clock] for r in results]
        noise = max(abs(r[f"{clock} control"]) for r in results)
        print(f"dmt_tui.Run watch + epoch overhead, {clock}: median "
              f"{100 * statistics.median(values):+.1f}% (worst {100 * max(values):+.1f}%); "
              f"budget <= {100 * BUDGET:.0f}%; the control's largest difference, the "
              f"measurement's noise, {100 * noise:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
