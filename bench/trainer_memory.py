"""Trainer memory over a long run: RSS at epoch 10 against epoch 1,000 (budget: no growth
beyond 10%). The trainer runs as `dmt-tui train` does; its RSS is read from /proc while
its events are tailed.

    python bench/trainer_memory.py [--epochs 1000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dmt_tui.rundir.record import RunRecord, load_runs  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = subprocess.Popen(
            [sys.executable, "-m", "dmt_tui.trainer", "train", "mlp-relu-spiral", "--runs-dir", tmp,
             "--quiet", "--set", f"train.epochs={args.epochs}", "--set",
             "early_stopping.patience=0", "--set", "data.n_samples=640",
             "--set", "train.batch_size=64"])
        marks = {10: 0.0, args.epochs // 2: 0.0, args.epochs - 5: 0.0}
        record: RunRecord | None = None
        began = time.monotonic()
        while trainer.poll() is None:
            runs = load_runs(Path(tmp))
            record = runs[0] if runs else None
            epoch = record.epoch if record else 0
            for mark in marks:
                if epoch >= mark and not marks[mark]:
                    marks[mark] = rss_mib(trainer.pid)
            time.sleep(0.05)
        seconds = time.monotonic() - began
    first, middle, last = marks.values()
    growth = 100 * (last / first - 1)
    print(f"trainer RSS: epoch 10 {first:.1f} MiB, epoch {args.epochs // 2} {middle:.1f} MiB, "
          f"epoch {args.epochs - 5} {last:.1f} MiB; growth {growth:+.1f}% "
          f"(budget <= +10%) over {seconds:.0f} s")
    return 0 if growth <= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
