"""Datasets from a user's .npz archive or Parquet file, with the CSV loader's checks (a
regular file that fits in memory, numeric finite features without missing values, labels
checked as in trainer.data) and its message style: the file, the key, what is accepted.

Rows are numbered from 0 in messages, as numpy and pandas number them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from dmt_tui.presets.schema import ConfigError
from dmt_tui.trainer.data import Dataset, check_data_file, from_frame, with_labels

NUMBERS = "biuf"  # numpy dtype kinds that are numbers: bool, signed, unsigned, float


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _array(archive: Any, key: str, which: str, path: Path) -> np.ndarray:
    """One named array of the archive, never unpickled."""
    if key not in archive.files:
        names = ", ".join(archive.files) or "none"
        raise ConfigError(f"{path}: data.{which}: no array '{key}' in the npz file; its arrays "
                          f"are: {names}")
    try:
        return np.asarray(archive[key])
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise ConfigError(f"{path}: data.{which}: array '{key}' holds Python objects, "
                              f"which load only by unpickling (that can run code, so dmt-tui "
                              f"never does); save it as numbers, e.g. "
                              f"np.savez(file, {key}={key}.astype(float))") from None
        raise ConfigError(f"{path}: data.{which}: cannot read array '{key}': "
                          f"{_first_line(err)}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ConfigError(f"{path}: data.{which}: cannot read array '{key}': "
                          f"{_first_line(err)}") from None


def from_npz(data: dict[str, Any], seed: int) -> Dataset:
    """data.x: features, (rows, features) or (rows,); data.y: targets, (rows,) or (rows, 1),
    numbers or text."""
    import pandas as pd

    path = Path(data["path"]).expanduser()
    check_data_file(path, "npz")
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as err:
        if "pickle" in str(err):
            raise ConfigError(f"{path}: data.path: a pickle, not an npz archive; dmt-tui never "
                              f"unpickles a data file (that can run code): save it with "
                              f"np.savez") from None
        raise ConfigError(f"{path}: data.path: cannot read the npz: "
                          f"{_first_line(err)}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ConfigError(f"{path}: data.path: cannot read the npz: "
                          f"{_first_line(err)}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ConfigError(f"{path}: data.path: a single .npy array, not an npz archive; save "
                          f"the features and the targets with np.savez(file, x=..., y=...)")
    with archive:
        x = _array(archive, data["x"], "x", path)
        y = _array(archive, data["y"], "y", path)
    xkey, ykey = data["x"], data["y"]
    if x.dtype.kind not in NUMBERS:
        raise ConfigError(f"{path}: data.x: array '{xkey}' holds {x.dtype} values, not "
                          f"numbers; features must be numbers")
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ConfigError(f"{path}: data.x: array '{xkey}' has shape {x.shape}; expected "
                          f"(rows, features) or (rows,)")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise ConfigError(f"{path}: data.y: array '{ykey}' has shape {y.shape}; expected "
                          f"(rows,) or (rows, 1): one target per row")
    if len(x) != len(y):
        raise ConfigError(f"{path}: data.y: array '{ykey}' has {len(y)} rows and '{xkey}' has "
                          f"{len(x)}; they need one target per row")
    if y.dtype.kind not in NUMBERS + "U":
        raise ConfigError(f"{path}: data.y: array '{ykey}' holds {y.dtype} values; targets "
                          f"must be numbers or text")
    if len(x) == 0:
        raise ConfigError(f"{path}: the npz file's arrays have no rows")
    x = x.astype(np.float64)
    missing = np.isnan(x)
    if missing.any():
        row, column = (int(i) for i in np.argwhere(missing)[0])
        raise ConfigError(f"{path}: array '{xkey}' has a missing value (NaN) at row {row}, "
                          f"column {column} ({int(missing.sum())} missing in all); fill or "
                          f"drop them")
    bad = ~np.isfinite(x)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise ConfigError(f"{path}: array '{xkey}' has {x[row, column]} at row {row}, column "
                          f"{column} ({int(bad.sum())} such values in all); values must be "
                          f"finite")
    labels = pd.Series(y)
    if labels.isna().any():
        row = int(np.argmax(labels.isna().to_numpy()))
        raise ConfigError(f"{path}: array '{ykey}' has a missing value (NaN) at row {row} "
                          f"({int(labels.isna().sum())} missing in all); fill or drop them")
    features = [f"{xkey}[{i}]" for i in range(x.shape[1])]
    return with_labels(x, features, labels, ykey, data, seed, str(path), 0)


def from_parquet(data: dict[str, Any], seed: int) -> Dataset:
    """A Parquet table: data.label and data.features name its columns, as for a CSV."""
    path = Path(data["path"]).expanduser()
    try:
        import pyarrow  # noqa: F401 - pandas reads Parquet through it
    except ImportError:
        raise ConfigError(f"{path}: data.dataset: parquet needs the pyarrow package, which is "
                          f"not installed here: pip install 'dmt-tui[parquet]' (or "
                          f"pyarrow)") from None
    import pandas as pd

    check_data_file(path, "Parquet")
    try:
        frame = pd.read_parquet(path, engine="pyarrow")
    except Exception as err:  # noqa: BLE001 - pyarrow's errors (ArrowInvalid...) vary by version
        raise ConfigError(f"{path}: data.path: cannot read the Parquet: "
                          f"{_first_line(err)}") from None
    names = [str(c) for c in frame.columns]
    for number, name in enumerate(names):
        if name in names[:number]:
            raise ConfigError(f"{path}: column '{name}' appears twice (columns "
                              f"{names.index(name) + 1} and {number + 1}); column names must "
                              f"be unique")
    return from_frame(frame, data, seed, str(path), first_row=0, kind="Parquet")
