"""The app in a pseudo-terminal, as a user's terminal runs it: spawn, wait for text on the
screen, press keys, read its memory, quit. Shared by the app benchmarks."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"up": b"\x1b[A", "down": b"\x1b[B"}
FIRST_FRAME = b"New run"  # the footer: the layout is on screen


class PtyApp:
    """One app process on a 120x36 pty. `seen` is everything it has written so far."""

    def __init__(self, argv: list[str], size: tuple[int, int] = (120, 36)) -> None:
        columns, lines = size
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns),
               "LINES": str(lines)}
        self.began = time.perf_counter()
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                        cwd=ROOT, start_new_session=True)
        os.close(slave)
        self.master = master
        self.seen = b""

    @classmethod
    def dmt_tui(cls, runs_dir: Path) -> PtyApp:
        """`dmt-tui --runs-dir RUNS_DIR`, as installed (the same module the script runs)."""
        return cls([sys.executable, "-m", "dmt_tui.cli", "--runs-dir", str(runs_dir)])

    def _read(self, wait_s: float) -> None:
        if select.select([self.master], [], [], wait_s)[0]:
            try:
                self.seen += os.read(self.master, 1 << 16)
            except OSError:  # the app closed its side
                pass

    def wait_for(self, *texts: bytes, since: int = 0, timeout: float = 60.0) -> float:
        """Read until every one of `texts` has been written after offset `since`; return the
        time that took, from now. Raises TimeoutError with the last output when it never is."""
        start = time.perf_counter()
        # A text may straddle `since` only if it was written before: start after it.
        while not all(t in self.seen[since:] for t in texts):
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"{texts!r} not on screen after {timeout}s; "
                                   f"last output {self.seen[-300:]!r}")
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited ({self.process.returncode}); "
                                   f"last output {self.seen[-600:]!r}")
            self._read(0.05)
        return time.perf_counter() - start

    def drain(self, quiet_s: float = 0.3) -> None:
        """Read until the app has written nothing for `quiet_s` (or 5 s have passed)."""
        start = time.perf_counter()
        last = len(self.seen)
        quiet_since = time.perf_counter()
        while time.perf_counter() - quiet_since < quiet_s and time.perf_counter() - start < 5:
            self._read(0.02)
            if len(self.seen) != last:
                last, quiet_since = len(self.seen), time.perf_counter()

    def pump(self, seconds: float) -> None:
        """Keep reading for `seconds`: an app whose terminal is not read blocks on writing."""
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            self._read(min(0.02, max(0.0, end - time.perf_counter())))

    def cpu_s(self) -> float:
        """CPU seconds the app process has used so far (user + system)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def press(self, key: str) -> int:
        """Send a key; return the output offset at that moment, for wait_for(since=...)."""
        os.write(self.master, KEYS.get(key, key.encode()))
        return len(self.seen)

    def peak_rss_mb(self) -> float:
        """The process's peak resident set so far (VmHWM), in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc (not Linux?)")

    def quit(self, timeout: float = 30.0) -> None:
        """Press q and wait for the app to exit; kill it if it does not."""
        try:
            os.write(self.master, b"q")
            start = time.perf_counter()
            while self.process.poll() is None and time.perf_counter() - start < timeout:
                self._read(0.1)  # keep reading: a full pty would block the app's exit
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            os.close(self.master)
