"""Safety: checkpoints load as data only, run folders stay inside the runs folder, and the
trainer opens no network port."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dmt_tui import rundir
from dmt_tui.trainer.checkpoint import load_checkpoint


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch /tmp/dmt-tui-pwned",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on our pickle
def test_a_checkpoint_that_carries_code_is_refused(tmp_path: Path) -> None:
    marker = Path("/tmp/dmt-tui-pwned")
    marker.unlink(missing_ok=True)
    evil = tmp_path / "best.pt"
    with open(evil, "wb") as f:
        pickle.dump({"fc1.weight": _Payload()}, f)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(evil)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../../etc", "/abs/path", "a/../../b", "..", "we ird\x00",
                                  "...", "-rf"])
def test_run_folders_cannot_escape_the_runs_folder(tmp_path: Path, name: str) -> None:
    runs = tmp_path / "runs"
    run_dir = rundir.create_run_dir(runs, name)
    assert run_dir.parent == runs
    assert set(run_dir.name) <= rundir.SAFE_CHARS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


def listening_sockets(pid: int) -> list[str]:
    """TCP/UDP sockets of `pid` that listen or are bound (Linux /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            state, inode = fields[3], fields[9]
            if inode in inodes and (table.startswith("udp") or state == "0A"):
                found.append(f"{table} {fields[1]}")
    return found


@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="needs Linux /proc")
def test_the_port_detector_sees_a_listening_socket() -> None:
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert len(listening_sockets(os.getpid())) == 1


@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="needs Linux /proc")
def test_the_trainer_opens_no_network_port(tmp_path: Path) -> None:
    trainer = subprocess.Popen([sys.executable, "-m", "dmt_tui.trainer", "train", "xor-adam",
                                "--runs-dir", str(tmp_path), "--quiet", "--set",
                                "train.epochs=100000", "--set", "early_stopping.patience=0"])
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("*/events.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # well into training
        assert trainer.poll() is None
        assert listening_sockets(trainer.pid) == []
    finally:
        trainer.kill()
        trainer.wait(30)
