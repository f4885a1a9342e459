"""`dmt-tui sweep` with real scheduler and trainer processes on the CPU: a grid ends with one
run per trial holding its overrides; a stop, a killed scheduler and a resume."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from dmt_tui import rundir
from dmt_tui.rundir import events
from dmt_tui.rundir import manifest as manifests
from tests.conftest import run_cli, wait_until

pytestmark = pytest.mark.slow  # real scheduler and trainer processes

SHORT = """\
name: tiny
data: {dataset: xor, n_samples: 400, noise: 0.05, val_fraction: 0.2}
model: {kind: mlp, hidden: [8, 8], activation: tanh}
optimizer: {name: adam, lr: 0.01}
train: {epochs: 3, batch_size: 32, seed: 0, device: cpu}
early_stopping: {patience: 50}
"""


def _preset(tmp_path: Path, epochs: int, batch_size: int = 32, n_samples: int = 400) -> Path:
    """SHORT with these settings; early stopping off, so a long run lasts until stopped."""
    path = tmp_path / "tiny.yaml"
    path.write_text(SHORT.replace("epochs: 3", f"epochs: {epochs}")
                    .replace("patience: 50", "patience: 0")
                    .replace("batch_size: 32", f"batch_size: {batch_size}")
                    .replace("n_samples: 400", f"n_samples: {n_samples}"), encoding="utf-8")
    return path


def _only_manifest(runs_dir: Path) -> dict[str, Any]:
    found = manifests.list_experiments(runs_dir)
    assert len(found) == 1
    return found[0]


def _events(run_dir: Path) -> list[dict[str, Any]]:
    return rundir.read_events(run_dir)[0]


def test_a_grid_of_two_by_two_with_two_seeds(tmp_path: Path) -> None:
    runs_dir, out = tmp_path / "runs", tmp_path / "exports"
    done = run_cli("sweep", str(_preset(tmp_path, 3)), "--grid", "optimizer.lr=0.1,0.01",
                   "--grid", "model.hidden=[4],[8,8]", "--seeds", "2", "--parallel", "2",
                   "--runs-dir", str(runs_dir), timeout=600)
    assert done.returncode == 0, done.stderr + done.stdout
    manifest = _only_manifest(runs_dir)
    assert manifest["state"] == "ended" and manifest["parallel"] == 2
    assert [t["state"] for t in manifest["trials"]] == ["finished"] * 8
    run_ids = [t["run_id"] for t in manifest["trials"]]
    assert sorted(run_ids) == sorted(d.name for d in rundir.iter_run_dirs(runs_dir))
    seen = set()
    for trial in manifest["trials"]:
        run_dir = runs_dir / trial["run_id"]
        config = yaml.safe_load((run_dir / rundir.CONFIG).read_text())
        lr, hidden, seed = config["optimizer"]["lr"], config["model"]["hidden"], \
            config["train"]["seed"]
        seen.add((lr, tuple(hidden), seed))
        assert config["experiment"] == {"id": manifest["id"], "trial": trial["index"],
                                        "group": {"optimizer.lr": lr, "model.hidden": hidden}}
        start = next(e for e in _events(run_dir) if e["type"] == "start")
        assert set(start) == {"type", "time", *events.fields_of(events.StartEvent),
                              *events.fields_of(events.TrialFields)}
        assert (start["experiment"], start["group"], start["seed"]) == \
            (manifest["id"], {"optimizer.lr": lr, "model.hidden": hidden}, seed)
        # the run id carries the varied values and the seed
        hidden_id = "x".join(map(str, hidden))
        assert re.fullmatch(rf"\d{{8}}-\d{{6}}-tiny\.lr-{lr:g}\.hidden-{hidden_id}\.s{seed}",
                            trial["run_id"]), trial["run_id"]
    assert seen == {(lr, h, s) for lr in (0.1, 0.01) for h in ((4,), (8, 8)) for s in (0, 1)}
    # one line per trial as it ended, then the table: one row per configuration
    assert len(re.findall(r"^\[\d/8\] finished", done.stdout, re.M)) == 8
    table = done.stdout[done.stdout.index("OPTIMIZER.LR"):].splitlines()
    assert len(table) == 5 and all(" 2/2 " in row for row in table[1:])
    assert all("±" in row for row in table[1:])
    # `dmt-tui runs` shows the 8 runs and nothing for the experiments folder
    listed = run_cli("runs", "--json", "--runs-dir", str(runs_dir))
    assert len(listed.stdout.splitlines()) == 8
    row = json.loads(run_cli("experiments", "--json", "--runs-dir", str(runs_dir)).stdout)
    assert (row["state"], row["ended"], row["queued"], row["running"]) == ("ended", 8, 0, 0)
    assert row["best"] is not None
    exported = run_cli("export", "--experiment", manifest["id"][:12], "--format",
                       "csv,parquet", "-o", str(out), "--runs-dir", str(runs_dir))
    assert exported.returncode == 0, exported.stderr
    metrics = pd.read_csv(out / manifest["id"] / "metrics.csv")
    assert metrics["run_id"].nunique() == 8 and len(metrics) == 8 * 3
    assert {"experiment", "group", "seed", "optimizer.lr", "model.hidden", "epoch",
            "val_loss"} <= set(metrics.columns)
    assert set(metrics["model.hidden"]) == {"4", "8x8"}
    assert set(metrics["optimizer.lr"]) == {0.1, 0.01}
    summary = pd.read_parquet(out / manifest["id"] / "summary.parquet")
    assert len(summary) == 4 and list(summary["runs"]) == [2, 2, 2, 2]
    means = metrics.groupby("group")["val_loss"].min()
    assert set(means.index) == set(summary["group"])
    assert summary["best_val_loss_mean"].is_monotonic_increasing


def test_a_bad_grid_value_is_refused_before_anything_starts(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    preset = str(_preset(tmp_path, 3))
    bad = run_cli("sweep", preset, "--grid", "optimizer.lr=0.1,fast", "--runs-dir",
                  str(runs_dir))
    assert bad.returncode == 2
    assert bad.stderr.startswith("dmt-tui: error: --grid optimizer.lr=0.1,fast: the value "
                                 "fast: optimizer.lr: expected a finite number > 0")
    assert "Traceback" not in bad.stderr
    unknown = run_cli("sweep", preset, "--grid", "model.activaton=relu,tanh", "--runs-dir",
                      str(runs_dir))
    assert unknown.returncode == 2 and "did you mean 'activation'" in unknown.stderr
    too_many = run_cli("sweep", preset, "--grid", "optimizer.lr=" + ",".join(
        f"0.{n:03d}" for n in range(1, 102)), "--seeds", "2", "--runs-dir", str(runs_dir))
    assert too_many.returncode == 2 and "202 trials" in too_many.stderr \
        and "--yes" in too_many.stderr
    together = run_cli("sweep", preset, "--variant", "optimizer.name=adam optimizer.nesterov=true",
                       "--variant", "optimizer.name=sgd", "--runs-dir", str(runs_dir))
    assert together.returncode == 2 and "optimizer.nesterov" in together.stderr
    assert not runs_dir.exists()


def _running(runs_dir: Path, count: int) -> bool:
    manifest = _only_manifest(runs_dir)
    live = [t for t in manifest["trials"] if t.get("run_id")
            and rundir.read_status(runs_dir / t["run_id"]).get("epoch", 0) >= 1]
    return len(live) >= count


def _detached(tmp_path: Path, runs_dir: Path, epochs: int) -> dict[str, Any]:
    started = run_cli("sweep", str(_preset(tmp_path, epochs, batch_size=8, n_samples=1000)),
                      "--grid", "optimizer.lr=0.01,0.02,0.03,0.04", "--parallel", "2",
                      "--detach", "--runs-dir", str(runs_dir))
    assert started.returncode == 0, started.stderr
    manifest = _only_manifest(runs_dir)
    assert manifest["id"] in started.stdout
    wait_until(lambda: _running(runs_dir, 2), 300, "two trials training")
    return _only_manifest(runs_dir)


def test_sigterm_to_the_scheduler_stops_running_trials_and_cancels_the_queued(
        tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    manifest = _detached(tmp_path, runs_dir, epochs=100_000)
    pid = manifest["scheduler"]["pid"]
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not rundir.pid_alive(pid), 120, "the scheduler to end")
    manifest = _only_manifest(runs_dir)
    states = [t["state"] for t in manifest["trials"]]
    assert sorted(states) == ["cancelled", "cancelled", "stopped", "stopped"]
    for trial in manifest["trials"]:
        if trial["state"] == "stopped":
            end = _events(runs_dir / trial["run_id"])[-1]
            assert end["type"] == "end" and end["state"] == "stopped"
        else:
            assert trial["run_id"] is None
    assert len(list(rundir.iter_run_dirs(runs_dir))) == 2
    row = json.loads(run_cli("experiments", "--json", "--runs-dir", str(runs_dir)).stdout)
    assert (row["state"], row["ended"], row["queued"]) == ("stopped", 4, 0)


def test_a_killed_scheduler_leaves_trials_training_and_resume_starts_the_rest(
        tmp_path: Path) -> None:
    """Two trials train when the scheduler is killed; one may have ended and a third begun
    in between (the test never assumes a trial is still going): whichever started keep
    going, and --resume starts exactly the ones that never did."""
    runs_dir = tmp_path / "runs"
    manifest = _detached(tmp_path, runs_dir, epochs=60)
    os.kill(manifest["scheduler"]["pid"], signal.SIGKILL)
    wait_until(lambda: not rundir.pid_alive(manifest["scheduler"]["pid"]), 60, "the kill")
    first = [t["run_id"] for t in _only_manifest(runs_dir)["trials"] if t.get("run_id")]
    never = 4 - len(first)
    assert len(first) >= 2
    row = json.loads(run_cli("experiments", "--json", "--runs-dir", str(runs_dir)).stdout)
    assert row["queued"] == never
    if never:
        assert row["state"] == "interrupted"
        resumed = run_cli("sweep", "--resume", manifest["id"], "--runs-dir", str(runs_dir),
                          timeout=600)
        assert resumed.returncode == 0, resumed.stderr + resumed.stdout
        assert f"{never} trial(s) never started" in resumed.stdout
    for run_id in first:  # the orphans kept going to their end
        wait_until(lambda r=run_id: bool(_events(runs_dir / r))
                   and _events(runs_dir / r)[-1]["type"] == "end", 300, f"{run_id}'s end")
        end = _events(runs_dir / run_id)[-1]
        assert (end["type"], end["state"], end["epochs"]) == ("end", "finished", 60)
    manifest = _only_manifest(runs_dir)
    assert [t["run_id"] for t in manifest["trials"]][:len(first)] == first
    assert len(list(rundir.iter_run_dirs(runs_dir))) == 4
    assert all(rundir.read_status(runs_dir / t["run_id"])["state"] == "finished"
               for t in manifest["trials"])


def test_ctrl_c_to_a_foreground_sweep_stops_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    runs_dir = tmp_path / "runs"
    sweep = subprocess.Popen(
        [sys.executable, "-m", "dmt_tui.cli", "sweep",
         str(_preset(tmp_path, 100_000, batch_size=8, n_samples=1000)),
         "--grid", "optimizer.lr=0.01,0.02,0.03", "--parallel", "2", "--runs-dir",
         str(runs_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: runs_dir.joinpath("experiments").is_dir()
                   and bool(manifests.list_experiments(runs_dir))
                   and _running(runs_dir, 2), 300, "two trials training")
        sweep.send_signal(signal.SIGINT)  # what Ctrl-C in its terminal sends
        out, err = sweep.communicate(timeout=180)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 4, out + err
    assert "stopping" in out and "[3/3]" in out
    manifest = _only_manifest(runs_dir)
    assert sorted(t["state"] for t in manifest["trials"]) == ["cancelled", "stopped", "stopped"]
    assert manifest["state"] == "stopped"
