"""A crafted experiment with fixed content, without a scheduler: a manifest and finished
trial run folders copied from the committed recorded run, beside a lone run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from dmt_tui.rundir import manifest as manifests
from tests.tui.conftest import DATA_RUNS, RECORDED_RUN

EXPERIMENT = "20261126-170000-lr-sweep"
# (trial index, run id, lr, seed, factor on the recorded losses); one more trial is queued
TRIALS = [(0, "20261126-170001-lr-sweep-lr-0.1.s0", 0.1, 0, 1.0),
          (1, "20261126-170002-lr-sweep-lr-0.1.s1", 0.1, 1, 0.9),
          (2, "20261126-170003-lr-sweep-lr-0.05.s0", 0.05, 0, 0.5)]
QUEUED_LABEL = "optimizer.lr=0.05 seed 1"


def make_trial(folder: Path, run_id: str, trial: int, lr: float, seed: int,
               factor: float) -> None:
    """A finished trial: the recorded run with its losses times `factor`, and the
    `experiment` section the scheduler writes into config.yaml."""
    run_dir = folder / run_id
    shutil.copytree(DATA_RUNS / RECORDED_RUN, run_dir)
    config = (run_dir / "config.yaml").read_text("utf-8")
    for old, new in [("lr: 0.1\n", f"lr: {lr}\n"), ("seed: 0,", f"seed: {seed},")]:
        assert old in config
        config = config.replace(old, new)
    config += (f"experiment: {{id: {EXPERIMENT}, group: {{optimizer.lr: {lr}}}, "
               f"trial: {trial}}}\n")
    (run_dir / "config.yaml").write_text(config, "utf-8")
    lines = []
    for line in (run_dir / "events.jsonl").read_text("utf-8").splitlines():
        event = json.loads(line)
        if event["type"] == "start":
            event.update(run_id=run_id, experiment=EXPERIMENT, group={"optimizer.lr": lr},
                         seed=seed)
        elif event["type"] == "epoch":
            for key in ("train_loss", "val_loss", "es_best"):
                if event.get(key) is not None:
                    event[key] *= factor
        elif event["type"] == "end":
            event["best_val_loss"] *= factor
        lines.append(json.dumps(event))
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    status = json.loads((run_dir / "status.json").read_text("utf-8"))
    status.update(run_id=run_id, best_val_loss=status["best_val_loss"] * factor)
    (run_dir / "status.json").write_text(json.dumps(status), "utf-8")


def make_experiment(folder: Path) -> None:
    """Three finished trials of a 2 lr x 2 seeds experiment (one still queued), its
    manifest, and the recorded run, which belongs to no experiment."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(DATA_RUNS / RECORDED_RUN, folder / RECORDED_RUN)
    for index, run_id, lr, seed, factor in TRIALS:
        make_trial(folder, run_id, index, lr, seed, factor)
    trials = [{"index": index, "group": {"optimizer.lr": lr}, "label": f"optimizer.lr={lr}",
               "seed": seed, "overrides": [f"optimizer.lr={lr}"], "folder_name": run_id,
               "run_id": run_id, "state": "finished"}
              for index, run_id, lr, seed, _ in TRIALS]
    trials.append({"index": 3, "group": {"optimizer.lr": 0.05}, "label": "optimizer.lr=0.05",
                   "seed": 1, "overrides": ["optimizer.lr=0.05"],
                   "folder_name": "lr-sweep-lr-0.05.s1", "run_id": None,
                   "state": manifests.QUEUED})
    manifests.folder(folder).mkdir()
    manifests.write(folder, {
        "version": 1, "id": EXPERIMENT, "name": "lr-sweep", "preset": "deep-sigmoid-vanishing",
        "description": "", "base": {}, "grid": {"optimizer.lr": [0.1, 0.05]},
        "variants": [], "seeds": [0, 1], "varied": ["optimizer.lr"], "parallel": 1,
        "created": 1795708800.0, "state": "interrupted",
        "scheduler": {"pid": None, "host": "elsewhere", "heartbeat": None},
        "trials": trials})
