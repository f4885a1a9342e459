"""D: datasets. Each builder returns numpy arrays; the loop moves them to the device once.

The 2-D datasets follow TensorFlow Playground's; `wine` and `diabetes` are real tables
shipped with the package (see README, "Datasets"); `csv` reads a user's file with pandas,
imported only then because it costs a large part of a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dmt_tui.presets.config_types import DataConfig
from dmt_tui.presets.schema import ConfigError

SHIPPED = Path(__file__).resolve().parent.parent / "presets" / "datasets"
CSV_MEMORY_FACTOR = 4  # pandas' frame and the arrays made from it, against the file's size


@dataclass
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray  # class indices (int64) or targets (float, shape (n, 1))
    x_val: np.ndarray
    y_val: np.ndarray
    task: str  # "classification" | "regression"
    n_classes: int  # 0 for regression
    features: list[str]
    classes: list[str] = field(default_factory=list)  # class index -> label, where labels had names

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])


# ---- generated 2-D datasets: (n, noise, rng) -> (x, y) -----------------------------------

def _circle(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 2, n)
    radius = np.where(y == 0, rng.uniform(0.0, 0.5, n), rng.uniform(0.7, 1.0, n))
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    return x + rng.normal(0, noise * 0.5, x.shape), y


def _xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-1, 1, (n, 2))
    x += np.sign(x) * 0.05  # a small gap at the axes, as in the Playground
    y = (x[:, 0] * x[:, 1] >= 0).astype(np.int64)
    return x + rng.normal(0, noise * 0.5, x.shape), y


def _gauss(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 2, n)
    centre = np.where(y[:, None] == 0, -0.5, 0.5)
    return centre + rng.normal(0, 0.25 + noise, (n, 2)), y


def _spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 2, n)
    t = rng.uniform(0, 1, n)
    radius = 0.1 + 0.9 * t
    angle = 3.5 * np.pi * t + np.pi * y
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    return x + rng.normal(0, noise * 0.5, x.shape), y


def _moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 2, n)
    t = rng.uniform(0, np.pi, n)
    x = np.where(y[:, None] == 0,
                 np.stack([np.cos(t), np.sin(t)], 1),
                 np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1))
    x = (x - [0.5, 0.25]) / 1.2
    return x + rng.normal(0, noise, x.shape), y


def _plane(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-1, 1, (n, 2))
    y = 0.8 * x[:, 0] - 0.5 * x[:, 1] + rng.normal(0, noise, n)
    return x, y.reshape(-1, 1)


GENERATED: dict[str, Callable[[int, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]] = {
    "circle": _circle,
    "xor": _xor,
    "gauss": _gauss,
    "spiral": _spiral,
    "moons": _moons,
    "plane": _plane,
}
# Real tables shipped with the package: name -> (file, label column).
SHIPPED_TABLES = {"wine": ("wine.csv", "cultivar"), "diabetes": ("diabetes.csv", "progression")}


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded shuffle of 0..n-1 cut into (train, val); each side keeps at least one row."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    return order[n_val:], order[:n_val]


def load_dataset(section: DataConfig, seed: int) -> Dataset:
    """The `data` section of a resolved config to a split, standardized dataset."""
    name = section["dataset"]
    data: dict[str, Any] = dict(section)
    if name in GENERATED:
        rng = np.random.default_rng(seed)
        x, y = GENERATED[name](data["n_samples"], data["noise"], rng)
        task = "regression" if name == "plane" else "classification"
        return _split(x.astype(np.float64), y, task, ["x1", "x2"], [], data, seed)
    if name in SHIPPED_TABLES:
        file_name, label = SHIPPED_TABLES[name]
        table = {**data, "path": str(SHIPPED / file_name), "label": label, "features": None}
        return _from_csv(table, seed)
    if name in ("npz", "parquet"):
        from dmt_tui.trainer.data_files import from_npz, from_parquet

        return (from_npz if name == "npz" else from_parquet)(data, seed)
    return _from_csv(data, seed)


def _split(x: np.ndarray, y: np.ndarray, task: str, features: list[str], classes: list[str],
           data: dict[str, Any], seed: int) -> Dataset:
    if len(x) < 2:
        raise ConfigError(f"data: need at least 2 rows to split into train and validation, "
                          f"got {len(x)}")
    train, val = split_indices(len(x), data["val_fraction"], seed)
    x_train, x_val = x[train], x[val]
    y = y.astype(np.int64) if task == "classification" else y.astype(np.float64).reshape(-1, 1)
    y_train, y_val = y[train], y[val]
    if data["dataset"] not in GENERATED and data["standardize"]:
        x_train, x_val = _standardize(x_train, x_val)
        if task == "regression":  # keeps MSE near 1 whatever the target's unit
            y_train, y_val = _standardize(y_train, y_val)
    n_classes = (len(classes) or int(y.max()) + 1) if task == "classification" else 0
    return Dataset(x_train, y_train, x_val, y_val, task, n_classes, features, classes)


def _standardize(train: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale with the training split's statistics only (no leak from validation)."""
    mean = train.mean(0)
    std = train.std(0)
    std[std == 0] = 1.0  # a constant column stays constant instead of becoming NaN
    return (train - mean) / std, (val - mean) / std


