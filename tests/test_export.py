"""`dmt-tui export`: every exported file read back and compared with the run's own events."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests import made_runs
from tests.conftest import run_cli
from tests.made_runs import crashed_runs, of_type, read_events

Done = subprocess.CompletedProcess[str]
pytestmark = pytest.mark.slow  # the module's runs come from real trainer processes


# The three finished runs, shared with the other module (tests/made_runs.py).
runs_dir = made_runs.finished_runs_dir
run_dirs = made_runs.finished_run_dirs


@pytest.fixture(scope="module")
def exported(runs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every run in every format, through the real command."""
    out = tmp_path_factory.mktemp("export")
    done = run_cli("export", "--all", "--format", "csv,jsonl,parquet,tensorboard",
               "--runs-dir", str(runs_dir), "-o", str(out))
    assert done.returncode == 0, done.stderr
    return out


def assert_no_traceback(done: Done) -> None:
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout


def one_error_line(done: Done) -> str:
    """The command failed as promised: exit 2, one `dmt-tui: error:` line, no traceback."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert_no_traceback(done)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dmt-tui: error: "), lines
    return lines[0]


# ---- the metrics table ---------------------------------------------------------------------


def test_csv_has_one_row_per_run_and_epoch_with_the_epoch_events(exported: Path,
                                                                  run_dirs: list[Path]) -> None:
    table = pd.read_csv(exported / "metrics.csv")
    assert sorted(set(table["run_id"])) == [d.name for d in run_dirs]
    for run_dir in run_dirs:
        rows = table[table["run_id"] == run_dir.name]
        epochs = of_type(run_dir, "epoch")
        assert list(rows["epoch"]) == [e["epoch"] for e in epochs]
        for field in ("train_loss", "val_loss", "lr", "seconds", "es_wait", "es_patience",
                      "es_best", "es_best_epoch", "train_acc", "val_acc"):
            expected = [math.nan if e[field] is None else e[field] for e in epochs]
            assert list(rows[field]) == pytest.approx(expected, rel=1e-12, nan_ok=True), field


def test_csv_has_a_mean_gradient_norm_column_per_layer(exported: Path,
                                                        run_dirs: list[Path]) -> None:
    table = pd.read_csv(exported / "metrics.csv")
    for run_dir in run_dirs:
        rows = table[table["run_id"] == run_dir.name].set_index("epoch")
        layers = of_type(run_dir, "start")[0]["layers"]
        grads = of_type(run_dir, "grad")
        assert len(grads) == len(rows)
        for grad in grads:
            for layer in [*grad["layers"], grad["total"]]:
                assert rows.loc[grad["epoch"], f"grad_mean_{layer['name']}"] == \
                    pytest.approx(layer["mean"], rel=1e-12)
        # A layer of another run's model is empty here, not zero.
        others = {c for c in table if c.startswith("grad_mean_")} - \
            {f"grad_mean_{name}" for name in [*layers, "total"]}
        assert rows[sorted(others)].isna().all().all()
        assert bool(others) == (layers == ["out"])  # the linear model lacks fc1 and fc2


def test_csv_config_columns_answer_which_activation_did_best(exported: Path,
                                                              run_dirs: list[Path]) -> None:
    table = pd.read_csv(exported / "metrics.csv")
    by_run = table.groupby("run_id").first()
    adam = next(d.name for d in run_dirs if d.name.endswith("xor-adam"))
    assert by_run.loc[adam, ["preset", "dataset", "model", "hidden", "activation", "optimizer",
                             "base_lr", "momentum", "batch_size", "schedule", "seed",
                             "state"]].tolist() == \
        ["xor-adam", "xor", "mlp", "16x16", "relu", "adam", 0.02, 0.0, 32, "none", 0,
         "finished"]
    regression = next(d.name for d in run_dirs if d.name.endswith("plane-regression"))
    assert pd.isna(by_run.loc[regression, "activation"])  # a linear model has none
    best = table.groupby("activation")["val_loss"].min()
    expected = {}
    for run_dir in run_dirs:
        config = (run_dir / "config.yaml").read_text("utf-8")
        if "hidden: []" in config:
            continue
        activation = "relu" if "activation: relu" in config else "sigmoid"
        expected[activation] = min(e["val_loss"] for e in of_type(run_dir, "epoch"))
    assert best.to_dict() == pytest.approx(expected, rel=1e-12)
    assert best.idxmin() == "relu"  # Adam with ReLU learns XOR; plain SGD with sigmoid does not


def test_parquet_holds_the_same_table_as_csv(exported: Path) -> None:
    from_csv = pd.read_csv(exported / "metrics.csv")
    from_parquet = pd.read_parquet(exported / "metrics.parquet")
    assert list(from_parquet.columns) == list(from_csv.columns)
    pd.testing.assert_frame_equal(from_parquet, from_csv, check_dtype=False)


# ---- raw events and TensorBoard ------------------------------------------------------------


def test_jsonl_is_the_runs_events(exported: Path, run_dirs: list[Path]) -> None:
    for run_dir in run_dirs:
        lines = (exported / f"{run_dir.name}.events.jsonl").read_text("utf-8").splitlines()
        assert [json.loads(line) for line in lines] == read_events(run_dir)
        assert {e["type"] for e in read_events(run_dir)} >= {"start", "epoch", "grad", "end"}


def test_tensorboard_reads_the_scalars_and_gradient_histograms(exported: Path,
                                                               run_dirs: list[Path]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for run_dir in run_dirs:
        log_dir = exported / "tensorboard" / run_dir.name
        assert len(list(log_dir.glob("events.out.tfevents.*"))) == 1
        reader = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "histograms": 0})
        reader.Reload()
        epochs = of_type(run_dir, "epoch")
        for tag, field in (("loss/train", "train_loss"), ("loss/val", "val_loss"), ("lr", "lr"),
                           ("early_stop/wait", "es_wait"), ("accuracy/val", "val_acc")):
            if epochs[0][field] is None:  # regression: no accuracy to plot
                assert tag not in reader.Tags()["scalars"]
                continue
            points = reader.Scalars(tag)
            assert [p.step for p in points] == [e["epoch"] for e in epochs]
            # TensorBoard keeps scalars as float32.
            assert [p.value for p in points] == pytest.approx([e[field] for e in epochs],
                                                              rel=1e-6)
        for grad in of_type(run_dir, "grad"):
            for layer in [*grad["layers"], grad["total"]]:
                histograms = reader.Histograms(f"grad_norm/{layer['name']}")
                value = next(h for h in histograms if h.step == grad["epoch"]).histogram_value
                assert value.bucket == [layer["zeros"], *layer["counts"]]
                assert value.bucket_limit[:-1] == pytest.approx(layer["edges"][:-1])
                assert value.num == sum(layer["counts"]) + layer["zeros"]
                assert value.min == pytest.approx(layer["min"])
                assert value.max == pytest.approx(layer["max"])


def test_tensorboard_export_never_loads_torch(runs_dir: Path, tmp_path: Path) -> None:
    # The app calls the exporter in its own process, which must stay torch-free.
    script = ("import sys; from dmt_tui.cli import main; "
              "code = main(['export', '--all', '--format', 'tensorboard,parquet,csv', "
              f"'--runs-dir', {str(runs_dir)!r}, '-o', {str(tmp_path)!r}]); "
              "assert code == 0; assert 'torch' not in sys.modules, 'torch was imported'")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "tensorboard").is_dir()


def test_exporting_again_replaces_the_tensorboard_files(runs_dir: Path, run_dirs: list[Path],
                                                        tmp_path: Path) -> None:
    for _ in range(2):
        done = run_cli("export", run_dirs[0].name, "--format", "tensorboard",
                   "--runs-dir", str(runs_dir), "-o", str(tmp_path))
        assert done.returncode == 0, done.stderr
    # Two files in one folder would make TensorBoard draw every point twice.
    assert len(list((tmp_path / "tensorboard" / run_dirs[0].name).iterdir())) == 1


# ---- choosing runs, and where the files go -------------------------------------------------


def test_a_unique_prefix_exports_that_run_and_says_where(runs_dir: Path, run_dirs: list[Path],
                                                         tmp_path: Path) -> None:
    target = run_dirs[1]
    prefix = target.name[: target.name.rindex("-") + 2]  # the time stamp and a letter or two
    done = run_cli("export", prefix, "--format", "csv,jsonl", "--runs-dir", str(runs_dir),
               "-o", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert str(tmp_path / "out" / "metrics.csv") in done.stdout
    assert str(tmp_path / "out" / f"{target.name}.events.jsonl") in done.stdout
    table = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert set(table["run_id"]) == {target.name}
    assert len(table) == len(of_type(target, "epoch"))


def test_the_default_output_folder_is_exports_in_the_current_folder(runs_dir: Path,
                                                                     tmp_path: Path) -> None:
    done = run_cli("export", "--all", "--runs-dir", str(runs_dir), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "exports" / "metrics.csv").is_file()
    assert "exports/metrics.csv" in done.stdout


def test_a_crashed_run_exports_its_completed_epochs(tmp_path_factory: pytest.TempPathFactory,
                                                    tmp_path: Path) -> None:
    crashed_dir = crashed_runs(tmp_path_factory)
    run_dir = next(crashed_dir.iterdir())
    assert json.loads((run_dir / "status.json").read_text())["state"] == "running"
    done = run_cli("export", "--all", "--format", "csv,tensorboard", "--runs-dir", str(crashed_dir),
               "-o", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "crashed" in done.stderr
    epochs = of_type(run_dir, "epoch")
    table = pd.read_csv(tmp_path / "metrics.csv")
    assert list(table["epoch"]) == [e["epoch"] for e in epochs]
    assert list(table["val_loss"]) == pytest.approx([e["val_loss"] for e in epochs], rel=1e-12)
    assert set(table["state"]) == {"crashed"}


def test_a_torn_last_line_is_skipped_with_a_note(tmp_path_factory: pytest.TempPathFactory,
                                                 tmp_path: Path) -> None:
    source = next(crashed_runs(tmp_path_factory).iterdir())
    run_dir = tmp_path / "runs" / source.name
    shutil.copytree(source, run_dir)
    complete = read_events(run_dir)
    with open(run_dir / "events.jsonl", "a", encoding="utf-8") as f:
        f.write('{"type":"epoch","time":1.0,"epoch":999,"train_lo')  # killed mid-line
    done = run_cli("export", source.name, "--format", "csv,jsonl", "--runs-dir",
               str(tmp_path / "runs"), "-o", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert_no_traceback(done)
    assert "torn last line" in done.stderr
    table = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert 999 not in set(table["epoch"])
    assert len(table) == len([e for e in complete if e["type"] == "epoch"])
    lines = (tmp_path / "out" / f"{source.name}.events.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == complete


# ---- errors a user can make ----------------------------------------------------------------


def test_an_unknown_run_id_is_named_with_how_to_list_the_ids(runs_dir: Path,
                                                              tmp_path: Path) -> None:
    done = run_cli("export", "20990101-nope", "--runs-dir", str(runs_dir), "-o", str(tmp_path))
    line = one_error_line(done)
    assert "'20990101-nope'" in line and "dmt-tui runs" in line
    assert not list(tmp_path.iterdir())


def test_a_prefix_of_several_runs_asks_for_more_of_the_id(runs_dir: Path,
                                                          run_dirs: list[Path]) -> None:
    prefix = run_dirs[0].name[:4]  # the year: every run has it
    line = one_error_line(run_cli("export", prefix, "--runs-dir", str(runs_dir)))
    assert f"matches {len(run_dirs)} runs" in line and "give more of the id" in line


def test_an_unknown_format_lists_the_allowed_ones(runs_dir: Path, tmp_path: Path) -> None:
    line = one_error_line(run_cli("export", "--all", "--format", "csv,xlsx", "--runs-dir",
                              str(runs_dir), "-o", str(tmp_path)))
    assert "'xlsx'" in line and "csv, jsonl, parquet, tensorboard" in line
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_an_output_folder_that_cannot_be_written_is_named(runs_dir: Path,
                                                          tmp_path: Path) -> None:
    # A folder below a plain file cannot be made, even by root (which ignores permissions).
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = one_error_line(run_cli("export", "--all", "--runs-dir", str(runs_dir),
                              "-o", str(blocker / "out")))
    assert str(blocker) in line


def test_run_ids_or_all_is_required(runs_dir: Path) -> None:
    for args in ((), (runs_dir.name, "--all")):
        done = run_cli("export", *args, "--runs-dir", str(runs_dir))
        assert done.returncode == 2
        assert_no_traceback(done)
        assert "RUN_ID" in done.stderr and "--all" in done.stderr
        assert done.stderr.startswith("usage: dmt-tui export")


def test_all_in_an_empty_runs_folder_says_there_is_nothing(tmp_path: Path) -> None:
    line = one_error_line(run_cli("export", "--all", "--runs-dir", str(tmp_path / "none")))
    assert "no runs in" in line and str(tmp_path / "none") in line


@pytest.mark.parametrize(("fmt", "module"), [("parquet", "pyarrow"),
                                             ("tensorboard", "tensorboard")])
def test_a_missing_optional_package_says_how_to_install_it(runs_dir: Path, tmp_path: Path,
                                                           fmt: str, module: str) -> None:
    # A package of that name earlier on the path that fails to import, as when not installed.
    blocked = tmp_path / "blocked" / module
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('blocked by the test')\n")
    done = run_cli("export", "--all", "--format", f"csv,{fmt}", "--runs-dir", str(runs_dir),
               "-o", str(tmp_path / "out"), env={"PYTHONPATH": str(blocked.parent)})
    line = one_error_line(done)
    assert f"pip install 'dmt-tui[{fmt}]'" in line
    assert not (tmp_path / "out").exists()  # checked before the csv was written
