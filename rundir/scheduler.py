"""The experiment's scheduler: `python -P -m dmt_tui.rundir.scheduler RUNS_DIR EXPERIMENT_ID`.

A process of its own, in a session of its own (like a trainer), so it survives the terminal
that started it. It runs up to `parallel` trials at once, each an ordinary trainer process,
and starts the next as a slot frees. SIGTERM (or SIGINT) stops the running trials (they end
`stopped`) and cancels the queued ones. Killed outright, it leaves its trials training;
started again on the same manifest (`dmt-tui sweep --resume`), it adopts them and starts
the trials that never started. Torch-free: it only reads run folders and starts processes.
"""

from __future__ import annotations

import copy
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from dmt_tui import rundir
from dmt_tui.presets.schema import ConfigError, apply_set, resolve
from dmt_tui.rundir import manifest as manifests
from dmt_tui.rundir.launch import launch, stop

POLL_S = 0.2  # how often trials are looked at; a trainer starts in seconds, so this is cheap


def visible_gpus() -> list[str]:
    """The CUDA devices a trainer would see, found without torch: CUDA_VISIBLE_DEVICES
    where set, else the NVIDIA driver's list (none without a driver)."""
    driver = Path("/proc/driver/nvidia/gpus")
    has_driver = driver.is_dir() or shutil.which("nvidia-smi") is not None
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given is not None:
        ids = [d.strip() for d in given.split(",") if d.strip()]
        if ids and ids[0].startswith("-"):
            return []  # "-1": CUDA hidden on purpose
        return ids if has_driver else []
    if driver.is_dir():
        return [str(n) for n in range(len(list(driver.iterdir())))]
    if shutil.which("nvidia-smi"):
        try:
            listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                                     timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        return [str(n) for n in range(sum(line.startswith("GPU ") for line in
                                          listing.splitlines()))]
    return []


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)


def uses_gpus(config: dict[str, Any]) -> list[str]:
    """The GPUs trials of `config` would spread over: none for a CPU device or a fixed
    `cuda:N`, which stays as the preset says."""
    return visible_gpus() if config["train"]["device"] in ("auto", "cuda") else []


def default_parallel(config: dict[str, Any]) -> int:
    """Trials at once when `--parallel` is not given: one per visible GPU on CUDA, else as
    many as there are cores (each trainer then takes one core's share)."""
    return len(uses_gpus(config)) or _cores()


def trial_config(manifest: dict[str, Any], trial: dict[str, Any]) -> dict[str, Any]:
    """A trial's config from the manifest: the base, its overrides, its seed, and the
    `experiment` section that tells readers where it belongs."""
    raw = copy.deepcopy(manifest["base"])
    for assignment in trial["overrides"]:
        apply_set(raw, assignment)
    raw["train"]["seed"] = trial["seed"]
    raw["experiment"] = {"id": manifest["id"], "group": trial["group"], "trial": trial["index"]}
    return resolve(raw, f"{manifest['id']} trial {trial['index']}")


