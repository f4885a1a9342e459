"""dmt_tui.Run from a plain training loop: the run folder on disk, gradient norms against an
independent computation, every way a run ends, and bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import dmt_tui
from dmt_tui import rundir
from dmt_tui.rundir.record import RunRecord
from dmt_tui.trainer.checkpoint import load_checkpoint
from tests.conftest import ROOT, wait_until


def small_model() -> nn.Module:
    """Nested on purpose: layers are named by module path, a LayerNorm counts as a layer."""
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(
        encoder=nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.LayerNorm(8)),
        head=nn.Linear(8, 3)))


def data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(n, 4, generator=generator), torch.randint(0, 3, (n,), generator=generator)


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                y: torch.Tensor, batch: int = 16) -> float:
    total = 0.0
    for i in range(0, len(x), batch):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x[i:i + batch]), y[i:i + batch])
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x[i:i + batch])
    return total / len(x)


def events_of(run: dmt_tui.Run) -> list[dict[str, Any]]:
    assert run.run_dir is not None
    events, notes = rundir.read_events(run.run_dir)
    assert notes == []
    return events


def test_a_plain_loop_writes_the_run_folder(tmp_path: Path) -> None:
    model, (x, y) = small_model(), data()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    config = {"train": {"epochs": 3}, "lr": 0.05, "data": {"dataset": "mine"}}
    with dmt_tui.Run("my-net", config=config, runs_dir=tmp_path / "runs") as run:
        run.watch(model)
        for _ in range(3):
            train_loss = train_epoch(model, optimizer, x, y)
            with torch.no_grad():
                val_loss = nn.functional.cross_entropy(model(x), y)
            run.epoch(train_loss=train_loss, val_loss=val_loss, val_acc=0.5, margin=1.5)
            assert not run.should_stop
    assert run.run_dir is not None and run.run_dir.parent == tmp_path / "runs"
    assert run.run_dir.name.endswith("-my-net")
    events = events_of(run)
    kinds = [e["type"] for e in events if e["type"] != "progress"]
    assert kinds == ["start", "epoch", "grad", "epoch", "grad", "epoch", "grad", "end"]
    start = events[0]
    assert start["layers"] == ["encoder.0", "encoder.2", "head"]
    assert start["n_params"] == sum(p.numel() for p in model.parameters())
    assert start["device"] == "cpu" and start["pid"] == os.getpid()
    epochs = [e for e in events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert epochs[0]["margin"] == 1.5 and epochs[0]["val_acc"] == 0.5
    assert epochs[0]["lr"] == 0.05  # read from the optimizer that stepped
    assert epochs[0]["train_acc"] is None and epochs[0]["es_patience"] == 0
    grads = [e for e in events if e["type"] == "grad"]
    assert [len(g["layers"]) for g in grads] == [3, 3, 3]
    assert sum(grads[0]["total"]["counts"]) + grads[0]["total"]["zeros"] == 4  # 4 steps
    assert events[-1]["state"] == "finished"
    assert events[-1]["reason"] == "completed all 3 epochs"
    record = RunRecord.load(run.run_dir)
    assert record.state == "finished" and record.name == "my-net"
    assert record.epochs_total == 3 and record.epoch == 3
    assert record.setting("data.dataset") == "mine"
    assert record.status["pid"] == os.getpid() and record.status["state"] == "finished"
    assert (run.run_dir / rundir.BEST).exists()
    assert set(load_checkpoint(run.run_dir / rundir.BEST)) == set(model.state_dict())


@pytest.mark.parametrize("block", [True, False], ids=["gradient block", "norm per tensor"])
def test_grad_norms_equal_an_independent_computation(
        tmp_path: Path, block: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """One step an epoch: each layer's histogram holds exactly that step's L2 norm of its
    weight and bias together, and `total` the whole model's; for a small model (its
    gradients copied into a block) and for one too large for the block."""
    import dmt_tui.grad_watch

    if not block:
        monkeypatch.setattr(dmt_tui.grad_watch, "BLOCK_BYTES", 0)
    model, (x, y) = small_model(), data(16)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    layers = {"encoder.0": model.encoder[0], "encoder.2": model.encoder[2], "head": model.head}
    expected = []
    with dmt_tui.Run("norms", runs_dir=tmp_path) as run:
        run.watch(model)
        for _ in range(2):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            norms = {name: torch.linalg.vector_norm(torch.cat(
                [p.grad.flatten() for p in layer.parameters()])).item()
                for name, layer in layers.items()}
            norms["total"] = torch.linalg.vector_norm(torch.cat(
                [p.grad.flatten() for p in model.parameters()])).item()
            expected.append(norms)
            optimizer.step()
            run.epoch(train_loss=1.0)
    grads = [e for e in events_of(run) if e["type"] == "grad"]
    assert len(grads) == 2
    for grad, norms in zip(grads, expected, strict=True):
        got = {layer["name"]: layer for layer in [*grad["layers"], {**grad["total"],
                                                                    "name": "total"}]}
        assert set(got) == set(norms)
        for name, value in norms.items():
            assert got[name]["mean"] == pytest.approx(value, rel=1e-6), name
            assert got[name]["min"] == got[name]["max"] == got[name]["mean"]
            assert sum(got[name]["counts"]) == 1


def test_early_stopping_from_the_config_ends_early_stopped(tmp_path: Path) -> None:
    config = {"early_stopping": {"patience": 2}, "train": {"epochs": 50}}
    losses = [1.0, 0.5, 0.6, 0.7, 0.4]
    with dmt_tui.Run("es", config=config, runs_dir=tmp_path) as run:
        for loss in losses:
            run.epoch(train_loss=loss, val_loss=loss)
            if run.should_stop:
                break
    assert run.epoch_count == 4
    end = events_of(run)[-1]
    assert end["state"] == "early_stopped" and end["best_epoch"] == 2
    assert end["best_val_loss"] == 0.5 and "for 2 epochs" in end["reason"]
    epoch4 = [e for e in events_of(run) if e["type"] == "epoch"][-1]
    assert (epoch4["es_wait"], epoch4["es_best"], epoch4["es_best_epoch"]) == (2, 0.5, 2)


def test_best_pt_holds_the_best_epochs_weights(tmp_path: Path) -> None:
    model = nn.Linear(2, 1)
    with dmt_tui.Run("best", runs_dir=tmp_path, model=model) as run:
        for epoch, loss in enumerate([0.9, 0.3, 0.8], 1):
            with torch.no_grad():
                model.weight.fill_(epoch)
            run.epoch(val_loss=loss)
    assert run.run_dir is not None
    best = load_checkpoint(run.run_dir / rundir.BEST)
    assert torch.equal(best["weight"], torch.full((1, 2), 2.0))


def test_a_non_finite_loss_ends_diverged(tmp_path: Path) -> None:
    with dmt_tui.Run("nan", runs_dir=tmp_path) as run:
        run.epoch(train_loss=0.5, val_loss=0.5)
        run.epoch(train_loss=float("nan"), val_loss=0.4, lr=0.1)
        assert run.should_stop
    end = events_of(run)[-1]
    assert end["state"] == "diverged"
    assert end["reason"] == "train_loss became nan at epoch 2 (lr 0.1)"
    assert [e["train_loss"] for e in events_of(run) if e["type"] == "epoch"] == [0.5, None]


def test_an_exception_ends_failed_with_the_error_and_goes_on(tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError), \
            dmt_tui.Run("boom", runs_dir=tmp_path) as run:
        run.epoch(train_loss=0.5)
        1 / 0  # noqa: B018 - the user's loop fails
    end = events_of(run)[-1]
    assert end["state"] == "failed"
    assert end["reason"] == "ZeroDivisionError: division by zero"
    assert "1 / 0" in end["error"] and end["epochs"] == 1
    assert RunRecord.load(run.run_dir).state == "failed"  # type: ignore[arg-type]


def test_sigterm_sets_should_stop_and_ends_stopped(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with dmt_tui.Run("term", runs_dir=tmp_path) as run:
        run.epoch(train_loss=0.5)
        assert not run.should_stop
        os.kill(os.getpid(), signal.SIGTERM)  # what the app's `s` sends
        wait_until(lambda: run.should_stop, 10, "the handler to run")
    assert signal.getsignal(signal.SIGTERM) == before  # the script's own handler is back
    end = events_of(run)[-1]
    assert end["state"] == "stopped" and end["reason"] == "stopped by SIGTERM after epoch 1"


def test_ctrl_c_ends_stopped(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), dmt_tui.Run("int", runs_dir=tmp_path) as run:
        run.epoch(train_loss=0.5)
        raise KeyboardInterrupt
    assert events_of(run)[-1]["state"] == "stopped"


KILLED_SCRIPT = """
import os, sys, time, torch, dmt_tui
model = torch.nn.Linear(3, 1)
with dmt_tui.Run("killed", runs_dir=sys.argv[1]) as run:
    run.watch(model)
    run.epoch(train_loss=1.0)
    print("epoch written", flush=True)
    while True:
        time.sleep(1)  # the test kills this process
