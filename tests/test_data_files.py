"""data.dataset: npz and parquet: a good file trains through the real `dmt-tui train`, and
each bad file is one clear line naming the file and the key, exit 2, no traceback, no run."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_cli

TRAIN = ["--set", "train.epochs=2", "--set", "train.device=cpu", "--set", "train.threads=1",
         "--set", "train.batch_size=64", "--quiet"]
NPZ = "data: {dataset: npz, path: d.npz, x: feats, y: target}\n"
PARQUET = "data: {dataset: parquet, path: d.parquet, label: kind}\n"


def _rows(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(n, 3))
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64)


def _train(folder: Path, preset: str, *extra: str) -> tuple[int, str, Path]:
    (folder / "p.yaml").write_text("name: files\n" + preset, encoding="utf-8")
    runs = folder / "runs"
    done = run_cli("train", str(folder / "p.yaml"), "--runs-dir", str(runs), *TRAIN, *extra,
                   cwd=folder, timeout=240)
    assert "Traceback" not in done.stdout + done.stderr
    return done.returncode, done.stderr, runs


def _start(runs: Path) -> dict[str, object]:
    (run_dir,) = runs.iterdir()
    for line in (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event["type"] == "start":
            return dict(event)
    raise AssertionError("no start event")


@pytest.mark.slow
def test_an_npz_file_trains(tmp_path: Path) -> None:
    x, y = _rows()
    np.savez(tmp_path / "d.npz", feats=x, target=y)
    code, err, runs = _train(tmp_path, NPZ)
    assert code == 0, err
    start = _start(runs)
    assert start["features"] == ["feats[0]", "feats[1]", "feats[2]"]
    assert start["classes"] == ["0", "1"] and start["n_train"] + start["n_val"] == 120  # type: ignore[operator]


@pytest.mark.slow
def test_a_parquet_file_trains_with_text_labels(tmp_path: Path) -> None:
    x, y = _rows()
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "kind": np.where(y == 1, "up", "down")}
                 ).to_parquet(tmp_path / "d.parquet")
    code, err, runs = _train(tmp_path, PARQUET)
    assert code == 0, err
    start = _start(runs)
    assert start["features"] == ["a", "b"] and start["classes"] == ["down", "up"]


def _npz(**arrays: object) -> Callable[[Path], None]:
    return lambda folder: np.savez(folder / "d.npz", **arrays)  # type: ignore[arg-type]


def _parquet(frame: pd.DataFrame) -> Callable[[Path], None]:
    return lambda folder: frame.to_parquet(folder / "d.parquet")


def _pickled(folder: Path) -> None:
    (folder / "d.npz").write_bytes(pickle.dumps({"feats": [1, 2], "target": [0, 1]}))


X, Y = _rows(6)
with_nan = X.copy()
with_nan[4, 2] = np.nan
with_inf = X.copy()
with_inf[3, 1] = np.inf
# case: (the preset's data line, what writes the file, the message after "dmt-tui: error: ")
CASES: dict[str, tuple[str, Callable[[Path], None] | None, str]] = {
    "npz missing file": (NPZ, None, "{d}/d.npz: data.path: no such npz file"),
    "npz missing key": (NPZ, _npz(features=X, target=Y),
                        "{d}/d.npz: data.x: no array 'feats' in the npz file; its arrays are: "
                        "features, target"),
    "npz rows differ": (NPZ, _npz(feats=X, target=Y[:5]),
                        "{d}/d.npz: data.y: array 'target' has 5 rows and 'feats' has 6; they "
                        "need one target per row"),
    "npz 3-d features": (NPZ, _npz(feats=X.reshape(6, 3, 1), target=Y),
                         "{d}/d.npz: data.x: array 'feats' has shape (6, 3, 1); expected "
                         "(rows, features) or (rows,)"),
    "npz 2-d targets": (NPZ, _npz(feats=X, target=np.stack([Y, Y], 1)),
                        "{d}/d.npz: data.y: array 'target' has shape (6, 2); expected (rows,) "
                        "or (rows, 1): one target per row"),
    "npz text features": (NPZ, _npz(feats=X.astype(str), target=Y),
                          "{d}/d.npz: data.x: array 'feats' holds <U32 values, not numbers; "
                          "features must be numbers"),
    "npz NaN feature": (NPZ, _npz(feats=with_nan, target=Y),
                        "{d}/d.npz: array 'feats' has a missing value (NaN) at row 4, column 2 "
                        "(1 missing in all); fill or drop them"),
    "npz inf feature": (NPZ, _npz(feats=with_inf, target=Y),
                        "{d}/d.npz: array 'feats' has inf at row 3, column 1 (1 such values in "
                        "all); values must be finite"),
    "npz single class": (NPZ, _npz(feats=X, target=np.ones(6, dtype=np.int64)),
                         "{d}/d.npz: label column 'target' has a single class ('1'); "
                         "classification needs at least two"),
    "npz object array": (NPZ, _npz(feats=np.array([[1, "a"]] * 6, dtype=object), target=Y),
                         "{d}/d.npz: data.x: array 'feats' holds Python objects, which load "
                         "only by unpickling (that can run code, so dmt-tui never does); save it "
                         "as numbers, e.g. np.savez(file, feats=feats.astype(float))"),
    "npz a pickle": (NPZ, _pickled,
                     "{d}/d.npz: data.path: a pickle, not an npz archive; dmt-tui never "
                     "unpickles a data file (that can run code): save it with np.savez"),
    "npz needs x": ("data: {dataset: npz, path: d.npz, y: target}\n", _npz(feats=X, target=Y),
                    "{d}/p.yaml: data.x: an npz dataset needs the name of its features' array"),
    "parquet missing file": (PARQUET, None, "{d}/d.parquet: data.path: no such Parquet file"),
    "parquet missing column": (PARQUET, _parquet(pd.DataFrame({"a": X[:, 0], "y": Y})),
                               "{d}/d.parquet: data.label: no column 'kind'; columns are: a, y"),
    "parquet text feature": (PARQUET, _parquet(pd.DataFrame({"a": ["1", "two"], "kind": [0, 1]})),
                             "{d}/d.parquet: feature column 'a' is not numeric: row 1 has 'two'; "
                             "features must be numbers (list the numeric ones in data.features)"),
    "parquet missing value": (PARQUET, _parquet(pd.DataFrame({"a": [1.0, None, 2.0],
                                                              "kind": [0, 1, 0]})),
                              "{d}/d.parquet: column 'a' has a missing value at row 1 (1 missing "
                              "in all); fill or drop them"),
    "parquet not parquet": (PARQUET, lambda d: (d / "d.parquet").write_text("a,b\n1,2\n"),
                            "{d}/d.parquet: data.path: cannot read the Parquet: "),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_data_file_is_one_clear_line(case: str, tmp_path: Path) -> None:
    preset, write, message = CASES[case]
    if write is not None:
        write(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, err, runs = _train(tmp_path, preset)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith("dmt-tui: error: " + message.format(d=tmp_path))
    assert not runs.exists()  # no run folder was made
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "p.yaml"])


@pytest.mark.slow
def test_parquet_without_pyarrow_names_the_missing_package(tmp_path: Path) -> None:
    shim = tmp_path / "shim" / "pyarrow"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('pyarrow is not installed')\n")
    pd.DataFrame({"a": X[:, 0], "kind": Y}).to_parquet(tmp_path / "d.parquet")
    (tmp_path / "p.yaml").write_text("name: files\n" + PARQUET, encoding="utf-8")
    done = run_cli("train", str(tmp_path / "p.yaml"), "--runs-dir", str(tmp_path / "runs"),
                   *TRAIN, env={"PYTHONPATH": str(tmp_path / "shim")}, timeout=240)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"dmt-tui: error: {tmp_path / 'd.parquet'}: data.dataset: "
                                   f"parquet needs the pyarrow package, which is not installed "
                                   f"here: pip install 'dmt-tui[parquet]' (or pyarrow)")
