"""Real runs: the run directory and its events against the contract, end states, exit codes."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from dmt_tui import rundir
from dmt_tui.presets.schema import load
from dmt_tui.rundir import events
from dmt_tui.rundir.record import RunRecord
from dmt_tui.trainer import cli, engine, loop
from tests.conftest import wait_until

FAST = ["train.epochs=4", "data.n_samples=400"]
# The contract's fields, from their one definition; the writer writes exactly these.
START_FIELDS = {"type", "time", *events.fields_of(events.StartEvent)}
EPOCH_FIELDS = {"type", "time", *events.EPOCH_FIELDS}
HIST_FIELDS = set(events.fields_of(events.LayerHistogram))
GRAD_FIELDS = {"type", "time", *events.fields_of(events.GradEvent)}
END_FIELDS = {"type", "time", *events.fields_of(events.EndEvent)} - {"error"}


def train(runs_dir: Path, preset: str, *overrides: str) -> tuple[int, Path]:
    """`dmt-tui train` in this process; returns the exit code and the new run folder."""
    before = set(runs_dir.iterdir()) if runs_dir.exists() else set()
    code = cli.main(["train", preset, "--runs-dir", str(runs_dir), "--quiet",
                     *[a for o in overrides for a in ("--set", o)]])
    (run_dir,) = set(runs_dir.iterdir()) - before
    return code, run_dir


def events_of(run_dir: Path) -> list[dict[str, Any]]:
    events, notes = rundir.read_events(run_dir)
    assert notes == []
    return events


def test_run_directory_matches_the_contract(runs_dir: Path) -> None:
    code, run_dir = train(runs_dir, "xor-adam", *FAST)
    assert code == 0
    assert re.fullmatch(r"\d{8}-\d{6}-xor-adam", run_dir.name)
    assert {p.name for p in run_dir.iterdir()} == {"config.yaml", "events.jsonl", "status.json",
                                                  "digest.jsonl", "best.pt", "last.pt",
                                                  "trainer.log"}
    events = events_of(run_dir)
    kinds = [e["type"] for e in events if e["type"] not in ("progress", "boundary")]
    # grad events are written in batches (GRAD_EVENTS_EVERY_S), each after its epoch's event
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert sorted(kinds[1:-1]) == ["epoch"] * 4 + ["grad"] * 4
    # xor is a 2-D dataset: its boundary after epoch 1, at most every 0.5 s, and the last's
    drawn = [e["epoch"] for e in events if e["type"] == "boundary"]
    assert drawn[0] == 1 and drawn[-1] == 4 and drawn == sorted(set(drawn))
    at = {(e["type"], e.get("epoch")): i for i, e in enumerate(events)}
    assert all(at["epoch", n] < at["grad", n] for n in range(1, 5))
    start, end = events[0], events[-1]
    assert set(start) == START_FIELDS
    assert start["layers"] == ["fc1", "fc2", "out"] and start["device"] == "cpu"
    assert start["n_train"] == 320 and start["n_val"] == 80
    assert start["steps_per_epoch"] == math.ceil(320 / 32)
    assert start["torch_version"] == torch.__version__
    epochs = [e for e in events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4]
    for e in epochs:
        assert set(e) == EPOCH_FIELDS
        assert 0 <= e["train_acc"] <= 1 and 0 <= e["val_acc"] <= 1 and e["lr"] == 0.02
    grads = [e for e in events if e["type"] == "grad"]
    assert [g["epoch"] for g in grads] == [1, 2, 3, 4]
    for g in grads:
        assert set(g) == GRAD_FIELDS
        assert [layer["name"] for layer in g["layers"]] == start["layers"]
        for h in [*g["layers"], g["total"]]:
            assert set(h) == HIST_FIELDS
            assert len(h["edges"]) == len(h["counts"]) + 1
            assert sum(h["counts"]) + h["zeros"] == start["steps_per_epoch"]
            assert h["min"] <= h["mean"] <= h["max"]
    assert set(end) == END_FIELDS and end["state"] == "finished" and end["epochs"] == 4
    best = min(epochs, key=lambda e: e["val_loss"])
    assert (end["best_epoch"], end["best_val_loss"]) == (best["epoch"], best["val_loss"])
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "finished" and status["pid"] == start["pid"]
    assert time.time() - status["updated"] < 60
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["train"]["epochs"] == 4 and config["optimizer"]["name"] == "adam"
    state = torch.load(run_dir / "best.pt", weights_only=True)
    assert set(state) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "out.weight",
                          "out.bias"}


def test_same_preset_and_seed_give_the_same_losses(runs_dir: Path) -> None:
    _, first = train(runs_dir, "mlp-relu-spiral", *FAST)
    # config.yaml is itself a preset: training from it repeats the run
    _, second = train(runs_dir, str(first / "config.yaml"))
    _, other_seed = train(runs_dir, "mlp-relu-spiral", *FAST, "train.seed=1")

    def losses(run_dir: Path) -> list[float]:
        return [e["val_loss"] for e in events_of(run_dir) if e["type"] == "epoch"]

    assert losses(first) == losses(second)
    assert losses(first) != losses(other_seed)


def test_grad_events_read_in_batches_match_one_read_an_epoch(
        runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Short epochs leave their norms on the device and bin them in batches; the events must
    be the same as one epoch at a time. 30 epochs of 10 steps also fill the flat buffer's
    256-row block across epochs."""
    def grads(every_s: float) -> list[dict[str, Any]]:
        monkeypatch.setattr(loop, "GRAD_EVENTS_EVERY_S", every_s)
        code, run_dir = train(runs_dir, "xor-sgd", *FAST, "train.epochs=30",
                              "early_stopping.patience=0")
        assert code == 0
        return [{k: v for k, v in e.items() if k != "time"}
                for e in events_of(run_dir) if e["type"] == "grad"]

    each_epoch, at_the_end = grads(0.0), grads(1e9)  # 1e9: epoch 1, then the rest at the end
    assert [g["epoch"] for g in each_epoch] == list(range(1, 31))
    assert at_the_end == each_epoch


