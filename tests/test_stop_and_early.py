"""Two defects of issue 14: an in-process run left its signal handlers behind, and early
stopping decided differently from Lightning when a drop equals min_delta to the last bit."""

from __future__ import annotations

import signal
from pathlib import Path

from dmt_tui import rundir
from dmt_tui.presets.schema import load
from dmt_tui.trainer import engine
from dmt_tui.trainer.monitor import EarlyStopping


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