def _from_csv(data: dict[str, Any], seed: int) -> Dataset:
    import pandas as pd  # only CSV runs pay for pandas

    path = Path(data["path"]).expanduser()
    where = f"{path}"
    check_data_file(path)
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise ConfigError(f"{where}: data.path: no such CSV file") from None
    except pd.errors.EmptyDataError:
        raise ConfigError(f"{where}: the CSV file is empty (no header, no rows)") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"{where}: cannot read the CSV: {first}") from None
    _check_header(path)
    return from_frame(frame, data, seed, where, first_row=2, kind="CSV")


def from_frame(frame: Any, data: dict[str, Any], seed: int, where: str, first_row: int,
               kind: str) -> Dataset:
    """A table read from a file (a pandas DataFrame) to a dataset, with every check on its
    columns. Messages number rows from `first_row` (2 for a CSV: the line after its header;
    0 where rows are counted as pandas and numpy count them) and call the file a `kind`."""
    import pandas as pd

    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    label = data["label"]
    if label not in columns:
        raise ConfigError(f"{where}: data.label: no column '{label}'; "
                          f"columns are: {', '.join(columns)}")
    features = data["features"] or [c for c in columns if c != label]
    for name in features:
        if name not in columns:
            raise ConfigError(f"{where}: data.features: no column '{name}'; "
                              f"columns are: {', '.join(columns)}")
    if label in features:
        raise ConfigError(f"{where}: data.features: '{label}' is the label column")
    if not features:
        raise ConfigError(f"{where}: no feature columns besides the label '{label}'")
    if len(frame) == 0:
        raise ConfigError(f"{where}: the {kind} has a header but no rows" if kind == "CSV" else
                          f"{where}: the {kind} file has no rows")
    for name in [*features, label]:
        missing = frame[name].isna().to_numpy()
        if missing.any():
            row = int(np.argmax(missing)) + first_row
            raise ConfigError(f"{where}: column '{name}' has a missing value at row {row} "
                              f"({int(missing.sum())} missing in all); fill or drop them")
    for name in features:
        numeric = pd.to_numeric(frame[name], errors="coerce")
        bad = numeric.isna().to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise ConfigError(f"{where}: feature column '{name}' is not numeric: "
                              f"row {row + first_row} has {frame[name].iloc[row]!r}; features "
                              f"must be "
                              f"numbers (list the numeric ones in data.features)")
        frame[name] = numeric
        _check_finite(where, name, numeric.to_numpy(np.float64), "feature", first_row)
    x = frame[features].to_numpy(dtype=np.float64)
    return with_labels(x, features, frame[label], label, data, seed, where, first_row)


