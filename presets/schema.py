"""The preset schema: defaults, validation and `--set` overrides.

Torch-free on purpose: the app validates its launch form with this module, and
the app never loads torch. The trainer's registries (activations, optimizers,
datasets, schedules) must name exactly the choices listed here; a unit test
holds them together.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import reprlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Re-exported: the trainer and the app import them from here.
from dmt_tui.presets.sizes import check_memory
from dmt_tui.presets.yaml_io import ConfigError as ConfigError
from dmt_tui.presets.yaml_io import parse_yaml as parse_yaml
from dmt_tui.presets.yaml_io import read_small_file as read_small_file

# csv last: the launch form's list ends with it (`end` reaches it)
DATASETS = ("circle", "xor", "gauss", "spiral", "moons", "plane", "wine", "diabetes", "npz",
            "parquet", "csv")
FILE_DATASETS = ("csv", "npz", "parquet")  # read from data.path
ACTIVATIONS = (
    "identity", "binary_step", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu",
    "selu", "gelu", "softplus", "silu", "mish", "gaussian", "gcu",
)
OPTIMIZERS = ("sgd", "adam", "adamw", "adagrad", "rmsprop")
SCHEDULES = ("none", "noam", "cosine", "step")
MODEL_KINDS = ("logreg", "mlp", "python")
DTYPES = ("float32", "float64")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Key:
    """One preset key: its default, the check its value must pass, and what is allowed."""

    default: Any
    check: Callable[[Any], Any]  # returns the clean value or raises ValueError
    allowed: str


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, str):
        value = float(value)  # "1e-3" from a quoted or older-YAML scalar
    if not isinstance(value, int | float):
        raise ValueError
    if not math.isfinite(value):
        raise ValueError
    return float(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ValueError
    return value


def real(low: float | None = None, high: float | None = None, *, low_open: bool = False,
         high_open: bool = False) -> Key:
    """A finite number, optionally bounded; the bound is open where said."""

    def check(value: Any) -> float:
        x = _number(value)
        if low is not None and (x < low or (low_open and x == low)):
            raise ValueError
        if high is not None and (x > high or (high_open and x == high)):
            raise ValueError
        return x

    lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
    hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
    bounds = " and ".join(b for b in (lo, hi) if b)
    return Key(None, check, f"a finite number {bounds}".strip())


def integer(low: int, high: int | None = None) -> Key:
    def check(value: Any) -> int:
        n = _integer(value)
        if n < low or (high is not None and n > high):
            raise ValueError
        return n

    bounds = f">= {low}" + ("" if high is None else f" and <= {high}")
    return Key(None, check, f"a whole number {bounds}")


def choice(options: tuple[str, ...]) -> Key:
    def check(value: Any) -> str:
        if value not in options:
            raise ValueError
        return str(value)

    return Key(None, check, "one of " + ", ".join(options))


def boolean() -> Key:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError
        return value

    return Key(None, check, "true or false")


def text(pattern: re.Pattern[str] | None = None, allowed: str = "a string") -> Key:
    def check(value: Any) -> str:
        if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
            raise ValueError
        return value

    return Key(None, check, allowed)


def optional(key: Key) -> Key:
    def check(value: Any) -> Any:
        return None if value is None else key.check(value)

    return Key(None, check, key.allowed + ", or null")


def list_of(item: Key, min_len: int = 0, max_len: int | None = None) -> Key:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list) or len(value) < min_len:
            raise ValueError
        if max_len is not None and len(value) > max_len:
            raise ValueError
        return [item.check(v) for v in value]

    if max_len == min_len:
        size = f"exactly {min_len}"
    else:
        size = f"{min_len} to {max_len}" if max_len else f"{min_len} or more"
    return Key(None, check, f"a list of {size} items, each {item.allowed}")


def default(key: Key, value: Any) -> Key:
    return Key(value, key.check, key.allowed)


# The schema: every section, every key, its default. `dmt-tui presets --schema` prints it.
SCHEMA: dict[str, dict[str, Key]] = {
    "data": {
        "dataset": default(choice(DATASETS), "spiral"),
        "n_samples": default(integer(10, 10_000_000), 2000),      # generated datasets only
        "noise": default(real(0.0, 10.0), 0.1),                     # std of added noise
        "val_fraction": default(real(0.0, 1.0, low_open=True, high_open=True), 0.2),
        "path": default(optional(text()), None),                   # csv, npz, parquet
        "label": default(optional(text()), None),                  # csv, parquet: the target
        "features": default(optional(list_of(text(), 1)), None),   # csv: default all others
        "x": default(optional(text()), None),                      # npz: the features' array
        "y": default(optional(text()), None),                      # npz: the targets' array
        "standardize": default(boolean(), True),                   # with training-split stats
        "task": default(optional(choice(("classification", "regression"))), None),  # csv
    },
    "model": {
        "kind": default(choice(MODEL_KINDS), "mlp"),
        "hidden": default(list_of(integer(1, 1_000_000), 0, 64), [32, 32, 32]),
        "activation": default(choice(ACTIVATIONS), "relu"),
        "leaky_slope": default(real(0.0, 1.0), 0.01),              # leaky_relu's slope for x < 0
        "elu_alpha": default(real(0.0, 100.0, low_open=True), 1.0),  # elu's saturation value
        "path": default(optional(text()), None),                   # python: the user's file
        "builder": default(optional(text(IDENTIFIER, "a Python function name")), None),
    },
    "optimizer": {
        "name": default(choice(OPTIMIZERS), "adam"),
        "lr": default(real(0.0, 1e6, low_open=True), 1e-3),        # ignored by noam
        "momentum": default(real(0.0, 1.0, high_open=True), 0.0),  # sgd, rmsprop
        "nesterov": default(boolean(), False),                     # sgd, needs momentum > 0
        "weight_decay": default(real(0.0, 10.0), 0.0),
        "betas": default(list_of(real(0.0, 1.0, high_open=True), 2, 2), [0.9, 0.999]),  # adam(w)
        "alpha": default(real(0.0, 1.0, low_open=True, high_open=True), 0.99),  # rmsprop decay
        "eps": default(optional(real(0.0, 1.0, low_open=True)), None),  # null: PyTorch's
    },
    "schedule": {
        "name": default(choice(SCHEDULES), "none"),
        "warmup": default(integer(1, 10**9), 400),                 # noam: warm-up steps
        "factor": default(real(0.0, 1e6, low_open=True), 1.0),     # noam: scale
        "d_model": default(optional(integer(1, 10**9)), None),    # noam: default widest hidden
        "step_size": default(integer(1, 10**9), 30),               # step: epochs per decay
        "gamma": default(real(0.0, 1.0, low_open=True), 0.1),      # step: decay factor
        "min_lr": default(real(0.0, 1e6), 0.0),                        # cosine: the floor
    },
    "train": {
        "epochs": default(integer(1, 10_000_000), 100),
        "batch_size": default(integer(1, 100_000_000), 32),
        "seed": default(integer(0, 2**63 - 1), 0),
        "device": default(text(DEVICE_PATTERN, "auto, cpu, cuda or cuda:N"), "auto"),
        "dtype": default(choice(DTYPES), "float32"),
        "grad_stats": default(boolean(), True),                    # per-layer gradient norms
        "boundary": default(boolean(), True),                      # 2-D data: boundary events
        "hist_bins": default(integer(2, 200), 24),                 # gradient histogram bins
        "threads": default(optional(integer(1, 1024)), None),      # null: share the cores
        "cuda_graphs": default(boolean(), True),                   # replay steps on CUDA
    },
    "early_stopping": {
        "patience": default(integer(0, 10_000_000), 10),           # epochs; 0 turns it off
        "min_delta": default(real(0.0, 1e30), 0.0),
        "restore_best": default(boolean(), True),
        # val_loss above this ends the run `diverged` (Lightning's divergence_threshold)
        "divergence_threshold": default(optional(real()), None),
        # train_loss above this many times the untrained model's loss: `diverged`; null: off
        "divergence_factor": default(optional(real(1.0, low_open=True)), 100.0),
    },
}
TOP_LEVEL: dict[str, Key] = {
    "name": default(text(NAME_PATTERN, "letters, digits, '.', '_' and '-' (1-64, "
                         "not starting with '.', '_' or '-')"), "custom"),
    "description": default(text(), ""),
}


def _group(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError
    return value


# Written by `dmt-tui sweep` into each trial's config, and only there: a run that belongs to
# no experiment has no such section (so no preset needs it, and config.yaml stays as it was).
OPTIONAL_SECTIONS: dict[str, dict[str, Key]] = {
    "experiment": {
        "id": text(NAME_PATTERN, "an experiment id"),              # the experiment's manifest
        "group": Key(None, _group, "a mapping of varied keys to values"),  # the configuration
        "trial": integer(0),                                       # its place in the manifest
    },
}
KNOWN_TOP = sorted([*TOP_LEVEL, *SCHEMA, *OPTIONAL_SECTIONS])


def _nearest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"{hint}known: {', '.join(known)}"


def resolve(raw: Any, where: str, origins: dict[str, str] | None = None) -> dict[str, Any]:
    """A preset as read (a mapping) to the full config, every default filled, every value
    checked. Errors name `where` (a file), or the `--set` that gave the key (`origins`:
    dotted key to its `--set KEY=VALUE`), and the dotted key."""
    origins = origins or {}
    if raw is None:
        raise ConfigError(f"{where}: the preset is empty; expected a mapping with sections "
                          f"{', '.join(SCHEMA)}")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of sections ({', '.join(KNOWN_TOP)}), "
                          f"got {type(raw).__name__}")
    config: dict[str, Any] = {}
    for key in raw:
        if key not in TOP_LEVEL and key not in SCHEMA and key not in OPTIONAL_SECTIONS:
            raise ConfigError(f"{where}: unknown section '{key}'; {_nearest(str(key), KNOWN_TOP)}")
    for key, spec in TOP_LEVEL.items():
        config[key] = _check(spec, raw.get(key, spec.default), origins.get(key, where), key)
    for section, keys in SCHEMA.items():
        given = raw.get(section) or {}
        if not isinstance(given, dict):
            raise ConfigError(f"{where}: {section}: expected a mapping of keys "
                              f"({', '.join(keys)}), got {type(given).__name__}")
        for key in given:
            if key not in keys:
                raise ConfigError(f"{where}: unknown key '{section}.{key}'; "
                                  f"{_nearest(str(key), list(keys))}")
        config[section] = {
            key: _check(spec, given[key] if key in given else copy.deepcopy(spec.default),
                        origins.get(f"{section}.{key}", where), f"{section}.{key}")
            for key, spec in keys.items()
        }
    for section, keys in OPTIONAL_SECTIONS.items():
        given = raw.get(section)
        if given is None:
            continue
        if not isinstance(given, dict) or set(given) != set(keys):
            raise ConfigError(f"{where}: {section}: expected a mapping of {', '.join(keys)}")
        config[section] = {key: _check(spec, given[key], where, f"{section}.{key}")
                           for key, spec in keys.items()}
    _check_together(config, where, origins)
    return config


def _check(spec: Key, value: Any, where: str, dotted: str) -> Any:
    try:
        return spec.check(value)
    except (ValueError, TypeError, OverflowError):
        shown = "null" if value is None else _short_repr(value)
        raise ConfigError(f"{where}: {dotted}: expected {spec.allowed}, got {shown}") from None


def _short_repr(value: Any, limit: int = 60) -> str:
    """A value for a message, cut short: a 10**400 or a long list must not fill the screen."""
    if isinstance(value, int) and abs(value) > 10**30:
        return f"a number of {len(str(abs(value)))} digits"
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxdict, short.maxstring = 2, 8, 8, limit
    shown = short.repr(value)
    return shown if len(shown) <= limit else shown[:limit - 3] + "..."


def _check_together(config: dict[str, Any], where: str, origins: dict[str, str]) -> None:
    """Rules that tie keys to each other; an error names the `--set` of its key if any."""
    data, model, opt = config["data"], config["model"], config["optimizer"]

    def at(dotted: str) -> str:
        return origins.get(dotted, where)

    needs = {"csv": ("path", "label"), "parquet": ("path", "label"), "npz": ("path", "x", "y")}
    for key in needs.get(data["dataset"], ()):
        if not data[key]:
            what = {"path": "the path of its file", "label": "its label column",
                    "x": "the name of its features' array", "y": "the name of its targets' array"}
            article = "an" if data["dataset"] == "npz" else "a"
            raise ConfigError(f"{at('data.dataset')}: data.{key}: {article} {data['dataset']} "
                              f"dataset needs {what[key]}")
    if model["kind"] == "python":
        for key, needed in (("path", "the path of a .py file"), ("builder", "a function name")):
            if not model[key]:
                raise ConfigError(f"{at('model.kind')}: model.{key}: model.kind: python needs "
                                  f"{needed}; the function gets (n_features, n_outputs, config) "
                                  f"and returns a torch.nn.Module")
        model["hidden"] = []  # the user's file decides the layers; keep config.yaml true
    if model["kind"] == "logreg" and model["hidden"]:
        model["hidden"] = []  # a logistic regression has no hidden layer; keep config.yaml true
    if model["kind"] == "mlp" and not model["hidden"]:
        raise ConfigError(f"{at('model.hidden')}: model.hidden: an mlp needs at least one "
                          f"hidden width (or use model.kind: logreg)")
    if opt["nesterov"] and (opt["name"] != "sgd" or opt["momentum"] <= 0):
        raise ConfigError(f"{at('optimizer.nesterov')}: optimizer.nesterov: needs "
                          f"optimizer.name: sgd and optimizer.momentum > 0")
    check_memory(config, where, origins)


def apply_set(raw: dict[str, Any], assignment: str, where: str | None = None) -> str:
    """One `--set section.key=value` onto a raw preset; the value is a YAML scalar or list.
    Returns the dotted key it set. Errors name `where` (default `--set KEY=VALUE`;
    `dmt-tui sweep` names its `--grid`)."""
    where = where or f"--set {assignment if len(assignment) <= 80 else assignment[:77] + '...'}"
    dotted, sep, value_text = assignment.partition("=")
    parts = dotted.strip().split(".")
    if not sep or not all(parts):
        raise ConfigError(f"{where}: expected KEY=VALUE with a dotted key such as "
                          f"optimizer.lr=1e-3")
    value = parse_yaml(value_text, where) if value_text.strip() else None
    if len(parts) == 1:
        if parts[0] not in TOP_LEVEL:
            hint = f" (sections take a key: {parts[0]}.KEY=...)" if parts[0] in SCHEMA else ""
            raise ConfigError(f"{where}: unknown key '{parts[0]}'{hint}; "
                              f"{_nearest(parts[0], list(TOP_LEVEL))}")
        raw[parts[0]] = value
        return parts[0]
    if len(parts) != 2:
        raise ConfigError(f"{where}: keys have two parts, section.key, got '{dotted}'")
    section, key = parts
    if section not in SCHEMA:
        raise ConfigError(f"{where}: unknown section '{section}'; {_nearest(section, KNOWN_TOP)}")
    if key not in SCHEMA[section]:
        raise ConfigError(f"{where}: unknown key '{section}.{key}'; "
                          f"{_nearest(key, list(SCHEMA[section]))}")
    target = raw.setdefault(section, {})
    if not isinstance(target, dict):
        raise ConfigError(f"{where}: the preset's '{section}' is not a mapping")
    target[key] = value
    return f"{section}.{key}"


def load(source: str, where: str, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """YAML text plus `--set` overrides to a resolved config."""
    config, _ = _load(source, where, overrides)
    return config


def _load(source: str, where: str,
          overrides: list[str] | tuple[str, ...]) -> tuple[dict[str, Any], dict[str, str]]:
    """`load`, also returning which keys each `--set` gave."""
    raw = parse_yaml(source, where)
    if raw is None:
        raw = {} if overrides else raw
    origins: dict[str, str] = {}
    if isinstance(raw, dict):
        for assignment in overrides:
            shown = assignment if len(assignment) <= 80 else assignment[:77] + "..."
            origins[apply_set(raw, assignment)] = f"--set {shown}"
    return resolve(raw, where, origins), origins


def load_file(path: Path, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """A preset file plus `--set` overrides to a resolved config. A relative data file or
    model file (data.path, model.path) is made absolute: from a `--set` or a built-in
    preset, against the current folder (where it was typed); from the user's file, against
    the file's folder. There is no fallback from one to the other."""
    config, origins = _load(read_small_file(path), str(path), overrides)
    builtin = path.resolve().parent == Path(__file__).resolve().parent / "builtin"
    uses = (("data", config["data"]["dataset"] in FILE_DATASETS),
            ("model", config["model"]["kind"] == "python"))
    for section, used in uses:
        given = config[section]["path"]
        if used and given and not Path(given).expanduser().is_absolute():
            typed_here = f"{section}.path" in origins or builtin
            base = Path.cwd() if typed_here else path.parent
            config[section]["path"] = str((base / Path(given).expanduser()).absolute())
    return config


def schema_lines() -> list[str]:
    """Every key with its default and what it allows: `dmt-tui presets --schema`."""
    rows = [(key, spec) for key, spec in TOP_LEVEL.items()]
    rows += [(f"{section}.{key}", spec) for section, keys in SCHEMA.items()
             for key, spec in keys.items()]
    width = max(len(key) for key, _ in rows)
    return [f"{key:<{width}}  default {_flow(spec.default):<14}  {spec.allowed}"
            for key, spec in rows]


def _flow(value: Any) -> str:
    """A default as it would be written in a preset."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def dump(config: dict[str, Any]) -> str:
    """The config as YAML that `load` reads back to the same config."""
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=None)
