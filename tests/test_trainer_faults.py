"""Faults under a real trainer, driven as a user meets them: the run folder deleted, the
disk filling (a real tmpfs), Ctrl-C at start-up, a rank killed, a launched trainer that
cannot start. Each ends in a named state with one line on stderr, no traceback, no
temporary file left, and `end`/status.json written wherever the disk allows."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dmt_tui import rundir
from dmt_tui.presets import load_preset
from dmt_tui.rundir.launch import launch
from dmt_tui.rundir.record import RunRecord
from tests.conftest import wait_until

DMT_TUI = [sys.executable, "-m", "dmt_tui.cli"]
LONG = ["--set", "train.epochs=100000", "--set", "early_stopping.patience=0",
        "--set", "data.n_samples=400"]


def start(*args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    """`dmt-tui ARGS` as its own process, output captured."""
    return subprocess.Popen([*DMT_TUI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd)


def run_folders(runs_dir: Path) -> list[Path]:
    return sorted(p for p in runs_dir.iterdir() if p.is_dir()) if runs_dir.is_dir() else []


def epochs_written(runs_dir: Path) -> int:
    count = 0
    for folder in run_folders(runs_dir):
        with contextlib.suppress(OSError):
            count += (folder / "events.jsonl").read_text().count('"type":"epoch"')
    return count


def assert_one_clean_error(stderr: str, *parts: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def no_temp_files(run_dir: Path) -> None:
    assert [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")] == []


def test_the_run_folder_deleted_under_a_live_trainer(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    trainer = start("train", "xor-adam", "--runs-dir", str(runs_dir), "--quiet", *LONG)
    try:
        wait_until(lambda: epochs_written(runs_dir) >= 2, what="two epochs")
        (run_dir,) = run_folders(runs_dir)
        shutil.rmtree(run_dir)
        _, err = trainer.communicate(timeout=120)
    finally:
        trainer.kill()
    assert trainer.returncode == 1
    assert_one_clean_error(err, f"dmt-tui: error: run failed: {run_dir}: the run folder was "
                           f"deleted while the run was training")
    assert run_folders(runs_dir) == []  # nothing recreated behind the user's back


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 192 KiB tmpfs; skipped where mounting is not allowed (not root, a container
    without CAP_SYS_ADMIN)."""
    mount_point = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs",
                              str(mount_point)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_disk_that_fills_under_a_live_trainer(small_disk: Path) -> None:
    runs_dir = small_disk / "runs"
    trainer = start("train", "xor-adam", "--runs-dir", str(runs_dir), *LONG)
    _, err = trainer.communicate(timeout=600)  # it fills 192 KiB within a few hundred epochs
    assert trainer.returncode == 1
    (run_dir,) = run_folders(runs_dir)
    line = assert_one_clean_error(err, "dmt-tui: error: run failed: ",
                                  "No space left on device")
    assert str(run_dir) in line  # the file that could not be written, with its path
    assert "unexpected pos" not in line
    no_temp_files(run_dir)
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed" and "No space left on device" in status["reason"]
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    events = [json.loads(text) for text in lines]  # no torn line left behind
    assert sum(e["type"] == "epoch" for e in events) >= 1
    assert RunRecord.load(run_dir).state == "failed"


