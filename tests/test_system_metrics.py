"""`progress` events carry what the trainer's process uses: its resident memory and CPU use
(and on CUDA the allocator's memory, checked by tests/test_cuda.py's runs on a GPU)."""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Any

import pytest

from dmt_tui import rundir
from dmt_tui.rundir import events
from dmt_tui.trainer import cli, loop
from dmt_tui.trainer.system import rss_mb


def progress_events(runs_dir: Path, device: str,
                    monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The progress events of a 2-epoch xor-adam run on `device`, one after every step."""
    monkeypatch.setattr(loop, "PROGRESS_EVERY_S", 0.0)
    code = cli.main(["train", "xor-adam", "--runs-dir", str(runs_dir), "--quiet",
                     "--set", "train.epochs=2", "--set", "data.n_samples=400",
                     "--set", f"train.device={device}"])
    assert code == 0
    (run_dir,) = rundir.iter_run_dirs(runs_dir)
    written, _ = rundir.read_events(run_dir)
    return [e for e in written if e["type"] == "progress"]


def test_progress_events_carry_the_trainers_memory_and_cpu_use(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    progress = progress_events(tmp_path, "cpu", monkeypatch)
    assert len(progress) == 2 * 10  # 320 training rows in batches of 32, two epochs
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    typed = {"type", "time", *events.fields_of(events.ProgressEvent)}
    # (NotRequired under `from __future__ import annotations` is not seen by
    # __required_keys__ on Python 3.11: the fields every progress event has, by name)
    required = {"type", "time", "epoch", "step", "steps", "samples_per_s", "rss_mb", "cpu_percent"}
    for event in progress:
        assert required <= set(event) <= typed
        # this process trained the run: torch alone keeps well over 50 MiB resident
        assert 50 < event["rss_mb"] <= peak_mb + 1
        assert event["cpu_percent"] >= 0
        assert not any(key.startswith(("cuda_", "gpu_")) for key in event)  # a CPU run


def test_resident_memory_follows_what_the_process_holds() -> None:
    before = rss_mb()
    held = bytearray(64 * 2**20)  # 64 MiB, written so that its pages are resident
    held[::4096] = b"x" * len(held[::4096])
    after = rss_mb()
    assert before is not None and after is not None
    assert after - before >= 60
    del held
