"""`dmt-tui train --resume RUN_ID`: a run stopped at epoch 10 and resumed to 20 trains exactly
as one uninterrupted 20-epoch run; bad requests are refused with one message, nothing written."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from dmt_tui import rundir
from dmt_tui.rundir import events
from dmt_tui.rundir.record import RunRecord
from dmt_tui.trainer import cli
from dmt_tui.trainer.checkpoint import load_last

BASE = ["data.n_samples=400", "train.device=cpu", "early_stopping.patience=4"]
VARYING = {"type", "time", "seconds", "threads", "pid"}  # differ between any two runs


def train(runs_dir: Path, *args: str) -> int:
    return cli.main(["train", *args, "--runs-dir", str(runs_dir), "--quiet"])


def sets(*items: str) -> list[str]:
    return [a for item in items for a in ("--set", item)]


def recorded(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    """A run's events of one kind, without the fields that differ between any two runs."""
    events, _ = rundir.read_events(run_dir)
    return [{k: v for k, v in e.items() if k not in VARYING} for e in events
            if e["type"] == kind]


@pytest.mark.timeout(900)  # 40 epochs in three runs: minutes on a loaded shared machine
def test_a_run_resumed_at_epoch_10_trains_as_one_uninterrupted_run(tmp_path: Path) -> None:
    assert train(tmp_path / "whole", "xor-adam", *sets(*BASE, "train.epochs=20")) == 0
    (whole,) = rundir.iter_run_dirs(tmp_path / "whole")
    assert train(tmp_path / "split", "xor-adam", *sets(*BASE, "train.epochs=10")) == 0
    (split,) = rundir.iter_run_dirs(tmp_path / "split")
    assert load_last(split / rundir.LAST)["epoch"] == 10  # weights_only=True inside
    assert train(tmp_path / "split", "--resume", split.name, *sets("train.epochs=20")) == 0

    assert recorded(split, "epoch") == recorded(whole, "epoch")  # losses, accuracies, lr, ES
    assert recorded(split, "grad") == recorded(whole, "grad")  # every step's gradient norms
    (seam,) = [e for e in rundir.read_events(split)[0] if e["type"] == "resume"]
    assert set(seam) == {"type", "time", *events.fields_of(events.ResumeEvent)}
    assert seam["epoch"] == 10 and seam["epochs"] == 20
    kinds = [e["type"] for e in rundir.read_events(split)[0] if e["type"] in ("end", "resume")]
    assert kinds == ["end", "resume", "end"]
    record = RunRecord.load(split)
    assert record.state == "finished" and [e["epoch"] for e in record.epochs] == list(range(1, 21))
    assert record.epochs_total == 20  # config.yaml says what the run trains to now
    assert load_last(split / rundir.LAST)["epoch"] == 20


def test_epochs_recorded_after_the_checkpoint_are_replaced_by_the_resumed_ones() -> None:
    record = RunRecord(Path("unused"))
    for event in ([{"type": "epoch", "epoch": n} for n in (1, 2, 3)]
                  + [{"type": "grad", "epoch": n} for n in (1, 2, 3)]
                  + [{"type": "end", "state": "failed"}, {"type": "resume", "epoch": 2},
                     {"type": "epoch", "epoch": 3, "again": True}]):
        record.apply(event)
    assert [(e["epoch"], "again" in e) for e in record.epochs] == [(1, False), (2, False),
                                                                   (3, True)]
    assert [g["epoch"] for g in record.grads] == [1, 2] and record.end == {}


def _files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir())}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs_dir = tmp_path_factory.mktemp("runs")
    assert train(runs_dir, "xor-adam", *sets(*BASE, "train.epochs=3")) == 0
    (run_dir,) = rundir.iter_run_dirs(runs_dir)
    return run_dir


