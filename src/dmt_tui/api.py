"""Your own training loop in the same monitor: `dmt_tui.Run` writes a run folder by the
run-directory contract (README, "Run directory"), so the app, `dmt-tui runs` and
`dmt-tui export` show a script's run like one the built-in trainer wrote.

    with dmt_tui.Run("my-net", config=cfg, runs_dir="runs") as run:
        run.watch(model)
        for epoch in range(epochs):
            ...  # the script's own loop; optimizer.step() as usual
            run.epoch(train_loss=..., val_loss=..., val_acc=..., lr=..., any_metric=...)
            if run.should_stop:
                break

This module never imports torch itself: `watch()` does (via dmt_tui.grad_watch) when it is
given a model, by which time the script has imported torch. It never imports Textual.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

import yaml

from dmt_tui import rundir
from dmt_tui.rundir.heartbeat import Heartbeat
from dmt_tui.trainer.monitor import EarlyStopping, layer_norms, norm_histograms

if TYPE_CHECKING:
    from torch import nn

    from dmt_tui.grad_watch import GradWatch
    from dmt_tui.trainer.checkpoint import BestWeights

PROGRESS_EVERY_S = 0.5  # `progress` events from the step hook: at most two a second
LOSSES = ("train_loss", "val_loss")
# written by the Run itself: an `epoch` keyword of that name would overwrite the contract's field
RESERVED = ("type", "time", "epoch", "seconds", "es_wait", "es_patience", "es_best",
            "es_best_epoch", "threads")


def _plain(value: Any) -> Any:
    """A config value as YAML can hold it: containers as dicts and lists, numbers, text;
    anything else (a Path, a dtype) as its text."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy or torch scalar
        return _plain(value.item())
    return str(value)


def _config_dict(config: Any, name: str) -> dict[str, Any]:
    """The user's config as a dict with the run's name first."""
    if config is None:
        config = {}
    elif isinstance(config, argparse.Namespace):
        config = vars(config)
    elif dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    if not isinstance(config, Mapping):
        raise TypeError(f"Run(config=...) takes a dict, a dataclass or an argparse.Namespace, "
                        f"not {type(config).__name__}")
    plain = _plain(config)
    if plain.get("name", name) != name:
        raise ValueError(f"Run({name!r}): config['name'] is {plain['name']!r}; leave `name` out "
                         "of the config or give the run the same name")
    return {"name": name, **{k: v for k, v in plain.items() if k != "name"}}


def _setting(config: dict[str, Any], dotted: str, default: Any, ok: Any, allowed: str) -> Any:
    """`section.key` of the config, checked; a bad value is one error naming the key."""
    section, key = dotted.split(".")
    part = config.get(section)
    value = part.get(key, default) if isinstance(part, dict) else default
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not ok(value):
        raise ValueError(f"Run config {dotted}: {value!r} is not allowed; {allowed}")
    return value


def _number(name: str, value: Any) -> float | None:
    """A metric as a float; None stays None (not measured). Anything else is an error."""
    if value is None:
        return None
    if not isinstance(value, bool | str | bytes):
        detach = getattr(value, "detach", None)  # a tensor: no autograd warning
        try:
            return float(detach() if callable(detach) else value)  # read once an epoch
        except (TypeError, ValueError, RuntimeError):
            pass
    raise ValueError(f"run.epoch(): metric {name!r} is {value!r:.60} ({type(value).__name__}), "
                     "not a number; pass a float, an int or a one-element tensor")