def test_early_stopping_ends_the_run_and_restores_the_best(runs_dir: Path) -> None:
    # with min_delta 10, only the first epoch can improve: a stop after patience epochs
    code, run_dir = train(runs_dir, "xor-sgd", *FAST, "train.epochs=20",
                          "early_stopping.patience=2", "early_stopping.min_delta=10")
    assert code == 0
    events = events_of(run_dir)
    epochs = [e for e in events if e["type"] == "epoch"]
    assert [(e["es_wait"], e["es_best_epoch"]) for e in epochs] == [(0, 1), (1, 1), (2, 1)]
    assert events[-1]["state"] == "early_stopped" and events[-1]["best_epoch"] == 1
    assert "for 2 epochs" in events[-1]["reason"]


def test_restore_best_leaves_the_model_with_the_best_weights(runs_dir: Path) -> None:
    config = load("name: restore", "x", ["data.dataset=xor", "data.n_samples=300",
                                         "train.epochs=6", "optimizer.lr=0.5",
                                         "optimizer.name=sgd"])
    session = loop.prepare(config)
    run_dir = rundir.create_run_dir(runs_dir, "restore")
    end = engine.run(config, run_dir, lambda line: None, session)
    best = torch.load(run_dir / "best.pt", weights_only=True)
    for key, value in session.model.state_dict().items():
        torch.testing.assert_close(value, best[key])
    assert end["best_epoch"] >= 1


def test_a_loss_that_explodes_ends_the_run_diverged(runs_dir: Path) -> None:
    code, run_dir = train(runs_dir, "xor-sgd", *FAST, "optimizer.lr=1e5", "train.epochs=30")
    assert code == 3
    end = events_of(run_dir)[-1]
    assert end["state"] == "diverged"
    assert re.search(r"(train|val)_loss became (nan|inf) at epoch \d+", end["reason"])
    last_epoch = [e for e in events_of(run_dir) if e["type"] == "epoch"][-1]
    assert end["epochs"] == last_epoch["epoch"] < 30
    # the diverged epoch's histograms, where the exploding norms show, are written too
    grads = [e["epoch"] for e in events_of(run_dir) if e["type"] == "grad"]
    assert grads == list(range(1, end["epochs"] + 1))


def test_binary_step_shows_zero_gradient_below_the_output(runs_dir: Path) -> None:
    code, run_dir = train(runs_dir, "binary-step", "train.epochs=2")
    assert code == 0
    grad = [e for e in events_of(run_dir) if e["type"] == "grad"][-1]
    layers = {h["name"]: h for h in grad["layers"]}
    steps = events_of(run_dir)[0]["steps_per_epoch"]
    assert layers["fc1"]["zeros"] == layers["fc2"]["zeros"] == steps
    assert layers["fc1"]["mean"] == 0.0 and layers["out"]["mean"] > 0


