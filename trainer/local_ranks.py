"""`--nproc N` on one machine: start N rank processes and watch them, torch-free.

This replaces torchrun for a one-node run. torchrun's rendezvous store is a TCPStore, which
listens on every interface whatever host it is given (pytorch issue #173909): anyone who can
reach the machine could talk to it for the length of the run. Here the ranks meet through a
FileStore in a private temporary folder instead, and gloo's (and NCCL's) connections between
them are bound to the loopback interface, so a one-node run opens no port on the network.

The launching process keeps what torchrun did for it: a stop passed on to rank 0, one rank's
death ending the others (after a grace for rank 0 to write the `end` naming it), every
rank's stderr appended to trainer.log, and a reason for a run that ended without its `end`
event.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from dmt_tui import rundir
from dmt_tui.trainer.stop import STOP_SIGNALS, StopRequest

STORE_ENV = "DMT_RANKS_STORE"  # the FileStore the ranks meet at (trainer/distributed.py reads it)
GRACE_S = 30.0  # after SIGTERM, how long the ranks get to write their end before SIGKILL
POLL_S = 0.1  # how often the launcher looks at its ranks


@dataclass
class Outcome:
    """How the ranks ended: `died` names the first rank that died (a signal, or a non-zero
    exit) as a reason, or is '' when every rank exited 0."""

    died: str
    stopped_by: str  # the signal the launcher passed on to rank 0, or ''


def loopback_name() -> str:
    """The loopback interface's name (`lo` on Linux), for gloo and NCCL to bind to."""
    for _, name in socket.if_nameindex():
        if name.startswith("lo"):
            return name
    return "lo"


def rank_environment(rank: int, world: int, store: Path) -> dict[str, str]:
    """What torchrun would set for a rank on one node, plus the FileStore's path. The socket
    interfaces are the user's when set (their machine, their choice), loopback otherwise."""
    env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
           "LOCAL_WORLD_SIZE": str(world), "GROUP_RANK": "0", "ROLE_RANK": str(rank),
           "ROLE_WORLD_SIZE": str(world), STORE_ENV: str(store),
           "PYTHONSAFEPATH": "1"}  # -P in the ranks' children too: the installed code runs
    for name in ("GLOO_SOCKET_IFNAME", "NCCL_SOCKET_IFNAME"):
        env.setdefault(name, loopback_name())
    env.setdefault("OMP_NUM_THREADS", "1")  # torchrun's default; the trainer sets torch's own
    for name in ("MASTER_ADDR", "MASTER_PORT"):  # a user's own torchrun's, not ours
        env.pop(name, None)
    return env


def _how_it_ended(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def run_ranks(run_dir: Path, nproc: int, quiet: bool, stop: StopRequest) -> Outcome:
    """Train the run in `run_dir` (its config.yaml written) as `nproc` ranks, and wait for
    every one of them to end. A stop signal to this process is passed on to rank 0; the
    first rank to die ends the others."""
    store_dir = Path(tempfile.mkdtemp(prefix="dmt-tui-ranks-"))  # mode 0700: ours alone
    command = [sys.executable, "-P", "-m", "dmt_tui.trainer", "train",
               str(run_dir / rundir.CONFIG), "--run-dir", str(run_dir),
               *(["--quiet"] if quiet else [])]
    ranks: list[subprocess.Popen[bytes]] = []
    stopped_by = ""

    def pass_on(signum: int, frame: object) -> None:
        # Rank 0 takes the stop request and the ranks agree on it (`end` says `stopped`).
        nonlocal stopped_by
        stopped_by = stopped_by or signal.Signals(signum).name
        if ranks and ranks[0].poll() is None:
            with contextlib.suppress(ProcessLookupError):
                ranks[0].send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, pass_on) for sig in STOP_SIGNALS}
    try:
        if stop or stopped_by:  # a stop that came before the ranks: start nothing
            return Outcome("", stop.signal_name or stopped_by)
        with open(run_dir / rundir.LOG, "ab") as log:
            # SIGTERM blocked in the ranks until they take their stop signals (trainer/stop.py):
            # a stop passed on to rank 0 while it starts waits for it instead of killing it.
            unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
            try:
                for rank in range(nproc):
                    # Each rank in a session of its own: the terminal's Ctrl-C reaches this
                    # process alone, which passes it on to rank 0 as a stop request.
                    ranks.append(subprocess.Popen(
                        command, stdin=subprocess.DEVNULL, stderr=log, start_new_session=True,
                        env=rank_environment(rank, nproc, store_dir / "store")))
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
        if stopped_by:  # a stop that came while the ranks were being started
            pass_on(signal.Signals[stopped_by], None)
        return Outcome(_watch(ranks), stopped_by)
    finally:
        for process in ranks:  # nothing left behind, whatever ended this
            if process.poll() is None:
                process.kill()
                process.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(store_dir, ignore_errors=True)


def _watch(ranks: list[subprocess.Popen[bytes]]) -> str:
    """Wait for every rank. When one dies, the other ranks but rank 0 get SIGTERM; rank 0
    finds its peer gone at its next collective and writes `end` naming it (a SIGTERM would
    be a stop request to it, and the run would read `stopped`); whoever is left after
    GRACE_S gets SIGKILL. Once rank 0 is gone the others are killed at once: only rank 0
    writes the run folder, and a peer waiting on it would wait out the collective's
    timeout. Returns the first death as a reason, or ''."""
    died = ""
    kill_at = float("inf")
    while True:
        codes = [process.poll() for process in ranks]
        # A rank killed by a signal is the cause; one that exited 1 may have failed because
        # of it. All of them may have ended since the last look.
        dead = sorted((code > 0, rank) for rank, code in enumerate(codes) if code)
        if dead and not died:
            rank = dead[0][1]
            died = f"rank {rank} (pid {ranks[rank].pid}) {_how_it_ended(int(codes[rank] or 0))}"
            for process in ranks[1:]:
                if process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.send_signal(signal.SIGTERM)
            kill_at = time.monotonic() + GRACE_S
        if all(code is not None for code in codes):
            return died
        if died and (codes[0] is not None or time.monotonic() > kill_at):
            for process in ranks:
                if process.poll() is None:
                    process.kill()
        time.sleep(POLL_S)
