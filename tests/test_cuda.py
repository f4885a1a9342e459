"""On a CUDA GPU: device selection, a whole run, its checkpoint read back on the CPU, and
one host-device synchronisation an epoch, counted by the trainer's own count and by CUDA's
(torch.cuda.set_sync_debug_mode). Skipped where no CUDA device is visible, as on CI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from dmt_tui import rundir
from dmt_tui.presets import load_preset
from dmt_tui.rundir.record import RunRecord
from dmt_tui.trainer import loop
from dmt_tui.trainer.checkpoint import load_checkpoint
from dmt_tui.trainer.host import Silent, StopRequest
from dmt_tui.trainer.speed.syncs import CountSyncs
from tests.test_system_metrics import progress_events

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU: torch.cuda.is_available() is False")

ROOT = Path(__file__).resolve().parent.parent


def train(runs_dir: Path, *sets: str, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    """`python -m dmt_tui.trainer train xor-adam` (3 epochs) in a fresh interpreter."""
    args = [sys.executable, "-m", "dmt_tui.trainer", "train", "xor-adam",
            "--runs-dir", str(runs_dir),
            "--quiet", "--set", "train.epochs=3", "--set", "data.n_samples=400"]
    for item in sets:
        args += ["--set", item]
    return subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, **(env or {})})


def test_auto_trains_on_the_first_visible_gpu_and_its_checkpoint_loads_on_the_cpu(
        tmp_path: Path) -> None:
    done = train(tmp_path)  # train.device is auto by default
    assert done.returncode == 0, done.stderr
    (run_dir,) = rundir.iter_run_dirs(tmp_path)
    record = RunRecord.load(run_dir)
    assert record.start["device"] == "cuda:0"
    assert record.state == "finished" and len(record.epochs) == 3
    state = load_checkpoint(run_dir / "best.pt")
    assert state and all(t.device.type == "cpu" for t in state.values())


def test_hidden_gpus_mean_the_cpu_for_auto_and_a_clear_error_for_cuda(tmp_path: Path) -> None:
    hidden = {"CUDA_VISIBLE_DEVICES": ""}
    done = train(tmp_path / "auto", env=hidden)
    assert done.returncode == 0, done.stderr
    (run_dir,) = rundir.iter_run_dirs(tmp_path / "auto")
    assert RunRecord.load(run_dir).start["device"] == "cpu"
    refused = train(tmp_path / "cuda", "train.device=cuda", env=hidden)
    assert refused.returncode == 2
    assert ("train.device: cuda was asked for, but no CUDA device is visible "
            "(CUDA_VISIBLE_DEVICES='')") in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_gpu_index_past_the_last_is_a_clear_error(tmp_path: Path) -> None:
    count = torch.cuda.device_count()
    refused = train(tmp_path, f"train.device=cuda:{count}")
    assert refused.returncode == 2
    assert f"cuda:0 to cuda:{count - 1}" in refused.stderr and "Traceback" not in refused.stderr


def test_an_epoch_synchronises_with_the_gpu_once() -> None:
    config = load_preset("xor-adam", ["data.n_samples=4000", "train.device=cuda"])
    trainer = loop.Trainer(loop.prepare(config), Silent(), StopRequest())
    assert trainer.session.device.type == "cuda"
    trainer.epoch(1)
    epochs = range(2, 12)
    with CountSyncs() as syncs:
        for number in epochs:
            trainer.epoch(number)
    assert syncs.calls == {"cpu": len(epochs)}
    # CUDA's own count: every synchronising call warns while the debug mode is on
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            for number in range(12, 22):
                trainer.epoch(number)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    # the first warning says the mode is a prototype; each of the others names a sync and,
    # through the warning's frame, the line of Python that asked for it
    synchronising = [f"{Path(w.filename).name}:{w.lineno}" for w in caught
                     if str(w.message).startswith("called a synchronizing CUDA operation")]
    assert len(synchronising) == 10, json.dumps(synchronising)


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "adagrad", "rmsprop"])
def test_every_optimizer_trains_on_the_gpu(name: str) -> None:
    config = load_preset("xor-adam", ["data.n_samples=400", "train.device=cuda",
                                      f"optimizer.name={name}", "optimizer.lr=0.01"])
    trainer = loop.Trainer(loop.prepare(config), Silent(), StopRequest())
    before = trainer.session.model.state_dict()
    before = {k: v.clone() for k, v in before.items()}
    result = trainer.epoch(1)
    assert math.isfinite(result.train_loss) and math.isfinite(result.val_loss)
    after = trainer.session.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def _val_losses(config: dict[str, Any], epochs: int) -> tuple[list[float], Any]:
    trainer = loop.Trainer(loop.prepare(config), Silent(), StopRequest())
    results = [trainer.epoch(n) for n in range(1, epochs + 1)]
    norms = [g for r in results for g in r.grads] + trainer.take_grads()
    return [r.val_loss for r in results], (trainer, norms)


@pytest.mark.parametrize("preset, sets", [
    ("xor-adam", []),  # classification, Adam
    ("xor-sgd-momentum", []),  # SGD with momentum
    ("plane-regression", []),  # regression (mean squared error)
    ("xor-adam", ["optimizer.name=rmsprop", "optimizer.lr=0.01"]),
])
def test_graph_replayed_steps_train_as_the_eager_steps_do(preset: str, sets: list[str]) -> None:
    """808 training rows in batches of 32: 25 full batches an epoch (three eager warm-up
    steps, one captured, the rest replayed) and a last batch of 8, eager."""
    base = ["data.n_samples=1010", "train.device=cuda", *sets]
    graphed, (trainer, graph_norms) = _val_losses(load_preset(preset, base), 4)
    replayer = trainer.train_step.replayer
    assert replayer is not None and replayer.replaying  # it did replay
    eager, (plain, eager_norms) = _val_losses(
        load_preset(preset, [*base, "train.cuda_graphs=false"]), 4)
    assert not plain.train_step.graphed
    assert graphed == pytest.approx(eager, rel=1e-5)
    assert [n for n, _ in graph_norms] == [n for n, _ in eager_norms]
    for (_, a), (_, b) in zip(graph_norms, eager_norms, strict=True):
        assert a == pytest.approx(b, rel=1e-4)


def test_schedules_and_adagrad_train_eagerly() -> None:
    for preset in ("noam-warmup-spiral", "circle-adagrad"):
        config = load_preset(preset, ["train.device=cuda"])
        assert not loop.Trainer(loop.prepare(config), Silent(), StopRequest()).train_step.graphed


def test_a_run_says_whether_it_replays_a_graph(tmp_path: Path) -> None:
    assert train(tmp_path / "on").returncode == 0
    assert train(tmp_path / "off", "train.cuda_graphs=false").returncode == 0
    for name, expected in (("on", True), ("off", False)):
        (run_dir,) = rundir.iter_run_dirs(tmp_path / name)
        assert RunRecord.load(run_dir).start["cuda_graphs"] is expected


def test_progress_events_carry_the_allocators_memory(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """On CUDA each progress event has torch's allocator counters (in MiB to 0.1: this tiny
    model's allocations may round to 0, but the allocator reserves whole 2 MiB segments;
    allocated within both the peak and what is reserved) and, where nvidia-ml-py is
    installed and NVML answers, its utilisation and memory."""
    progress = progress_events(tmp_path, "cuda", monkeypatch)
    assert progress
    try:
        import pynvml  # noqa: F401  (nvidia-ml-py, the [gpu] extra)
        nvml = True
    except ImportError:
        nvml = False
    for event in progress:
        assert 0 <= event["cuda_allocated_mb"] <= event["cuda_peak_mb"]
        assert event["cuda_allocated_mb"] <= event["cuda_reserved_mb"]
        assert event["cuda_reserved_mb"] >= 2.0
        if "gpu_util_percent" in event:  # NVML's figures come together, and only with it
            assert nvml and 0 <= event["gpu_util_percent"] <= 100
            assert event["gpu_memory_used_mb"] > 0
        else:
            assert "gpu_memory_used_mb" not in event
