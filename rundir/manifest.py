"""The experiment manifest: `RUNS_DIR/experiments/<id>.json`, replaced atomically.

Its id, the base preset, the grid, variants and seeds, each trial's configuration, run id
and state, and the scheduler's pid and heartbeat. The scheduler alone writes it while it
lives; readers (`dmt-tui experiments`, the app) take a started trial's state from its run
folder, which is always current, and the manifest's for trials not yet started.
The `experiments` folder holds no status.json or events.jsonl, so run scanners skip it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from dmt_tui import rundir
from dmt_tui.presets.schema import NAME_PATTERN
from dmt_tui.rundir.experiment import Plan

FOLDER = "experiments"
QUEUED, CANCELLED = "queued", "cancelled"
GOOD_ENDS = ("finished", "early_stopped")
ENDED = (*rundir.END_STATES, "crashed", CANCELLED)
HEARTBEAT_S = 2.0  # the scheduler rewrites the manifest at least this often


def folder(runs_dir: Path) -> Path:
    return runs_dir / FOLDER


def path_of(runs_dir: Path, experiment_id: str) -> Path:
    return folder(runs_dir) / f"{experiment_id}.json"


def log_path(runs_dir: Path, experiment_id: str) -> Path:
    return folder(runs_dir) / f"{experiment_id}.log"


def create(runs_dir: Path, plan: Plan, name: str, parallel: int) -> dict[str, Any]:
    """Write a new manifest under a fresh id `YYYYmmdd-HHMMSS-<name>[-N]` and return it.
    Raises rundir.RunDirError when the runs folder cannot be written."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{rundir.safe_name(name)}"[:64]
    manifest: dict[str, Any] = {
        "version": 1, "id": "", "name": name, "preset": plan.preset,
        "description": plan.description, "base": plan.base, "grid": plan.grid,
        "variants": plan.variants, "seeds": plan.seeds, "varied": plan.varied,
        "parallel": parallel, "created": round(time.time(), 3), "state": "starting",
        "scheduler": {"pid": None, "host": socket.gethostname(), "heartbeat": None},
        "trials": [{"index": t.index, "group": t.group, "label": t.label, "seed": t.seed,
                    "overrides": t.overrides, "folder_name": t.folder_name, "run_id": None,
                    "state": QUEUED} for t in plan.trials],
    }
    try:
        folder(runs_dir).mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            experiment_id = base if n == 1 else f"{base}-{n}"
            try:  # claim the id: O_EXCL makes two sweeps started in one second differ
                with open(path_of(runs_dir, experiment_id), "x", encoding="utf-8"):
                    pass
            except FileExistsError:
                continue
            manifest["id"] = experiment_id
            write(runs_dir, manifest)
            return manifest
    except OSError as err:
        raise rundir.RunDirError(f"{folder(runs_dir)}: cannot write the experiment there: "
                                 f"{err.strerror or err}") from None
    raise rundir.RunDirError(f"{folder(runs_dir)}: too many experiments named {base}")


def write(runs_dir: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest atomically (write, then rename over the old one)."""
    path = path_of(runs_dir, manifest["id"])
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(manifest, indent=1, allow_nan=False, default=str),
                   encoding="utf-8")
    os.replace(tmp, path)


def read(path: Path) -> dict[str, Any] | None:
    """A manifest, or None when it is not one (half-created, edited by hand, not JSON)."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("trials"), list) \
            or not manifest.get("id"):
        return None
    return manifest


def list_experiments(runs_dir: Path) -> list[dict[str, Any]]:
    """Every readable manifest, oldest first."""
    found = []
    for path in sorted(folder(runs_dir).glob("*.json")):
        manifest = read(path)
        if manifest is not None:
            found.append(manifest)
    return found


def find(runs_dir: Path, experiment_id: str) -> dict[str, Any] | None:
    """A manifest by id or a unique prefix of it."""
    if NAME_PATTERN.match(experiment_id):
        exact = read(path_of(runs_dir, experiment_id))
        if exact is not None:
            return exact
    matches = [m for m in list_experiments(runs_dir) if str(m["id"]).startswith(experiment_id)]
    return matches[0] if len(matches) == 1 else None


def scheduler_alive(manifest: dict[str, Any]) -> bool:
    """Whether the experiment's scheduler runs: its pid lives on this host and its
    heartbeat is fresh (another host's scheduler counts while its heartbeat is)."""
    scheduler = manifest.get("scheduler") or {}
    beat, pid = scheduler.get("heartbeat"), scheduler.get("pid")
    if not isinstance(beat, int | float) or time.time() - beat > rundir.STALE_AFTER_S:
        return False
    if scheduler.get("host") == socket.gethostname() and isinstance(pid, int):
        return rundir.pid_alive(pid)
    return True


def run_state(runs_dir: Path, run_id: str) -> str:
    """A started trial's state from its run folder (status.json: cheap, always current)."""
    status = rundir.read_status(runs_dir / run_id)
    return rundir.effective_state(status) if status else "starting"


def trial_states(runs_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """Each trial's state now: its run's, or queued/cancelled before it started."""
    return [run_state(runs_dir, t["run_id"]) if t.get("run_id") else str(t.get("state"))
            for t in manifest["trials"]]


def progress(states: list[str]) -> dict[str, int]:
    """Counts of queued, running and ended trials."""
    ended = sum(s in ENDED for s in states)
    queued = sum(s == QUEUED for s in states)
    return {"queued": queued, "running": len(states) - ended - queued, "ended": ended,
            "total": len(states)}


def experiment_state(manifest: dict[str, Any], states: list[str]) -> str:
    """running (its scheduler lives, or trials still train), interrupted (the scheduler is
    gone and trials were never started: `dmt-tui sweep --resume` starts them), stopped
    (by a user: some trials cancelled) or ended."""
    counts = progress(states)
    if scheduler_alive(manifest):
        return "running"
    if counts["queued"]:
        return "interrupted"
    if counts["running"]:
        return "running"
    return "stopped" if manifest.get("state") == "stopped" or CANCELLED in states else "ended"
