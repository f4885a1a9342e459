"""Start a trainer as its own process in its own session (torch-free: the app calls this).

The child runs `python -m dmt_tui.trainer train <run_dir>/config.yaml --run-dir <run_dir>`, the
code path of `dmt-tui train` (or `train --resume RUN_ID [--set train.epochs=N]`, that of
`dmt-tui train --resume`).
`start_new_session=True` puts it in a new session, so a dropped SSH connection (SIGHUP to the
app's session) or the app's death leaves it training.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from dmt_tui import rundir
from dmt_tui.presets.schema import dump


def launch(config: dict[str, Any], runs_dir: Path, nproc: int = 1, *,
           folder_name: str | None = None,
           env: dict[str, str] | None = None) -> tuple[Path, subprocess.Popen[bytes]]:
    """Create the run folder with config.yaml and a `starting` status, then start the trainer
    (as `nproc` data-parallel processes when more than one). The folder is
    named after `folder_name` (an experiment's trial) or the preset; `env` is added to the
    trainer's environment. Raises rundir.RunDirError when the runs folder cannot be written."""
    run_dir = rundir.create_run_dir(runs_dir, folder_name or config["name"])
    try:
        rundir.write_config(run_dir, dump(config))
        rundir.write_status(run_dir, state="starting", pid=None, run_id=run_dir.name,
                            preset=config["name"], epochs=config["train"]["epochs"], epoch=0)
        log = open(run_dir / rundir.LOG, "ab")  # noqa: SIM115 - the child owns it from here
    except OSError as err:
        rundir.remove_unstarted(run_dir)  # no half-made run left to show as `starting`
        where = err.filename or run_dir
        raise rundir.RunDirError(f"{where}: cannot write the run folder: "
                                 f"{err.strerror or err}; nothing was started") from None
    with log:
        process = _start([str(run_dir / rundir.CONFIG), "--run-dir", str(run_dir), "--quiet",
                          "--nproc", str(nproc)], log, env)
    _note_pid(run_dir, process.pid)
    return run_dir, process


def resume(run_dir: Path, epochs: int | None = None) -> subprocess.Popen[bytes]:
    """Start `train --resume` on an ended run in its own folder: it goes on from last.pt,
    appending to its events and its log, to `epochs` in all where given (see
    resume_arguments). The caller checks first (a live run, no last.pt): the trainer refuses
    those too, but only into the log. Raises rundir.RunDirError when the log cannot be
    opened."""
    arguments = resume_arguments(run_dir, epochs)
    try:
        log = open(run_dir / rundir.LOG, "ab")  # noqa: SIM115 - the child owns it from here
    except OSError as err:
        raise rundir.RunDirError(f"{err.filename or run_dir}: cannot write the run's log: "
                                 f"{err.strerror or err}; nothing was started") from None
    with log:
        return _start(arguments, log, None)


def resume_arguments(run_dir: Path, epochs: int | None = None) -> list[str]:
    """The `train` arguments that resume the run: with `--set train.epochs=N` where `epochs`
    differs from the total in its config.yaml (an unreadable config.yaml counts as differing:
    the trainer then says what is wrong with it). The trainer checks N, as it checks any
    --set given to --resume."""
    arguments = [f"--resume={run_dir.name}", "--runs-dir", str(run_dir.parent), "--quiet"]
    if epochs is not None:
        train = rundir.read_config(run_dir)[0].get("train")
        planned = train.get("epochs") if isinstance(train, dict) else None
        if epochs != planned or isinstance(planned, bool):
            arguments += ["--set", f"train.epochs={epochs}"]
    return arguments


def _start(args: list[str], log: IO[bytes], env: dict[str, str] | None) -> subprocess.Popen[bytes]:
    """`python -P -m dmt_tui.trainer train ARGS` in a session of its own, writing to `log`.
    The child starts with SIGTERM blocked, until it has taken its stop signals
    (trainer/stop.py): a stop sent while it starts (its pid is in status.json from the
    moment it exists) then waits for it and ends the run `stopped`, instead of killing it."""
    unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    with _restored(unblocked):
        return subprocess.Popen(
            [sys.executable, "-P", "-m", "dmt_tui.trainer", "train", *args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
            # -P, PYTHONSAFEPATH: the installed dmt_tui runs, never a same-named folder in the cwd.
            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1", "PYTHONSAFEPATH": "1"},
        )


@contextlib.contextmanager
def _restored(mask: set[int | signal.Signals]) -> Iterator[None]:
    """This thread's signal mask put back as it was, whatever happens inside."""
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _note_pid(run_dir: Path, pid: int) -> None:
    """The child's pid (and, through write_status, this host) in status.json at once: a
    trainer that dies before it writes its own (a python that cannot import us, an argument
    it refuses) then reads `crashed` as soon as it is gone, not `starting` until its heartbeat
    goes stale. Only over the `starting` status written above: a child quick enough to have
    written its own status already knows better."""
    status = rundir.read_status(run_dir)
    if status.get("state") == "starting" and status.get("pid") is None:
        with contextlib.suppress(OSError):  # the child reports a folder it cannot write
            rundir.write_status(run_dir, **{**status, "pid": pid})


def stop(run_dir: Path) -> bool:
    """Ask a live run's trainer to stop (SIGTERM); False when there is no live process."""
    status = rundir.read_status(run_dir)
    pid = status.get("pid")
    if not isinstance(pid, int) or rundir.effective_state(status) not in rundir.LIVE_STATES:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True
