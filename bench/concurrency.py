"""Four CPU runs at once against the same four one after another: the trainer divides the
cores among live runs, so running them together must not take longer in total.

    python bench/concurrency.py [--runs 4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

ARGS = ["--quiet", "--set", "train.epochs=8", "--set", "data.n_samples=8000",
        "--set", "early_stopping.patience=0"]


def command(runs_dir: str, i: int) -> list[str]:
    return [sys.executable, "-m", "dmt_tui.trainer", "train",
            "mlp-relu-spiral", "--runs-dir", runs_dir,
            "--set", f"name=concurrent-{i}", *ARGS]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        began = time.monotonic()
        for i in range(args.runs):
            subprocess.run(command(tmp, i), check=True)
        sequential = time.monotonic() - began
        began = time.monotonic()
        running = [subprocess.Popen(command(tmp, i)) for i in range(args.runs)]
        assert [p.wait() for p in running] == [0] * args.runs
        together = time.monotonic() - began
    print(f"{args.runs} runs on {os.cpu_count()} cores: one after another {sequential:.1f} s, "
          f"all at once {together:.1f} s; ratio {together / sequential:.2f} (budget <= 1.00)")
    return 0 if together <= sequential else 1


if __name__ == "__main__":
    sys.exit(main())
