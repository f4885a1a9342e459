"""Two defects of issue 14: an in-process run left its signal handlers behind, and early
stopping decided differently from Lightning when a drop equals min_delta to the last bit."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from dmt_tui import rundir
from dmt_tui.presets.schema import load
from dmt_tui.trainer import engine, loop
from dmt_tui.trainer.monitor import EarlyStopping
from dmt_tui.trainer.stop import StopRequest


def test_an_in_process_run_gives_the_signal_handlers_back(tmp_path: Path) -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM,
                                                     signal.SIGHUP)}
    config = load("name: t", "x", ["data.dataset=xor", "data.n_samples=100", "train.epochs=1",
                                   "train.threads=1"])
    run_dir = rundir.create_run_dir(tmp_path, "t")
    end = engine.run(config, run_dir, lambda line: None)
    assert end["state"] == "finished"
    after = {sig: signal.getsignal(sig) for sig in before}
    assert after == before  # Ctrl-C stops pytest again as it did (ignored, under nohup)


def test_early_stopping_stops_where_lightning_does_on_an_exact_min_delta_drop() -> None:
    """Lightning 2.x (`monitor_op(current - min_delta, best)` with min_delta negated for
    mode min, i.e. current + 0.2 < best) does not count 0.913 -> 0.713 as an improvement
    by more than 0.2, so with patience 1 it stops at epoch 2."""
    early = EarlyStopping(patience=1, min_delta=0.2)
    decided = []
    for epoch, loss in enumerate([0.913, 0.713, 0.713], 1):
        improved = early.update(loss, epoch)
        decided.append((improved, early.should_stop))
        if early.should_stop:
            break
    assert decided == [(True, False), (False, True)]
    assert early.best_epoch == 1 and early.best == 0.913


class StopAfterEpochs(StopRequest):
    """A stop that arrives in the first step after `epochs` epochs are on disk, with the
    norms of the epochs waiting read in that same (stopped) epoch: the moment a run of short
    epochs under load can hit, made certain here."""

    def __init__(self, run_dir: Path, epochs: int, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__()
        self.run_dir, self.epochs, self.monkeypatch = run_dir, epochs, monkeypatch

    def __bool__(self) -> bool:
        if not self.signal_name:
            written, _ = rundir.read_events(self.run_dir)
            if sum(e["type"] == "epoch" for e in written) >= self.epochs:
                self.signal_name = "SIGTERM"
                self.monkeypatch.setattr(loop, "GRAD_EVENTS_EVERY_S", 0.0)  # read them now
        return bool(self.signal_name)


def test_a_stop_mid_epoch_keeps_the_histograms_of_the_epochs_before_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stopped epoch's one read brought epochs 1 and 2's norms: they were dropped with
    the stopped epoch, so the run ended with epochs but without their `grad` events."""
    monkeypatch.setattr(loop, "GRAD_EVENTS_EVERY_S", 1e9)  # epochs 1 and 2: norms wait
    config = load("name: t", "x", ["data.dataset=xor", "data.n_samples=400", "train.epochs=50",
                                   "train.threads=1", "early_stopping.patience=0"])
    run_dir = rundir.create_run_dir(tmp_path, "t")
    end = engine.run(config, run_dir, lambda line: None,
                     stop=StopAfterEpochs(run_dir, 2, monkeypatch))
    assert end["state"] == "stopped" and "in epoch 3" in end["reason"]
    written, _ = rundir.read_events(run_dir)
    assert [e["epoch"] for e in written if e["type"] == "epoch"] == [1, 2]
    assert [e["epoch"] for e in written if e["type"] == "grad"] == [1, 2]