def start(runs_dir: Path, experiment_id: str) -> subprocess.Popen[bytes]:
    """Start the scheduler of an experiment in a session of its own; it logs beside the
    manifest."""
    log = open(manifests.log_path(runs_dir, experiment_id), "ab")  # noqa: SIM115
    with log:
        return subprocess.Popen(
            [sys.executable, "-P", "-m", "dmt_tui.rundir.scheduler", str(runs_dir.resolve()),
             experiment_id],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONSAFEPATH": "1"})


def close_run(run_dir: Path, state: str, reason: str) -> None:
    """End a run whose trainer died before writing its `end` (a stop that came while it
    was still loading torch, a crash at start): every reader then shows how it ended."""
    status = rundir.read_status(run_dir)
    epoch = status.get("epoch", 0)
    events = rundir.EventLog(run_dir)
    try:
        events.write("end", state=state, reason=reason, epochs=epoch,
                     best_epoch=status.get("best_epoch"),
                     best_val_loss=status.get("best_val_loss"))
    finally:
        events.close()
    rundir.write_status(run_dir, **{**status, "state": state, "reason": reason})


def stop_experiment(runs_dir: Path, manifest: dict[str, Any]) -> str:
    """Stop an experiment: SIGTERM to its scheduler, which stops its trials and cancels the
    queue; with no scheduler alive, stop the live trials and cancel the queue here.
    Returns what was done, in words."""
    pid = (manifest.get("scheduler") or {}).get("pid")
    if manifests.scheduler_alive(manifest) and isinstance(pid, int):
        try:
            os.kill(pid, signal.SIGTERM)
            return f"stopping {manifest['id']}: its running trials end stopped, the queued " \
                "are cancelled"
        except ProcessLookupError:
            pass
    stopped = sum(stop(runs_dir / t["run_id"]) for t in manifest["trials"] if t.get("run_id"))
    for trial in manifest["trials"]:
        if trial["state"] == manifests.QUEUED and not trial.get("run_id"):
            trial["state"] = manifests.CANCELLED
    manifest["state"] = "stopped"
    manifests.write(runs_dir, manifest)
    return f"stopped {manifest['id']}: {stopped} running trial(s) stopped, the queue cancelled"


class Scheduler:
    """Fills slots with queued trials and records how each ends, in the manifest."""

    def __init__(self, runs_dir: Path, manifest: dict[str, Any]) -> None:
        self.runs_dir, self.manifest = runs_dir, manifest
        self.trials: list[dict[str, Any]] = manifest["trials"]
        self.parallel = max(1, int(manifest.get("parallel") or 1))
        self.gpus = uses_gpus(manifest["base"])
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.gpu_of: dict[int, str] = {}
        self.stopping = ""  # the signal's name once one came
        self.stop_sent = False
        self.last_write = 0.0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = signal.Signals(signum).name

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.adopt()
        self.manifest["state"] = "running"
        self.manifest["scheduler"] = {"pid": os.getpid(), "host": socket.gethostname(),
                                      "heartbeat": time.time(), "started": time.time()}
        self.save()
        while True:
            changed = self.observe()
            changed = (self.stop_all() if self.stopping else self.fill()) or changed
            if not self.active() and (self.stopping or not self.queued()):
                break
            if changed or time.time() - self.last_write >= manifests.HEARTBEAT_S:
                self.save()
            time.sleep(POLL_S)
        self.manifest["state"] = "stopped" if self.stopping else "ended"
        self.manifest["scheduler"]["ended"] = time.time()
        self.save()
        return 0

    def save(self) -> None:
        self.manifest["scheduler"]["heartbeat"] = round(time.time(), 3)
        manifests.write(self.runs_dir, self.manifest)
        self.last_write = time.time()

    def active(self) -> list[dict[str, Any]]:
        return [t for t in self.trials if t.get("run_id") and t["state"] not in manifests.ENDED]

    def queued(self) -> list[dict[str, Any]]:
        return [t for t in self.trials if t["state"] == manifests.QUEUED]

    def adopt(self) -> None:
        """On a resume: trials cancelled by a stop are queued again, and a trial whose run
        folder was made just before the last scheduler died gets that run back."""
        for trial in self.trials:
            if trial.get("run_id"):
                continue
            trial["state"] = manifests.QUEUED
            mine = [d for d in rundir.iter_run_dirs(self.runs_dir)
                    if trial["folder_name"] in d.name and self._belongs(d, trial)]
            if mine:
                trial["run_id"] = mine[-1].name
                trial["state"] = manifests.run_state(self.runs_dir, trial["run_id"])

    def _belongs(self, run_dir: Path, trial: dict[str, Any]) -> bool:
        try:
            config = yaml.safe_load((run_dir / rundir.CONFIG).read_text("utf-8"))
        except (OSError, yaml.YAMLError):
            return False
        experiment = config.get("experiment") if isinstance(config, dict) else None
        return isinstance(experiment, dict) and experiment.get("id") == self.manifest["id"] \
            and experiment.get("trial") == trial["index"]

    def observe(self) -> bool:
        """Record the trials that ended; True when something changed."""
        changed = False
        for trial in self.active():
            child = self.children.get(trial["index"])
            exited = child is not None and child.poll() is not None
            run_dir = self.runs_dir / trial["run_id"]
            state = manifests.run_state(self.runs_dir, trial["run_id"])
            if exited and state not in rundir.END_STATES:
                assert child is not None
                if self.stopping:
                    close_run(run_dir, "stopped", f"stopped by the experiment's scheduler "
                              f"({self.stopping}) before training began")
                    state = "stopped"
                else:
                    close_run(run_dir, "failed", f"the trainer exited with code "
                              f"{child.returncode} before its end; see trainer.log")
                    state = "failed"
            if state != trial["state"]:
                trial["state"] = state
                changed = True
            if trial["state"] in manifests.ENDED:
                trial["ended"] = round(time.time(), 3)
                self.children.pop(trial["index"], None)
                self.gpu_of.pop(trial["index"], None)
                print(f"trial {trial['index'] + 1} {state}: {trial['run_id']}", flush=True)
        return changed

    def fill(self) -> bool:
        """Start queued trials while a slot is free."""
        changed = False
        while len(self.active()) < self.parallel and self.queued():
            trial = self.queued()[0]
            env = {}
            if self.gpus:
                load = {g: list(self.gpu_of.values()).count(g) for g in self.gpus}
                gpu = min(self.gpus, key=lambda g: load[g])
                env["CUDA_VISIBLE_DEVICES"] = self.gpu_of[trial["index"]] = gpu
            try:
                config = trial_config(self.manifest, trial)
                if not self.gpus and config["train"]["threads"] is None:
                    # A fixed share: K trials of cores/K threads fill the cores and no more.
                    # Left to share_of_cores, the last trial alone takes every core, and on a
                    # machine with other load two spinning threads made it 4x slower than one.
                    config["train"]["threads"] = max(1, _cores() // self.parallel)
                run_dir, child = launch(config, self.runs_dir,
                                        folder_name=trial["folder_name"], env=env)
            except (ConfigError, rundir.RunDirError) as err:
                trial.update(state="failed", error=str(err))
                print(f"trial {trial['index'] + 1} failed to start: {err}", flush=True)
            else:
                trial.update(run_id=run_dir.name, state="starting", started=time.time())
                self.children[trial["index"]] = child
            changed = True
        return changed

    def stop_all(self) -> bool:
        """Once: SIGTERM to every running trial, and the queued ones cancelled."""
        if self.stop_sent:
            return False
        self.stop_sent = True
        for trial in self.queued():
            trial["state"] = manifests.CANCELLED
        for trial in self.active():
            child = self.children.get(trial["index"])
            try:
                if child is not None:
                    child.send_signal(signal.SIGTERM)
                else:
                    stop(self.runs_dir / trial["run_id"])
            except ProcessLookupError:
                pass
        print(f"stopping ({self.stopping}): queued trials cancelled", flush=True)
        return True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m dmt_tui.rundir.scheduler RUNS_DIR EXPERIMENT_ID", file=sys.stderr)
        return 2
    runs_dir = Path(args[0])
    manifest = manifests.read(manifests.path_of(runs_dir, args[1]))
    if manifest is None:
        print(f"{manifests.path_of(runs_dir, args[1])}: no such experiment", file=sys.stderr)
        return 2
    if manifests.scheduler_alive(manifest) and manifest["scheduler"].get("pid") != os.getpid():
        print(f"experiment {args[1]} already has a running scheduler "
              f"(pid {manifest['scheduler']['pid']})", file=sys.stderr)
        return 2
    return Scheduler(runs_dir, manifest).run()


if __name__ == "__main__":
    sys.exit(main())