def with_labels(x: np.ndarray, features: list[str], column: Any, label: str,
                data: dict[str, Any], seed: int, where: str, first_row: int) -> Dataset:
    """Features and the label column (a pandas Series) to a split dataset: the task (given
    or inferred), then numeric targets or class indices, each checked."""
    import pandas as pd

    task = data["task"] or _infer_task(column)
    if task == "regression":
        y_num = pd.to_numeric(column, errors="coerce")
        if y_num.isna().any():
            row = int(np.argmax(y_num.isna().to_numpy()))
            raise ConfigError(f"{where}: label column '{label}' is not numeric at row "
                              f"{row + first_row} ({column.iloc[row]!r}); a regression needs "
                              f"numbers")
        _check_finite(where, label, y_num.to_numpy(np.float64), "label", first_row)
        return _split(x, y_num.to_numpy(np.float64), task, features, [], data, seed)
    _check_class_labels(where, label, column, first_row)
    labels = column.astype(str)
    classes = sorted(labels.unique(), key=_natural)
    if len(classes) < 2:
        raise ConfigError(f"{where}: label column '{label}' has a single class "
                          f"({classes[0]!r}); classification needs at least two")
    index = {c: i for i, c in enumerate(classes)}
    y = labels.map(index).to_numpy(np.int64)
    return _split(x, y, task, features, classes, data, seed)


def check_data_file(path: Path, kind: str = "CSV") -> None:
    """A data file (a CSV, npz or Parquet `kind`) must be a regular file (a FIFO or
    /dev/zero would block or never end), and one that can fit in memory (pandas or numpy
    hold a few times the file's size)."""
    import stat

    from dmt_tui.presets.sizes import human, memory_limit

    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{path}: data.path: no such {kind} file") from None
    except OSError as err:
        raise ConfigError(f"{path}: data.path: cannot read the {kind}: {err.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path}: data.path: not a regular file; a {kind} dataset must be a file")
    limit = memory_limit()
    if limit is not None and info.st_size * CSV_MEMORY_FACTOR > limit:
        raise ConfigError(f"{path}: data.path: a {kind} of {human(info.st_size)} needs about "
                          f"{human(info.st_size * CSV_MEMORY_FACTOR)} of memory to load, more "
                          f"than this machine's {human(limit)}")


def _check_header(path: Path) -> None:
    """Column names must be unique: pandas would rename a second 'y' to 'y.1' and train
    on the first without a word."""
    import csv

    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        header = next(csv.reader(f), [])
    seen: dict[str, int] = {}
    for number, name in enumerate(header, 1):
        if name in seen:
            raise ConfigError(f"{path}: column '{name}' appears twice in the header (columns "
                              f"{seen[name]} and {number}); column names must be unique")
        seen[name] = number


def _check_finite(where: str, name: str, values: np.ndarray, kind: str,
                  first_row: int = 2) -> None:
    """inf or -inf in a column would become a `diverged` run at its first step."""
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        raise ConfigError(f"{where}: {kind} column '{name}' has {values[row]} at row "
                          f"{row + first_row} "
                          f"({int(bad.sum())} such values in all); values must be finite")


def _check_class_labels(where: str, label: str, column: Any, first_row: int = 2) -> None:
    """Numbers with a fractional part are not classes: `task: classification` on a
    measured quantity would make every distinct value a class of its own."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return
    values = column.to_numpy(dtype=np.float64)
    fractional = np.mod(values, 1) != 0
    if fractional.any():
        row = int(np.argmax(fractional))
        raise ConfigError(f"{where}: label column '{label}' has {len(np.unique(values))} "
                          f"distinct values, not whole numbers (row {row + first_row}: "
                          f"{values[row]}); "
                          f"with data.task: classification each would be a class. Use "
                          f"data.task: regression, or whole-number or text labels")


def _natural(label: str) -> tuple[int, float, str]:
    """Sort numeric-looking labels by value ('2' before '10'), others by text."""
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, 0.0, label)


def _infer_task(column: Any) -> str:
    """Text or few distinct whole numbers: classes. Otherwise a number to regress."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return "classification"
    values = column.to_numpy(dtype=np.float64)
    whole = np.all(np.equal(np.mod(values, 1), 0))
    return "classification" if whole and len(np.unique(values)) <= 20 else "regression"