def _refused(run_dir: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    before = _files(run_dir)
    code = train(run_dir.parent, "--resume", run_dir.name, *args)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert _files(run_dir) == before  # nothing written
    return err


def test_a_set_that_changes_the_model_is_refused(finished: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(finished, capsys, *sets("train.epochs=6", "model.hidden=[8]"))
    assert "--set model.hidden: a resumed run keeps its model" in err


def test_a_run_that_trained_all_its_epochs_needs_more(finished: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(finished, capsys)
    assert "has trained 3 of its 3 epochs; give it more with --set train.epochs=N" in err


def test_a_live_run_is_refused(finished: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status_path = finished / rundir.STATUS
    saved = status_path.read_bytes()
    status = {**json.loads(saved), "state": "running", "pid": os.getpid(),
              "updated": time.time()}
    status_path.write_text(json.dumps(status))
    try:
        err = _refused(finished, capsys, *sets("train.epochs=6"))
    finally:
        status_path.write_bytes(saved)
    assert f"{finished.name} is still running (pid {os.getpid()}); stop it" in err


def test_a_run_without_last_pt_is_refused(finished: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    last = finished / rundir.LAST
    kept = last.read_bytes()
    last.unlink()
    try:
        err = _refused(finished, capsys, *sets("train.epochs=6"))
    finally:
        last.write_bytes(kept)
    assert f"{finished.name} has no last.pt to resume from" in err


def test_an_unknown_run_and_a_preset_beside_resume_are_refused(
        finished: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train(finished.parent, "--resume", "nosuchrun") == 2
    assert "--resume nosuchrun: no such run in" in capsys.readouterr().err
    assert train(finished.parent, "xor-adam", "--resume", finished.name) == 2
    assert "the run keeps its own config; give no preset" in capsys.readouterr().err


@pytest.mark.timeout(900)
def test_a_run_stopped_by_sigterm_goes_on_from_its_last_checkpoint(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from tests.conftest import wait_until

    process = subprocess.Popen(
        [sys.executable, "-m", "dmt_tui.trainer", "train", "xor-adam", "--runs-dir",
         str(tmp_path), "--quiet", *sets(*BASE, "train.epochs=100000",
                                         "early_stopping.patience=0")])
    try:
        wait_until(lambda: any((d / rundir.LAST).exists() for d in rundir.iter_run_dirs(tmp_path)))
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 4
    finally:
        process.kill()
    (run_dir,) = rundir.iter_run_dirs(tmp_path)
    saved = load_last(run_dir / rundir.LAST)["epoch"]
    assert saved >= 1 and RunRecord.load(run_dir).state == "stopped"
    assert train(tmp_path, "--resume", run_dir.name, *sets(f"train.epochs={saved + 2}")) == 0
    record = RunRecord.load(run_dir)
    assert record.state == "finished"
    assert [e["epoch"] for e in record.epochs] == list(range(1, saved + 3))
    assert [g["epoch"] for g in record.grads] == list(range(1, saved + 3))


def test_a_checkpoint_whose_optimizer_does_not_fit_is_refused(
        finished: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An optimizer state of another layout (one more parameter in its group): refused
    before anything is written, as a model that does not fit is."""
    last = finished / rundir.LAST
    kept = last.read_bytes()
    state = torch.load(last, weights_only=True)
    group = state["optimizer"]["param_groups"][0]
    group["params"] = [*group["params"], max(group["params"]) + 1]
    torch.save(state, last)
    try:
        err = _refused(finished, capsys, *sets("train.epochs=6"))
    finally:
        last.write_bytes(kept)
    assert "last.pt does not fit this run's model or optimizer" in err


def test_a_run_trained_in_several_processes_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train(tmp_path, "xor-adam", "--nproc", "2", *sets(*BASE, "train.epochs=2")) == 0
    (run_dir,) = rundir.iter_run_dirs(tmp_path)
    capsys.readouterr()
    err = _refused(run_dir, capsys, *sets("train.epochs=4"))
    assert f"{run_dir.name} was trained in 2 processes (--nproc); resuming" in err