class Run:
    """One run of the user's own training loop, written to `runs_dir/<YYYYmmdd-HHMMSS>-<name>/`.

    `config` (a dict, dataclass or argparse.Namespace) is written to config.yaml; the keys the
    built-in trainer uses keep their meaning: `train.epochs` (the total shown in the app),
    `train.hist_bins`, and `early_stopping.patience` (0, the default here, turns it off),
    `early_stopping.min_delta`, `early_stopping.restore_best`. `model` gets best.pt (the
    weights of the best val_loss epoch) without watching it; `watch()` sets it too."""

    def __init__(self, name: str, config: Any = None,
                 runs_dir: str | os.PathLike[str] | None = None, *,
                 model: nn.Module | None = None) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"Run(name): {name!r} is not a name; give a short text like 'my-net'")
        self.name = name
        self.config = _config_dict(config, name)
        self.runs_dir = Path(runs_dir) if runs_dir is not None else rundir.default_runs_dir()
        self.epochs_total: int | None = _setting(self.config, "train.epochs", None,
                                                 lambda v: float(v).is_integer() and v > 0,
                                                 "a whole number > 0")
        self.hist_bins = int(_setting(self.config, "train.hist_bins", 24,
                                      lambda v: float(v).is_integer() and 2 <= v <= 200,
                                      "a whole number from 2 to 200"))
        patience = _setting(self.config, "early_stopping.patience", 0,
                            lambda v: float(v).is_integer() and v >= 0,
                            "a whole number >= 0 (0: off)")
        min_delta = _setting(self.config, "early_stopping.min_delta", 0.0, lambda v: v >= 0,
                             "a number >= 0")
        es = self.config.get("early_stopping")
        self.restore_best = isinstance(es, dict) and es.get("restore_best") is True
        self.early = EarlyStopping(int(patience), float(min_delta))
        self.run_dir: Path | None = None
        self.epoch_count = 0  # epochs recorded
        self.model = model
        self._watch: GradWatch | None = None
        self._best: BestWeights | None = None
        self._events: rundir.EventLog | None = None
        self._heartbeat: Heartbeat | None = None
        self._started = False  # the `start` event is written
        self._decision: dict[str, Any] | None = None  # diverged or early_stopped: the end event
        self._signal = ""  # the name of a stop signal received
        self._old_handler: Any = None
        self._epoch_began = time.monotonic()
        self._last_progress = 0.0
        self._steps_per_epoch: int | None = None
        self.ended: dict[str, Any] | None = None

    # ---- beginning and end -----------------------------------------------------------------

    def __enter__(self) -> Run:
        return self.begin()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.end(error)  # an exception goes on to the caller after the run records it

    def begin(self, handle_sigterm: bool = True) -> Run:
        """Create the run folder: config.yaml, status.json (then a heartbeat), events.jsonl.
        Raises rundir.RunDirError when the runs folder cannot be written. `handle_sigterm`:
        SIGTERM (the app's `s`) sets `should_stop` (a second one raises KeyboardInterrupt)."""
        if self.run_dir is not None:
            raise RuntimeError(f"Run({self.name!r}) has begun already; a Run is used once")
        run_dir = rundir.create_run_dir(self.runs_dir, self.name)
        try:
            (run_dir / rundir.CONFIG).write_text(
                yaml.safe_dump(self.config, sort_keys=False, default_flow_style=None), "utf-8")
            self._heartbeat = Heartbeat(
                run_dir, state="starting", pid=os.getpid(), run_id=run_dir.name,
                preset=self.name, epochs=self.epochs_total or 0, epoch=0,
                started=round(time.time(), 3), world_size=1)
            self._events = rundir.EventLog(run_dir)
        except OSError as err:
            reason = f"{run_dir}: cannot write the run folder: {err.strerror or err}"
            if self._heartbeat is not None:  # no live state left behind with a beat
                with contextlib.suppress(OSError):
                    self._heartbeat.close(state="failed", reason=reason)
            raise rundir.RunDirError(reason) from None
        self.run_dir = run_dir
        if self.model is not None:
            self._keep_best(self.model)
        if handle_sigterm and threading.current_thread() is threading.main_thread():
            self._old_handler = signal.signal(signal.SIGTERM, self._on_sigterm)
        self._epoch_began = time.monotonic()
        return self

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if self._signal:  # asked twice: the loop does not look at should_stop
            raise KeyboardInterrupt("a second SIGTERM")
        self._signal = signal.Signals(signum).name

    def _keep_best(self, model: nn.Module) -> None:
        from dmt_tui.trainer.checkpoint import BestWeights  # imports torch: a model is here

        assert self.run_dir is not None
        self.model = model
        self._best = BestWeights(self.run_dir / rundir.BEST)

    def _live(self, what: str) -> tuple[rundir.EventLog, Heartbeat]:
        if self._events is None or self._heartbeat is None or self.ended is not None:
            state = "has ended" if self.ended is not None else "has not begun"
            raise RuntimeError(f"run.{what}(): the run {state}; call it inside "
                               f"`with dmt_tui.Run(...) as run:`")
        return self._events, self._heartbeat

    def _write_start(self) -> None:
        """The `start` event, once the model is known (watch) or at the first epoch."""
        if self._started:
            return
        events, heartbeat = self._live("start")
        self._started = True
        torch = sys.modules.get("torch")
        device = str(self._watch.device) if self._watch is not None else None
        events.write("start", run_id=heartbeat.fields["run_id"], preset=self.name,
                     device=device, torch_version=getattr(torch, "__version__", None),
                     n_params=self._watch.n_params if self._watch is not None else None,
                     layers=self._watch.names if self._watch is not None else [],
                     pid=os.getpid(), source="api", world_size=1)
        heartbeat.update(state="running", device=device)

    def end(self, error: BaseException | None = None, *, state: str | None = None,
            reason: str = "") -> dict[str, Any]:
        """Write the `end` event and the final status; return the `end` event. An exception
        ends the run `failed` (KeyboardInterrupt: `stopped`); otherwise early stopping,
        divergence or SIGTERM decide, else `finished`. `state` and `reason` (an integration's
        own early stopping, say) decide when nothing above has."""
        if self.ended is not None:
            return self.ended
        if self._events is None or self._heartbeat is None:
            raise RuntimeError(f"Run({self.name!r}).end(): the run has not begun")
        number = self.epoch_count
        if isinstance(error, KeyboardInterrupt):
            end = {"state": "stopped", "reason": f"stopped by {error or 'Ctrl-C'} "
                   f"(KeyboardInterrupt) after epoch {number}"}
        elif error is not None and not (isinstance(error, SystemExit) and not error.code):
            reason = f"{type(error).__name__}: {error}".splitlines()[0]
            end = {"state": "failed", "reason": reason, "error": "".join(
                traceback.format_exception(type(error), error, error.__traceback__, limit=-8))}
        elif self._decision is not None:
            end = self._decision
        elif self._signal:
            end = {"state": "stopped", "reason": f"stopped by {self._signal} after epoch {number}"}
        elif state is not None:
            if state not in rundir.END_STATES:
                raise ValueError(f"run.end(state={state!r}): one of {', '.join(rundir.END_STATES)}")
            end = {"state": state, "reason": reason or state}
        elif self.epochs_total and number >= self.epochs_total:
            end = {"state": "finished", "reason": f"completed all {number} epochs"}
        else:
            end = {"state": "finished", "reason": f"the script ended the run after {number} "
                   f"epoch{'s' if number != 1 else ''}"}
        return self._finish(end)

    def _finish(self, end: dict[str, Any]) -> dict[str, Any]:
        assert self._events is not None and self._heartbeat is not None
        if self._watch is not None:
            self._watch.close()
        if self._old_handler is not None:
            signal.signal(signal.SIGTERM, self._old_handler)
            self._old_handler = None
        early = self.early
        end.update(epochs=self.epoch_count, best_epoch=early.best_epoch or None,
                   best_val_loss=early.best if early.best_epoch else None)
        try:
            self._write_start()  # a run that ended before watch() or an epoch still has one
            if self._best is not None:
                self._best.flush()
                if self.restore_best and self._best.state is not None and self.model is not None:
                    self.model.load_state_dict(self._best.state)
            self.ended = self._events.write("end", **end)
            self._events.close()
        except OSError:  # a full disk: the state still goes to status.json if it can
            self.ended = {"type": "end", **end}
        try:
            self._heartbeat.close(state=end["state"], reason=end["reason"])
        except OSError:
            pass
        return self.ended

    # ---- during the run --------------------------------------------------------------------

    def watch(self, model: nn.Module, *, hook: bool = True) -> None:
        """Per-step L2 gradient norms of every parameterised layer of `model` (named by module
        path), taken after each `optimizer.step()` on the model's device and read once an
        epoch: each `epoch()` writes that epoch's `grad` event. Also keeps best.pt for it.
        `hook=False`: no optimizer hook; call `record_step()` once the gradients are ready."""
        self._live("watch")
        if self._watch is not None:
            raise RuntimeError("run.watch(): this run watches a model already; one model a run")
        from dmt_tui.grad_watch import GradWatch  # imports torch: a model is here

        self._watch = GradWatch(model, self._on_step, hook=hook)
        if self._best is None:
            self._keep_best(model)
        self._write_start()

    def record_step(self) -> None:
        """Take this step's gradient norms now (for `watch(model, hook=False)`)."""
        if self._watch is None:
            raise RuntimeError("run.record_step(): call run.watch(model) first")
        self._watch.record()
        self._on_step()

    def _on_step(self) -> None:
        """After each watched step: a `progress` event at most every PROGRESS_EVERY_S."""
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_EVERY_S or self._events is None \
                or self._watch is None or self.ended is not None:
            return
        self._last_progress = now
        self._events.write("progress", epoch=self.epoch_count + 1, step=self._watch.steps,
                           steps=self._steps_per_epoch)

    @property
    def should_stop(self) -> bool:
        """True once early stopping, a non-finite loss or SIGTERM (the app's `s`) ends the
        run: leave the loop, and the run ends in that state."""
        return self._decision is not None or bool(self._signal)

    def epoch(self, **metrics: Any) -> None:
        """Record one epoch: `train_loss`, `val_loss`, `train_acc`, `val_acc`, `lr` (each
        optional) and any other numbers, kept in the `epoch` event under their names. A
        value that is not a number raises ValueError and writes nothing."""
        events, heartbeat = self._live("epoch")
        clash = [name for name in metrics if name in RESERVED]
        if clash:
            raise ValueError(f"run.epoch(): {', '.join(map(repr, clash))} is written by the run "
                             f"itself; choose another name (reserved: {', '.join(RESERVED)})")
        values = {name: _number(name, value) for name, value in metrics.items()}
        if values.get("lr") is None and self._watch is not None:
            values["lr"] = self._watch.lr()
        self._write_start()
        number = self.epoch_count = self.epoch_count + 1
        now = time.monotonic()
        seconds, self._epoch_began = now - self._epoch_began, now
        losses = {k: v for k in LOSSES if (v := values.get(k)) is not None}
        finite = all(math.isfinite(v) for v in losses.values())
        val_loss = values.get("val_loss")
        improved = finite and val_loss is not None and self.early.update(val_loss, number)
        fields = {k: values.pop(k, None) for k in (*LOSSES, "train_acc", "val_acc", "lr")}
        events.write("epoch", epoch=number, **fields, seconds=round(seconds, 4),
                     **self.early.fields(), **values)
        self._grad_event(events, number)
        if improved and self._best is not None and self.model is not None:
            self._best.improved(self.model)
        best = self.early.best_epoch
        heartbeat.update(epoch=number, best_epoch=best or None,
                         best_val_loss=self.early.best if best else None)
        if self._decision is None:
            self._decide(number, finite, losses, fields["lr"])

    def _grad_event(self, events: rundir.EventLog, number: int) -> None:
        """This epoch's histograms of per-step norms, binned as the trainer bins them."""
        if self._watch is None:
            return
        per_param = self._watch.take()
        if not len(per_param):
            return
        self._steps_per_epoch = len(per_param)
        table = layer_norms(per_param, self._watch.groups)
        summaries = norm_histograms(table, self.hist_bins, [*self._watch.names, "total"])
        events.write("grad", epoch=number, layers=summaries[:-1], total=summaries[-1])

    def _decide(self, number: int, finite: bool, losses: dict[str, float],
                lr: float | None) -> None:
        if not finite:
            which = next(k for k, v in losses.items() if not math.isfinite(v))
            at = f" (lr {lr:.3g})" if lr is not None else ""
            self._decision = {"state": "diverged",
                              "reason": f"{which} became {losses[which]} at epoch {number}{at}"}
        elif self.early.should_stop:
            early = self.early
            self._decision = {
                "state": "early_stopped",
                "reason": f"val_loss did not improve by more than {early.min_delta:g} for "
                          f"{early.patience} epochs; best {early.best:.6g} at epoch "
                          f"{early.best_epoch}"}