"""


def test_a_killed_script_shows_crashed(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", KILLED_SCRIPT, str(tmp_path)],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "epoch written\n"
        run_dir = next(tmp_path.iterdir())
        assert RunRecord.load(run_dir).state == "running"
    finally:
        process.kill()
        process.wait(30)
    record = RunRecord.load(run_dir)
    assert record.state == "crashed" and record.epoch == 1


# ---- bad input -----------------------------------------------------------------------------


def test_a_runs_folder_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(rundir.RunDirError, match=r"a-file: cannot create a run folder there"):
        with dmt_tui.Run("x", runs_dir=blocker):
            raise AssertionError("the block must not run")
    assert blocker.read_text() == "not a folder"


def test_a_metric_that_is_not_a_number_fails_the_run_and_keeps_its_epochs(
        tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"metric 'val_acc' is 'high' \(str\), not a number"), \
            dmt_tui.Run("metric", runs_dir=tmp_path) as run:
        run.epoch(train_loss=0.5)
        run.epoch(train_loss=0.4, val_acc="high")
    events = events_of(run)
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [1]
    assert events[-1]["state"] == "failed" and "'val_acc'" in events[-1]["reason"]


def test_a_reserved_or_tensor_metric(tmp_path: Path) -> None:
    with dmt_tui.Run("names", runs_dir=tmp_path) as run:
        with pytest.raises(ValueError, match="'seconds' is written by the run itself"):
            run.epoch(seconds=3.0)
        with pytest.raises(ValueError, match="metric 'flag' is True"):
            run.epoch(flag=True)
        run.epoch(train_loss=torch.tensor(0.25, requires_grad=True), extra=torch.tensor([2]))
    epoch = [e for e in events_of(run) if e["type"] == "epoch"]
    assert len(epoch) == 1 and epoch[0]["train_loss"] == 0.25 and epoch[0]["extra"] == 2.0


def test_watching_a_module_without_parameters_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"watch\(ReLU\): the model has no parameters that "
                                         "require gradients"), \
            dmt_tui.Run("relu", runs_dir=tmp_path) as run:
        run.epoch(train_loss=1.0)
        run.watch(nn.ReLU())
    events = events_of(run)
    assert [e["type"] for e in events] == ["start", "epoch", "end"]
    assert events[-1]["state"] == "failed"


@pytest.mark.parametrize(("config", "message"), [
    ({"early_stopping": {"patience": -1}}, r"early_stopping.patience: -1 is not allowed"),
    ({"train": {"epochs": "ten"}}, r"train.epochs: 'ten' is not allowed"),
    ({"name": "other"}, r"config\['name'\] is 'other'"),
    (["a", "list"], r"takes a dict, a dataclass or an argparse.Namespace, not list"),
])
def test_a_bad_config_is_refused_before_anything_is_written(
        tmp_path: Path, config: Any, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        dmt_tui.Run("bad", config=config, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_import_dmt_tui_loads_neither_torch_nor_textual() -> None:
    code = textwrap.dedent("""
        import sys, dmt_tui
        assert dmt_tui.Run.__name__ == "Run"
        print(sorted(m for m in ("torch", "textual") if m in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_no_epochs_and_no_watch_still_make_a_readable_run(tmp_path: Path) -> None:
    with dmt_tui.Run("empty", runs_dir=tmp_path) as run:
        pass
    events = events_of(run)
    assert [e["type"] for e in events] == ["start", "end"]
    assert events[-1]["reason"] == "the script ended the run after 0 epochs"
    assert run.run_dir is not None and RunRecord.load(run.run_dir).epoch == 0


def test_export_keeps_a_scripts_own_metrics_as_columns(tmp_path: Path) -> None:
    from dmt_tui.rundir.export import export_runs

    with dmt_tui.Run("extras", runs_dir=tmp_path / "runs") as run:
        run.epoch(train_loss=0.5, margin=1.5, state=7)
        run.epoch(train_loss=0.4, margin=2.5, state=8)
    assert run.run_dir is not None
    export_runs([RunRecord.load(run.run_dir)], ["csv"], tmp_path / "out", say=lambda _: None)
    import pandas as pd

    table = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert list(table["margin"]) == [1.5, 2.5]
    assert list(table["metric_state"]) == [7, 8]  # `state` is the run's end state column
    assert list(table["state"]) == ["finished", "finished"]
    columns = list(table.columns)
    assert columns.index("es_best_epoch") < columns.index("margin") < columns.index("preset")


@pytest.mark.parametrize("block", [True, False], ids=["gradient block", "norm per tensor"])
def test_a_layer_without_a_gradient_counts_zero_norms(
        tmp_path: Path, block: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import dmt_tui.grad_watch

    if not block:
        monkeypatch.setattr(dmt_tui.grad_watch, "BLOCK_BYTES", 0)
    model = nn.ModuleDict({"used": nn.Linear(3, 1), "unused": nn.Linear(3, 1)})
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with dmt_tui.Run("unused", runs_dir=tmp_path) as run:
        run.watch(model)
        for _ in range(3):
            optimizer.zero_grad()
            model["used"](torch.ones(2, 3)).sum().backward()
            optimizer.step()
        run.epoch(train_loss=1.0)
    grad = [e for e in events_of(run) if e["type"] == "grad"][0]
    layers = {layer["name"]: layer for layer in grad["layers"]}
    assert layers["unused"]["zeros"] == 3 and layers["unused"]["mean"] == 0.0
    assert layers["used"]["zeros"] == 0 and layers["used"]["mean"] > 0
