"""One run from start to end: the loop around the loop. Writes `start`, an `epoch` and a
`grad` event per epoch, then `end`, keeps status.json and best.pt current, and turns every
way a run can end into one of the five end states."""

from __future__ import annotations

import contextlib
import math
import os
import time
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

from dmt_tui import rundir
from dmt_tui.presets.schema import ConfigError
from dmt_tui.rundir.experiment import start_fields
from dmt_tui.trainer import distributed
from dmt_tui.trainer.boundary import BoundaryMonitor
from dmt_tui.trainer.checkpoint import LAST, BestWeights, LastCheckpoint, restore, snapshot
from dmt_tui.trainer.distributed import SINGLE, Ranks
from dmt_tui.trainer.divergence import DivergenceGuard, guard_for
from dmt_tui.trainer.host import Heartbeat, Silent, StopRequest
from dmt_tui.trainer.loop import (
    EpochResult,
    Session,
    Trainer,
    prepare,
)
from dmt_tui.trainer.monitor import EarlyStopping

EXIT_CODES = {"finished": 0, "early_stopped": 0, "failed": 1, "diverged": 3, "stopped": 4}


def run(config: dict[str, Any], run_dir: Path, echo: Callable[[str], None] = print,
        session: Session | None = None, ranks: Ranks = SINGLE,
        stop: StopRequest | None = None,
        resume: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train `config` into `run_dir` (which holds config.yaml already); return the `end`
    event. `session` is the prepared D and M blocks, built here when not given. `stop` is a
    stop request already listening (the command line takes the signals before importing
    torch); otherwise one listens here until the run ends. `resume`: a last.pt's contents,
    to go on from (trainer.resume). Under `--nproc` every rank calls this; only rank 0
    writes the run directory."""
    own_stop = stop is None
    if stop is None:  # not `stop or ...`: a request not yet made is falsy
        stop = StopRequest()
        stop.install()
    try:
        return _run(config, run_dir, echo, session, ranks, stop, resume)
    finally:
        if own_stop:
            stop.restore()


def _run(config: dict[str, Any], run_dir: Path, echo: Callable[[str], None],
         session: Session | None, ranks: Ranks, stop: StopRequest,
         resume: dict[str, Any] | None = None) -> dict[str, Any]:
    train = config["train"]
    heartbeat: Heartbeat | Silent = Silent()
    events: rundir.EventLog | Silent = Silent()
    end: dict[str, Any] = {}
    peers: list[dict[str, Any]] = []
    try:
        if ranks.main:
            heartbeat = Heartbeat(run_dir, state="starting", pid=os.getpid(),
                                  run_id=run_dir.name, preset=config["name"],
                                  epochs=train["epochs"], epoch=resume["epoch"] if resume else 0,
                                  started=round(time.time(), 3), world_size=ranks.world)
            events = rundir.EventLog(run_dir)
        else:
            echo = _quiet
        if session is None:
            session = prepare(config, run_dir.parent, ranks)
        peers = distributed.describe_ranks(ranks)
        end = _fit(session, run_dir, events, heartbeat, stop, echo, peers, resume)
    except ConfigError as err:  # a CSV or device problem found in a launched trainer
        end = {"state": "failed", "reason": str(err), "error": str(err)}
    except torch.cuda.OutOfMemoryError as err:
        end = {"state": "failed", "reason": "CUDA out of memory",
               "error": str(err).splitlines()[0]}
    except OSError as err:  # a full disk or a folder gone: say which file
        end = _disk_error(err, run_dir)
    except Exception as err:  # noqa: BLE001 - any crash is recorded as `failed`, then shown
        traceback.print_exc()
        reason = f"{type(err).__name__}: {err}".splitlines()[0]
        distributed.report_error(ranks, reason)
        if ranks.enabled and ranks.main and peers:
            who = distributed.who_failed(ranks, peers)  # the collective's own error is long
            reason = who if who.startswith("rank ") else f"{who} ({reason[:120]})"
        end = {"state": "failed", "reason": reason, "error": traceback.format_exc(limit=5)}
    finally:
        end = _finish(run_dir, events, heartbeat, end, echo, writes=ranks.main)
    return end


def _quiet(line: str) -> None:
    """Ranks other than 0 print no epoch lines."""


def _disk_error(err: OSError, run_dir: Path) -> dict[str, Any]:
    """The `end` of a run whose files could not be written: the file and the OS's words."""
    where = f"{err.filename}: " if err.filename else ""
    reason = f"{where}{err.strerror or err}"
    if not run_dir.is_dir():
        reason = f"{run_dir}: the run folder was deleted while the run was training"
    return {"state": "failed", "reason": reason, "error": f"{type(err).__name__}: {err}"}


def _finish(run_dir: Path, events: rundir.EventLog | Silent, heartbeat: Heartbeat | Silent,
            end: dict[str, Any], echo: Callable[[str], None], writes: bool) -> dict[str, Any]:
    """Write `end` and the final status, as far as the disk lets us. Nothing here may
    raise: an error on the way out would hide the one that ended the run."""
    end.setdefault("state", "failed")
    end.setdefault("reason", "the trainer stopped unexpectedly")
    for key in ("best_epoch", "best_val_loss"):
        end.setdefault(key, heartbeat.fields.get(key))
    end.setdefault("epochs", heartbeat.fields.get("epoch", 0))
    if writes and not run_dir.is_dir():
        end.update(state="failed", reason=f"{run_dir}: the run folder was deleted while the "
                   f"run was training")
    written = {"type": "end", **end}
    with contextlib.suppress(OSError):
        written = events.write("end", **end)
    with contextlib.suppress(OSError):
        events.close()
    with contextlib.suppress(OSError):
        heartbeat.close(state=end["state"], reason=end["reason"])
    # Users read `early-stopped` (the app, `dmt-tui runs`); files keep `early_stopped`.
    with contextlib.suppress(OSError):
        echo(f"{str(end['state']).replace('_', '-')}: {end['reason']}")
    return written


# What rank 0 decides after an epoch; every rank follows the broadcast decision.
GO_ON, STOPPED_MID_EPOCH, DIVERGED, EARLY_STOPPED, STOPPED = range(5)


def _fit(session: Session, run_dir: Path, events: rundir.EventLog | Silent,
         heartbeat: Heartbeat | Silent, stop: StopRequest, echo: Callable[[str], None],
         peers: list[dict[str, Any]], resume: dict[str, Any] | None = None) -> dict[str, Any]:
    config, ranks = session.config, session.ranks
    es_config = config["early_stopping"]
    trainer = Trainer(session, events, stop)
    data = session.data
    early = EarlyStopping(es_config["patience"], es_config["min_delta"])
    best = BestWeights(run_dir / rundir.BEST if ranks.main else None)
    guard = guard_for(session)  # measures the untrained model's loss: before any resume
    if resume is not None:  # the seam: what follows goes on from the checkpoint's epoch
        restore(resume, session, trainer, early, best)
        events.write("resume", epoch=resume["epoch"], epochs=config["train"]["epochs"],
                     pid=os.getpid(), device=str(session.device))
    else:
        events.write(
            "start", run_id=run_dir.name, preset=config["name"], device=str(session.device),
            torch_version=torch.__version__,
            n_params=sum(p.numel() for p in session.model.parameters()),
            n_train=len(session.x_train), n_val=len(session.x_val),
            steps_per_epoch=trainer.steps_per_epoch, layers=trainer.layer_names, pid=os.getpid(),
            task=data.task, n_classes=data.n_classes, features=data.features, classes=data.classes,
            threads=session.cores.threads, dtype=config["train"]["dtype"], world_size=ranks.world,
            ranks=peers, cuda_graphs=trainer.train_step.graphed,
            **start_fields(config))  # an experiment's trial: experiment, group, seed
    heartbeat.update(state="running", device=str(session.device))
    last = LastCheckpoint(run_dir / LAST if ranks.main else None)
    first = resume["epoch"] + 1 if resume else 1
    try:
        boundary = BoundaryMonitor(session, events)
        end = _epochs(session, trainer, events, heartbeat, stop, echo, early, best, last, guard,
                      boundary, first)
        boundary.finish(heartbeat.fields.get("epoch", 0))  # the last epoch's boundary
        trainer.grad_events(trainer.take_grads())  # the last epochs' histograms
    except BaseException:
        with contextlib.suppress(Exception):  # the error on its way out says what went wrong
            best.flush()  # whatever ended the run, best.pt holds the best epoch seen
        raise
    best.flush()
    if es_config["restore_best"] and best.state is not None:
        session.model.load_state_dict(best.state)
    end.update(epochs=heartbeat.fields.get("epoch", 0), best_epoch=early.best_epoch or None,
               best_val_loss=early.best if early.best_epoch else None)
    return end


def _epochs(session: Session, trainer: Trainer, events: rundir.EventLog | Silent,
            heartbeat: Heartbeat | Silent, stop: StopRequest, echo: Callable[[str], None],
            early: EarlyStopping, best: BestWeights, last: LastCheckpoint,
            guard: DivergenceGuard, boundary: BoundaryMonitor, first: int = 1) -> dict[str, Any]:
    """The epoch loop from epoch `first`; returns the `end` event's state and reason."""
    config, ranks = session.config, session.ranks
    epochs, es_config = config["train"]["epochs"], config["early_stopping"]
    end: dict[str, Any] = {}
    by = "a stop request on another rank"
    for number in range(first, epochs + 1):
        began = time.monotonic()
        threads = session.cores.rebalance()
        result = trainer.epoch(number)
        # the lr of the epoch's last step (the schedule has already set the next one)
        lr = trainer.lr_at(trainer.step) if trainer.lr_at else trainer.base_lr
        finite = math.isfinite(result.train_loss) and math.isfinite(result.val_loss)
        blown = guard.check(result.train_loss, result.val_loss, number, lr) \
            if finite and not result.stopped else None
        finite = finite and blown is None  # a blown-up loss ends the run like a NaN one
        improved = not result.stopped and finite and early.update(result.val_loss, number)
        decision = distributed.broadcast_int(_decide(result, finite, early), ranks,
                                             session.device)
        by = stop.signal_name or by
        if decision == STOPPED_MID_EPOCH:
            # the epoch's read may have brought the norms of epochs recorded before it
            trainer.grad_events(result.grads)
            end = {"state": "stopped", "reason": f"stopped by {by} in epoch {number}, step "
                   f"{result.steps}; epoch {number} is not recorded"}
            break
        if improved:
            best.improved(session.model)
        seconds = time.monotonic() - began
        events.write("epoch", epoch=number, train_loss=result.train_loss,
                     val_loss=result.val_loss, train_acc=result.train_acc,
                     val_acc=result.val_acc, lr=lr, seconds=round(seconds, 4), **early.fields(),
                     threads=threads)
        heartbeat.update(epoch=number, best_epoch=early.best_epoch or None,
                         best_val_loss=early.best if early.best_epoch else None)
        trainer.grad_events(result.grads)
        boundary.after_epoch(number)
        echo(epoch_line(number, epochs, result, early, lr, seconds))
        last.epoch_done(partial(snapshot, session, trainer, early, best, number),
                        last=decision != GO_ON or number == epochs)
        if decision == DIVERGED:
            which = "train_loss" if not math.isfinite(result.train_loss) else "val_loss"
            value = result.train_loss if which == "train_loss" else result.val_loss
            end = {"state": "diverged", "reason": blown or f"{which} became {value} at epoch "
                   f"{number} (lr {lr:.3g}; try a smaller learning rate)"}
            break
        if decision == EARLY_STOPPED:
            end = {"state": "early_stopped",
                   "reason": f"val_loss did not improve by more than {es_config['min_delta']:g} "
                             f"for {early.patience} epochs; best {early.best:.6g} at epoch "
                             f"{early.best_epoch}"}
            break
        if decision == STOPPED:
            end = {"state": "stopped", "reason": f"stopped by {by} after epoch {number}"}
            break
    else:
        end = {"state": "finished", "reason": f"completed all {epochs} epochs"}
    return end


def _decide(result: EpochResult, finite: bool, early: EarlyStopping) -> int:
    if result.stopped:
        return STOPPED_MID_EPOCH
    if not finite:
        return DIVERGED
    if early.should_stop:
        return EARLY_STOPPED
    return STOPPED if result.stop_after else GO_ON


def epoch_line(number: int, total: int, r: EpochResult, es: EarlyStopping, lr: float,
               seconds: float) -> str:
    def acc(value: float | None) -> str:
        return "" if value is None else f" acc {value * 100:5.1f}%"

    width = len(str(total))
    early = f"{es.wait}/{es.patience}" if es.patience else "off"
    return (f"epoch {number:>{width}}/{total}  train {r.train_loss:.4g}{acc(r.train_acc)}  "
            f"val {r.val_loss:.4g}{acc(r.val_acc)}  early-stop {early}  "
            f"lr {lr:.3g}  {seconds:.2f}s")
