"""A script's own scalars (extra `run.epoch` keywords) in the TensorBoard export, as they are
columns of metrics.csv: each a `metrics/<name>` scalar per epoch, read back by TensorBoard's
own reader."""

from __future__ import annotations

from pathlib import Path

import pytest

import dmt_tui
from dmt_tui.rundir.export import export_runs
from dmt_tui.rundir.record import RunRecord


def test_tensorboard_export_has_a_scripts_own_scalars(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with dmt_tui.Run("extras", runs_dir=tmp_path / "runs") as run:
        run.epoch(train_loss=0.5, margin=1.5, state=7)
        run.epoch(train_loss=0.4, margin=2.5, state=8)
        run.epoch(train_loss=0.3, state=9)  # margin left out this epoch
    assert run.run_dir is not None
    export_runs([RunRecord.load(run.run_dir)], ["tensorboard"], tmp_path / "out",
                say=lambda _: None)
    reader = EventAccumulator(str(tmp_path / "out" / "tensorboard" / run.run_dir.name),
                              size_guidance={"scalars": 0})
    reader.Reload()
    scalars = reader.Tags()["scalars"]
    assert {"metrics/margin", "metrics/state", "loss/train"} <= set(scalars)
    # the run's own fields are not a script's metrics
    assert not {t for t in scalars if t.startswith("metrics/")} - {"metrics/margin",
                                                                    "metrics/state"}
    margin = reader.Scalars("metrics/margin")
    assert [(p.step, p.value) for p in margin] == [(1, 1.5), (2, 2.5)]
    state = reader.Scalars("metrics/state")
    assert [(p.step, p.value) for p in state] == [(1, 7.0), (2, 8.0), (3, 9.0)]
    loss = reader.Scalars("loss/train")
    assert [p.value for p in loss] == pytest.approx([0.5, 0.4, 0.3])
