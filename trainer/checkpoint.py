"""best.pt (the best epoch's weights) and last.pt (all a resumed run needs), written
atomically, read back as data only."""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from dmt_tui import rundir

if TYPE_CHECKING:  # types only: the loop never imports this module
    from dmt_tui.trainer.loop import Trainer
    from dmt_tui.trainer.monitor import EarlyStopping
    from dmt_tui.trainer.session import Session


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write a state_dict to a temporary file, then rename it over `path`. Serialized in
    memory first and written by Python, so that a full disk or a deleted folder raises an
    OSError naming `path` ("No space left on device"), not torch's zip writer's
    "unexpected pos" RuntimeError; the temporary file is removed on failure."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(buffer.getbuffer())
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OSError(err.errno, err.strerror, str(path)) from None


class BestWeights:
    """The best epoch's weights: kept in memory (for restore_best) and written to best.pt
    when val_loss improves, at most once every EVERY_S, and always when the run ends: a save
    can cost as much as a small model's epoch, and early epochs improve nearly every time.
    A run killed outright may find best.pt up to EVERY_S behind its events."""

    EVERY_S = 1.0

    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: this rank does not write the run directory
        self.state: dict[str, torch.Tensor] | None = None
        self._unsaved = False
        self._saved_at = -math.inf

    def improved(self, model: nn.Module) -> None:
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self._unsaved = True
        if time.monotonic() - self._saved_at >= self.EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self.path is not None and self.state is not None and self._unsaved:
            save_checkpoint(self.state, self.path)
            self._unsaved, self._saved_at = False, time.monotonic()


def load_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A best.pt state_dict. weights_only: a checkpoint is data, and unpickling arbitrary
    objects from a shared runs folder would run whatever code they name."""
    return torch.load(path, map_location="cpu", weights_only=True)


LAST = rundir.LAST  # the run's latest epoch boundary, for `dmt-tui train --resume`


class LastCheckpoint:
    """last.pt: everything a resumed run needs to go on as if it had never stopped (model,
    optimizer, schedule step, the shuffle's and torch's RNG states, early stopping, the best
    weights so far, the epoch). Written between epochs, never inside one, at most once every
    EVERY_S (a save reads every tensor back to the host, and on CUDA that waits for the
    device), and always after the first epoch and a run's last one."""

    EVERY_S = 5.0

    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: this rank does not write the run directory
        self._saved_at = -math.inf  # the first epoch is saved: any run that ends has one

    def epoch_done(self, state: Callable[[], dict[str, Any]], last: bool) -> None:
        """After an epoch's events: save `state()` when EVERY_S has passed, or when this
        was the run's last epoch."""
        if self.path is None or not (last or time.monotonic() - self._saved_at >= self.EVERY_S):
            return
        save_checkpoint(state(), self.path)
        self._saved_at = time.monotonic()


def load_last(path: Path) -> dict[str, Any]:
    """A last.pt, as data only (see load_checkpoint)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def snapshot(session: Session, trainer: Trainer, early: EarlyStopping, best: BestWeights,
             epoch: int) -> dict[str, Any]:
    """last.pt's contents after `epoch`: all a resumed run restores (`restore`)."""
    device = session.device
    return {
        "epoch": epoch,
        "model": session.model.state_dict(),
        "optimizer": session.optimizer.state_dict(),
        "step": trainer.step,  # optimizer steps so far: where the schedule goes on from
        "shuffle_rng": trainer.shuffle.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "early_stopping": {"best": early.best, "best_epoch": early.best_epoch,
                           "wait": early.wait},
        "best_weights": best.state,
    }


def restore(state: dict[str, Any], session: Session, trainer: Trainer, early: EarlyStopping,
            best: BestWeights) -> None:
    """Put a last.pt's contents back, so that the next epoch trains as it would have.
    Raises ValueError when the checkpoint does not fit this session."""
    try:
        session.model.load_state_dict(state["model"])
        session.optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, KeyError, ValueError) as err:
        raise ValueError(f"{LAST} does not fit this run's model or optimizer: "
                         f"{str(err).splitlines()[0]}") from None
    trainer.step = int(state["step"])
    trainer.set_lr()  # the config's lr (a --set may change it) or the schedule's, next step
    trainer.shuffle.set_state(state["shuffle_rng"])
    torch.set_rng_state(state["torch_rng"])
    if state.get("cuda_rng") is not None and session.device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"], session.device)
    stopping = state["early_stopping"]
    early.best, early.best_epoch, early.wait = (float(stopping["best"]),
                                                int(stopping["best_epoch"]), int(stopping["wait"]))
    best.state = state.get("best_weights")  # best.pt already holds them
