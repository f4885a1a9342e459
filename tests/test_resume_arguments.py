"""The command `R` starts: `train --resume RUN_ID`, with `--set train.epochs=N` only where N
is not the total the run's config.yaml already plans. Read back through the trainer's own
argument parser, so that the trainer takes them as meant."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from dmt_tui.rundir.launch import resume_arguments
from dmt_tui.trainer.cli import add_train_arguments
from tests.tui.conftest import DATA_RUNS, RECORDED_RUN  # a finished run planned for 25 epochs


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    shutil.copytree(DATA_RUNS / RECORDED_RUN, tmp_path / RECORDED_RUN)
    return tmp_path / RECORDED_RUN


def as_trainer_reads(arguments: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    return parser.parse_args(arguments)


@pytest.mark.parametrize("epochs", [None, 25])
def test_the_planned_total_adds_no_set(run_dir: Path, epochs: int | None) -> None:
    args = as_trainer_reads(resume_arguments(run_dir, epochs))
    assert args.resume == RECORDED_RUN and args.runs_dir == run_dir.parent
    assert args.overrides == [] and args.preset is None and args.quiet


@pytest.mark.parametrize("epochs", [50, 26])
def test_other_epochs_are_set(run_dir: Path, epochs: int) -> None:
    args = as_trainer_reads(resume_arguments(run_dir, epochs))
    assert args.resume == RECORDED_RUN and args.runs_dir == run_dir.parent
    assert args.overrides == [f"train.epochs={epochs}"]


def test_an_unreadable_config_still_sets_them(run_dir: Path) -> None:
    """The trainer, reading config.yaml again, is the one to say what is wrong with it."""
    (run_dir / "config.yaml").write_text("train: [not, a, mapping\n", "utf-8")
    args = as_trainer_reads(resume_arguments(run_dir, 25))
    assert args.overrides == ["train.epochs=25"]