def test_a_full_disk_at_start_names_the_file_and_leaves_no_folder(small_disk: Path) -> None:
    with open(small_disk / "filler", "wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 4096)
    runs_dir = small_disk / "runs"
    runs_dir.mkdir()
    trainer = start("train", "xor-adam", "--runs-dir", str(runs_dir))
    _, err = trainer.communicate(timeout=120)
    assert trainer.returncode == 2
    line = assert_one_clean_error(err, "No space left on device", str(runs_dir))
    assert "config.yaml: cannot write" in line or "cannot create a run folder" in line
    assert run_folders(runs_dir) == []


def _takes_stop_signals(pid: int) -> bool:
    """Whether the command has taken the stop signals: SIGHUP is caught (Python itself
    catches only SIGINT, from its first instant; the command takes SIGHUP, SIGINT and
    SIGTERM together, first thing in main())."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(line.split()[1] for line in text.splitlines()
                      if line.startswith("SigCgt:")), 16)
    return bool(caught & (1 << (signal.SIGHUP - 1)))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("moment", ["command started", "run folder made"])
def test_ctrl_c_at_start_up_is_one_line_exit_4(tmp_path: Path, moment: str) -> None:
    runs_dir = tmp_path / "runs"
    trainer = start("train", "xor-adam", "--runs-dir", str(runs_dir), *LONG)
    try:
        if moment == "command started":  # torch not yet imported, nothing written
            wait_until(lambda: _takes_stop_signals(trainer.pid) or trainer.poll() is not None,
                       what="the command to take the stop signals")
        else:
            wait_until(lambda: any((d / "config.yaml").exists() for d in run_folders(runs_dir)),
                       what="the run folder")
        trainer.send_signal(signal.SIGINT)
        _, err = trainer.communicate(timeout=120)
    finally:
        trainer.kill()
    assert trainer.returncode == 4, err
    assert_one_clean_error(err, "stopped by SIGINT") if err.strip() else None
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    for run_dir in run_folders(runs_dir):  # a folder made is a run that says how it ended
        record = RunRecord.load(run_dir)
        assert record.state == "stopped" and "SIGINT" in record.end["reason"]
        assert rundir.read_status(run_dir)["state"] == "stopped"
        no_temp_files(run_dir)


def test_a_killed_rank_is_a_few_lines_naming_it(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    trainer = start("train", "xor-adam", "--nproc", "2", "--runs-dir", str(runs_dir),
                    "--quiet", *LONG)
    try:
        wait_until(lambda: epochs_written(runs_dir) >= 1, timeout=240, what="an epoch")
        (run_dir,) = run_folders(runs_dir)
        rank1 = RunRecord.load(run_dir).start["ranks"][1]["pid"]
        os.kill(rank1, signal.SIGKILL)
        out, err = trainer.communicate(timeout=240)
    finally:
        trainer.kill()
    assert trainer.returncode == 1
    line = assert_one_clean_error(err, f"run failed: rank 1 (pid {rank1}) died")
    assert "trainer.log" in line  # where the ranks' own output went
    assert f"rank 1 (pid {rank1}) died" in RunRecord.load(run_dir).end["reason"]


def _launched_end(runs_dir: Path, config: dict, env: dict[str, str] | None = None
                  ) -> tuple[Path, RunRecord]:
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        run_dir, process = launch(config, runs_dir)
    finally:
        os.environ.clear()
        os.environ.update(old)
    process.wait(240)
    return run_dir, RunRecord.load(run_dir)


def test_a_launched_run_that_cannot_import_torch_says_why(tmp_path: Path) -> None:
    """A broken install (a torch that fails to import) fails before `start`: the app's
    reader shows `failed` and the reason, not `starting` for ever."""
    broken = tmp_path / "site"
    (broken / "torch").mkdir(parents=True)
    (broken / "torch" / "__init__.py").write_text("raise ImportError('libtorch_cpu.so: "
                                                 "cannot open shared object file')\n")
    config = load_preset("xor-adam", ["train.epochs=2"])
    run_dir, record = _launched_end(tmp_path / "runs", config, {"PYTHONPATH": str(broken)})
    assert record.state == "failed"
    assert "ImportError: libtorch_cpu.so" in record.end["reason"]
    status = rundir.read_status(run_dir)
    assert status["state"] == "failed" and "libtorch_cpu.so" in status["reason"]


def test_a_launched_run_whose_data_is_bad_says_why(tmp_path: Path) -> None:
    config = load_preset("xor-adam", ["train.epochs=2", "data.dataset=csv",
                                      f"data.path={tmp_path / 'gone.csv'}", "data.label=y"])
    run_dir, record = _launched_end(tmp_path / "runs", config)
    assert record.state == "failed" and "gone.csv: data.path: no such CSV file" in \
        record.end["reason"]
    assert rundir.read_status(run_dir)["state"] == "failed"


def test_a_launched_run_whose_config_yaml_is_refused_says_why(tmp_path: Path) -> None:
    config = load_preset("xor-adam", ["train.epochs=2"])
    runs_dir = tmp_path / "runs"
    run_dir, process = launch(config, runs_dir)
    process.wait(240)
    # the same run launched again over a config.yaml someone broke
    (run_dir / "config.yaml").write_text("name: x\nname: y\n")
    (run_dir / "events.jsonl").unlink()
    rundir.write_status(run_dir, state="starting", pid=None)
    again = subprocess.run([sys.executable, "-P", "-m", "dmt_tui.trainer", "train",
                            str(run_dir / "config.yaml"), "--run-dir", str(run_dir), "--quiet"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2
    record = RunRecord.load(run_dir)
    assert record.state == "failed" and "duplicate key 'name'" in record.end["reason"]


def test_launching_from_a_folder_that_shadows_the_package_runs_the_installed_code(
        tmp_path: Path) -> None:
    """The app's cwd may hold folders named like ours (a clone of this repository, a
    project with its own `trainer/`): the launched trainer runs the installed code."""
    shadow = tmp_path / "work"
    for name in ("trainer", "presets", "dmt_tui", "dmt_tui/trainer"):
        (shadow / name).mkdir(parents=True)
        (shadow / name / "__init__.py").write_text("raise SystemExit('the wrong code ran')\n")
    (shadow / "dmt_tui" / "trainer" / "__main__.py").write_text("raise SystemExit('wrong')\n")
    runs_dir = tmp_path / "runs"
    script = ("from pathlib import Path; from dmt_tui.presets import load_preset; "
              "from dmt_tui.rundir.launch import launch; "
              "d, p = launch(load_preset('xor-adam', ['train.epochs=2', 'data.n_samples=200']), "
              f"Path({str(runs_dir)!r})); print(p.wait(240))")
    # -P, as the `dmt-tui` script runs: the app itself imports the installed package
    done = subprocess.run([sys.executable, "-P", "-c", script], cwd=shadow, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
    (run_dir,) = run_folders(runs_dir)
    record = RunRecord.load(run_dir)
    assert record.state == "finished" and len(record.epochs) == 2
    assert "wrong" not in (run_dir / "trainer.log").read_text()
