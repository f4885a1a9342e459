"""Datasets: generated ones, the shipped tables, and CSV files with their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dmt_tui.presets.schema import ConfigError, load
from dmt_tui.trainer.data import GENERATED, SHIPPED_TABLES, load_dataset, split_indices


def data_section(**keys: object) -> dict:
    return {**load("name: x", "x")["data"], **keys}


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_datasets_are_seeded(name: str) -> None:
    a = load_dataset(data_section(dataset=name, n_samples=500), seed=3)
    b = load_dataset(data_section(dataset=name, n_samples=500), seed=3)
    c = load_dataset(data_section(dataset=name, n_samples=500), seed=4)
    assert np.array_equal(a.x_train, b.x_train) and not np.array_equal(a.x_train, c.x_train)
    assert len(a.x_train) + len(a.x_val) == 500 and len(a.x_val) == 100
    assert a.n_features == 2
    if name == "plane":
        assert a.task == "regression" and a.y_train.shape == (400, 1)
    else:
        assert a.task == "classification" and set(np.unique(a.y_train)) == {0, 1}
        assert 0.3 < a.y_train.mean() < 0.7  # both classes present in fair numbers


def test_split_is_seeded_and_disjoint() -> None:
    train, val = split_indices(100, 0.25, seed=1)
    assert len(val) == 25 and not set(train) & set(val)
    assert np.array_equal(val, split_indices(100, 0.25, seed=1)[1])
    train, val = split_indices(3, 0.01, seed=0)
    assert len(val) == 1 and len(train) == 2  # never an empty side


def test_shipped_tables() -> None:
    wine = load_dataset(data_section(dataset="wine"), seed=0)
    assert wine.task == "classification" and wine.n_classes == 3 and wine.n_features == 13
    assert wine.classes == ["cultivar_0", "cultivar_1", "cultivar_2"]
    # standardized with the training split's statistics
    assert np.allclose(wine.x_train.mean(0), 0, atol=1e-9)
    assert np.allclose(wine.x_train.std(0), 1, atol=1e-9)
    diabetes = load_dataset(data_section(dataset="diabetes"), seed=0)
    assert diabetes.task == "regression" and diabetes.n_features == 10
    assert set(SHIPPED_TABLES) == {"wine", "diabetes"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_csv_string_labels_become_indices(tmp_path: Path) -> None:
    rows = "\n".join(f"{i},{i % 7},{'cat' if i % 2 else 'dog'}" for i in range(40))
    path = write(tmp_path, "a,b,animal\n" + rows + "\n")
    ds = load_dataset(data_section(dataset="csv", path=str(path), label="animal"), seed=0)
    assert ds.classes == ["cat", "dog"] and ds.n_classes == 2 and ds.features == ["a", "b"]
    assert set(np.unique(np.concatenate([ds.y_train, ds.y_val]))) == {0, 1}
    raw = load_dataset(data_section(dataset="csv", path=str(path), label="animal",
                                    features=["b"], standardize=False), seed=0)
    assert raw.features == ["b"] and set(np.unique(raw.x_train)) <= set(range(7))


@pytest.mark.parametrize("text, keys, pattern", [
    (None, {}, r"data.csv: data.path: no such CSV file"),
    ("", {}, r"data.csv: the CSV file is empty"),
    ("a,b,y\n", {}, r"data.csv: the CSV has a header but no rows"),
    ("a,b,y\n1,2,0\n3,4,1\n", {"label": "target"},
     r"data.csv: data.label: no column 'target'; columns are: a, b, y"),
    ("a,b,y\n1,2,0\n3,4,1\n", {"features": ["a", "c"]}, r"data.features: no column 'c'"),
    ("a,b,y\n1,2,0\n3,x,1\n", {}, r"feature column 'b' is not numeric: row 3 has 'x'"),
    ("a,b,y\n1,2,0\n3,,1\n", {}, r"column 'b' has a missing value at row 3"),
    ("a,b,y\n1,2,0\n3,4,0\n", {}, r"label column 'y' has a single class \('0'\)"),
])
def test_csv_errors_name_the_file_column_and_row(tmp_path: Path, text: str | None, keys: dict,
                                                 pattern: str) -> None:
    path = tmp_path / "data.csv" if text is None else write(tmp_path, text)
    with pytest.raises(ConfigError, match=pattern) as err:
        load_dataset(data_section(**{"dataset": "csv", "path": str(path), "label": "y", **keys}),
                     seed=0)
    assert "\n" not in str(err.value)