def test_deep_sigmoid_gradients_vanish_toward_the_input(runs_dir: Path) -> None:
    _, run_dir = train(runs_dir, "deep-sigmoid-vanishing", "train.epochs=1",
                       "data.n_samples=600")
    grad = [e for e in events_of(run_dir) if e["type"] == "grad"][-1]
    means = [h["mean"] for h in grad["layers"]]
    assert means[0] < means[-1] / 100  # two orders of magnitude from output to input


def test_noam_lr_in_epoch_events_is_the_last_steps(runs_dir: Path) -> None:
    _, run_dir = train(runs_dir, "noam-warmup-spiral", "train.epochs=2", "data.n_samples=400")
    from dmt_tui.trainer.optim import noam_lr

    epochs = [e for e in events_of(run_dir) if e["type"] == "epoch"]
    steps = events_of(run_dir)[0]["steps_per_epoch"]
    for e in epochs:
        assert e["lr"] == pytest.approx(noam_lr(e["epoch"] * steps, 64, 500, 2.0))


def test_float64_runs(runs_dir: Path) -> None:
    code, run_dir = train(runs_dir, "plane-regression", "train.epochs=2", "train.dtype=float64")
    assert code == 0
    record = RunRecord.load(run_dir)
    assert record.start["dtype"] == "float64" and record.epochs[-1]["train_acc"] is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(runs_dir: Path, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    code = cli.main(["train", "xor-adam", "--runs-dir", str(runs_dir), "--set",
                     "train.device=cuda"])
    assert code == 2
    err = capsys.readouterr().err
    assert "train.device: cuda was asked for, but no CUDA device is visible" in err
    assert not runs_dir.exists() or not any(runs_dir.iterdir())  # nothing was started


def _epochs_written(runs_dir: Path) -> int:
    dirs = list(rundir.iter_run_dirs(runs_dir))
    return len(RunRecord.load(dirs[0]).epochs) if dirs else 0


def test_sigterm_ends_the_run_stopped_with_its_data(runs_dir: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "dmt_tui.trainer", "train", "xor-adam", "--runs-dir", str(runs_dir),
         "--quiet", "--set", "train.epochs=100000", "--set", "early_stopping.patience=0"])
    try:
        wait_until(lambda: _epochs_written(runs_dir) >= 2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == engine.EXIT_CODES["stopped"] == 4
    finally:
        process.kill()
    (run_dir,) = rundir.iter_run_dirs(runs_dir)
    record = RunRecord.load(run_dir)
    assert record.state == "stopped" and "SIGTERM" in record.end["reason"]
    assert record.end["epochs"] == len(record.epochs) >= 2
    # every recorded epoch has its histograms; the interrupted one has neither
    assert [g["epoch"] for g in record.grads] == [e["epoch"] for e in record.epochs]
    assert rundir.read_status(run_dir)["state"] == "stopped"
    torch.load(run_dir / "best.pt", weights_only=True)  # intact


def test_a_launched_trainer_outlives_the_process_that_started_it(runs_dir: Path) -> None:
    # The parent launches a run, prints the trainer's pid and exits at once.
    script = (
        "import sys; from pathlib import Path; from dmt_tui.presets import load_preset; "
        "from dmt_tui.rundir.launch import launch; "
        "c = load_preset('xor-adam', ['train.epochs=150', 'data.n_samples=400', "
        "'early_stopping.patience=0']); "
        f"d, p = launch(c, Path({str(runs_dir)!r})); print(p.pid)"
    )
    parent = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=True)
    pid = int(parent.stdout.strip())
    assert os.getsid(pid) == pid != os.getsid(0)  # alive, leading a session of its own
    (run_dir,) = rundir.iter_run_dirs(runs_dir)
    wait_until(lambda: RunRecord.load(run_dir).end != {}, timeout=300)  # 150 epochs, loaded
    record = RunRecord.load(run_dir)
    assert record.state == "finished" and len(record.epochs) == 150
    assert record.start["pid"] == pid
    assert "epoch 150/150" in (run_dir / "trainer.log").read_text()


def test_train_starts_lean_without_textual_or_pandas(runs_dir: Path) -> None:
    script = (
        "import sys; from dmt_tui.cli import main; "
        f"code = main(['train', 'xor-adam', '--runs-dir', {str(runs_dir)!r}, '--quiet', "
        "'--set', 'train.epochs=1']); "
        "print(code, sorted(m for m in ('textual', 'pandas', 'plotext') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stderr
