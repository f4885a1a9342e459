"""`--nproc N` without torchrun: the ranks meet at a FileStore and talk over loopback, so a
one-node run opens no port on the network; a rank's error still reaches the run's `end`,
and a dead rank 0 still ends the run `failed`, naming it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dmt_tui.rundir import pid_alive
from dmt_tui.rundir.record import RunRecord, load_runs
from dmt_tui.trainer.local_ranks import STORE_ENV, rank_environment
from tests.conftest import wait_until

LONG = ["--set", "data.n_samples=800", "--set", "train.batch_size=64",
        "--set", "train.epochs=100000", "--set", "early_stopping.patience=0"]
# 127.0.0.1, ::1 and ::ffff:127.0.0.1 as /proc/net/tcp{,6} spell them (little-endian words)
LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}

needs_proc = pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(),
                                reason="reads sockets and processes from Linux /proc")


def start(runs_dir: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`dmt-tui train --nproc 2` on a run that trains until it is stopped."""
    return subprocess.Popen(
        [sys.executable, "-m", "dmt_tui.cli", "train", "xor-adam", "--runs-dir", str(runs_dir),
         "--quiet", "--nproc", "2", *LONG], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, **(env or {})})


def first_epoch(runs_dir: Path) -> RunRecord:
    wait_until(lambda: any(r.epochs for r in load_runs(runs_dir)), timeout=240,
               what="the run's first epoch")
    (record,) = load_runs(runs_dir)
    return record


def descendants(pid: int) -> set[int]:
    """Every process under `pid` (its children, theirs, ...)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat[stat.rfind(")") + 2:].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def listening(pid: int) -> list[str]:
    """The local addresses (hex, as /proc/net spells them) of `pid`'s listening TCP
    sockets, IPv4 and IPv6."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                found.append(fields[1].rpartition(":")[0])
    return found


def end_all(launcher: subprocess.Popen[str]) -> None:
    """Whatever a failed test left: the ranks first (a killed launcher would orphan them)."""
    if launcher.poll() is None:
        for pid in descendants(launcher.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        launcher.kill()
        launcher.communicate()


def stop(launcher: subprocess.Popen[str]) -> tuple[str, str]:
    with contextlib.suppress(ProcessLookupError):
        launcher.send_signal(signal.SIGTERM)
    try:
        return launcher.communicate(timeout=240)
    finally:
        end_all(launcher)


@needs_proc
def test_a_two_rank_run_listens_on_loopback_only(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    launcher = start(runs_dir)
    try:
        ranks = [r["pid"] for r in first_epoch(runs_dir).start["ranks"]]
        processes = {launcher.pid, *descendants(launcher.pid)}
        assert set(ranks) <= processes  # the launcher's own children are the ranks
        sockets = {pid: listening(pid) for pid in sorted(processes)}
    finally:
        stop(launcher)
    assert launcher.returncode == 4  # stopped, as any run that is told to stop
    addresses = [a for found in sockets.values() for a in found]
    assert addresses  # gloo's pairs listen: the check does see sockets
    assert set(addresses) <= LOOPBACK, sockets
    assert sockets[launcher.pid] == []  # no rendezvous store: the ranks meet at a file


@needs_proc
def test_a_ranks_error_reaches_the_end_through_the_file_store(tmp_path: Path) -> None:
    """Rank 1 fails with an exception of its own (a fault planted through sitecustomize,
    raised by SIGUSR1 in rank 1 alone); rank 0 reads its error from the store and names it.
    The store's private folder is gone afterwards."""
    plant = tmp_path / "plant"
    plant.mkdir()
    (plant / "sitecustomize.py").write_text(
        "import os, signal\n"
        "def fault(signum, frame):\n"
        "    raise RuntimeError('the fault planted in rank 1')\n"
        "if os.environ.get('RANK') == '1':\n"
        "    signal.signal(signal.SIGUSR1, fault)\n")
    scratch = tmp_path / "scratch"  # where the launcher makes its rendezvous folder
    scratch.mkdir()
    runs_dir = tmp_path / "runs"
    launcher = start(runs_dir, {"PYTHONPATH": str(plant), "TMPDIR": str(scratch)})
    try:
        record = first_epoch(runs_dir)
        assert len(list(scratch.glob("dmt-tui-ranks-*/store"))) == 1  # while the run lives
        rank1 = record.start["ranks"][1]["pid"]
        os.kill(rank1, signal.SIGUSR1)
        out, err = launcher.communicate(timeout=240)
    finally:
        end_all(launcher)
    assert launcher.returncode == 1
    expected = "rank 1 failed: RuntimeError: the fault planted in rank 1"
    assert err.strip() == (f"dmt-tui: error: run failed: {expected} (details in "
                           f"{record.run_dir / 'trainer.log'})")
    record = RunRecord.load(record.run_dir)
    assert record.state == "failed" and record.end["reason"] == expected
    assert len(record.epochs) >= 1  # what was trained is kept
    assert list(scratch.glob("dmt-tui-ranks-*")) == []
    assert not any(pid_alive(r["pid"]) for r in record.start["ranks"])


@needs_proc
def test_rank_0_killed_fails_the_run_naming_it_and_ends_the_others(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    launcher = start(runs_dir)
    try:
        record = first_epoch(runs_dir)
        rank0, rank1 = (r["pid"] for r in record.start["ranks"])
        os.kill(rank0, signal.SIGKILL)
        out, err = launcher.communicate(timeout=240)
    finally:
        end_all(launcher)
    assert launcher.returncode == 1
    expected = f"rank 0 (pid {rank0}) was killed by SIGKILL before the run ended"
    assert err.strip() == (f"dmt-tui: error: run failed: {expected} (details in "
                           f"{record.run_dir / 'trainer.log'})")
    ended = RunRecord.load(record.run_dir)
    assert ended.state == "failed" and ended.end["reason"] == expected
    assert not pid_alive(rank1)  # ended with it, not left training alone


@pytest.mark.skipif(sys.platform != "linux", reason="the loopback interface is `lo` on Linux")
def test_the_ranks_bind_loopback_unless_told_otherwise(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLOO_SOCKET_IFNAME", raising=False)
    monkeypatch.setenv("NCCL_SOCKET_IFNAME", "ib0")  # the user's own choice is kept
    monkeypatch.setenv("MASTER_PORT", "29500")  # a torchrun's, not the ranks'
    env = rank_environment(1, 2, tmp_path / "store")
    assert env["GLOO_SOCKET_IFNAME"] == "lo" and env["NCCL_SOCKET_IFNAME"] == "ib0"
    assert (env["RANK"], env["LOCAL_RANK"], env["WORLD_SIZE"], env["LOCAL_WORLD_SIZE"]) == \
        ("1", "1", "2", "2")
    assert env[STORE_ENV] == str(tmp_path / "store") and "MASTER_PORT" not in env
