"""The new-run form's fields: which preset keys it shows, how a field's text becomes a `--set`
assignment, how an error finds its field, and the name of a run launched with changes.
Textual-free, so the rules are tested without a screen."""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmt_tui.presets.schema import (
    ACTIVATIONS,
    DATASETS,
    DTYPES,
    OPTIMIZERS,
    SCHEDULES,
    SCHEMA,
    ConfigError,
    apply_set,
)


@dataclass(frozen=True)
class Field:
    """One form field: the preset key it sets, its label, and its choices (None: typed)."""

    key: str  # dotted, as in --set
    label: str
    choices: tuple[str, ...] | None = None
    hint: str = ""
    in_preset: bool = True  # False: a launch setting, not in config.yaml (processes)
    default: str = ""  # the value of a field the preset does not fill
    # In the name of a run launched with a change: `lr-10`; "" names the value alone; None:
    # not named (how long and where it trains: epochs, patience, device, processes).
    short: str | None = None
    section: str = ""  # the heading the field starts, if any

    @property
    def widget_id(self) -> str:
        return "field-" + self.key.replace(".", "-").replace("_", "-")

    @property
    def allowed(self) -> str:
        if self.hint:
            return self.hint
        section, _, name = self.key.partition(".")
        return SCHEMA[section][name].allowed


def _choices(options: tuple[str, ...]) -> str:
    return f"{len(options)} choices: space opens the list"


# The most varied first, in the order the form always had (tab x4 reaches epochs); the
# rest by section below them.
FIELDS = (
    Field("model.activation", "activation", ACTIVATIONS, _choices(ACTIVATIONS), short="",
          section="Most varied"),
    Field("optimizer.name", "optimizer", OPTIMIZERS, "one of " + ", ".join(OPTIMIZERS),
          short=""),
    Field("optimizer.lr", "learning rate", short="lr"),
    Field("train.epochs", "epochs"),
    Field("train.batch_size", "batch size", short="batch"),
    Field("model.hidden", "hidden layers", None, "widths, comma-separated: 64, 64",
          short="hidden"),
    Field("early_stopping.patience", "patience", None, "epochs without improvement; 0 = off"),
    Field("optimizer.momentum", "momentum", None, "sgd and rmsprop: 0 to < 1",
          short="momentum", section="Optimizer"),
    Field("optimizer.nesterov", "nesterov", ("false", "true"),
          "sgd with momentum > 0", short="nesterov"),
    Field("schedule.name", "schedule", SCHEDULES, "one of " + ", ".join(SCHEDULES), short="",
          section="Schedule"),
    Field("schedule.warmup", "warm-up steps", None, "noam: steps the lr rises",
          short="warmup"),
    Field("schedule.factor", "noam factor", None, "noam: scale, > 0", short="factor"),
    Field("schedule.step_size", "step size", None, "step: epochs between decays",
          short="step"),
    Field("schedule.gamma", "step gamma", None, "step: the lr's factor, 0 < gamma <= 1",
          short="gamma"),
    Field("schedule.min_lr", "cosine floor", None, "cosine: the lr it decays to, >= 0",
          short="minlr"),
    Field("data.dataset", "dataset", DATASETS, _choices(DATASETS), short="",
          section="Data"),
    Field("data.noise", "noise", None, "generated data: 0 to 10", short="noise"),
    Field("data.n_samples", "samples", None, "generated data: 10 to 10,000,000 rows",
          short="n"),
    Field("data.val_fraction", "val fraction", None, "held out, between 0 and 1",
          short="val"),
    Field("data.path", "CSV file", None, "csv: the file (checked before launch)"),
    Field("data.label", "CSV label", None, "csv: the target column"),
    Field("train.seed", "seed", None, "a whole number >= 0", short="seed",
          section="Where and how"),
    Field("train.dtype", "dtype", DTYPES, "one of " + ", ".join(DTYPES), short=""),
    Field("train.device", "device"),
    Field("nproc", "processes", None, "1 or more; above 1 trains data-parallel", in_preset=False,
          default="1"),
)
BY_KEY = {field.key: field for field in FIELDS}


def field_value(config: dict[str, Any], key: str) -> str:
    """A config value as the form shows it (`32, 32` for a list, `true` for a flag)."""
    section, _, name = key.partition(".")
    value = (config.get(section) or {}).get(name)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def override(field: Field, text: str) -> str:
    """The `--set` assignment for a field's text; a list is written in YAML flow style, and
    an empty optional text field (the CSV path and label) is null."""
    text = text.strip()
    if field.key == "model.hidden":
        text = "[" + text.strip("[]") + "]"
    return f"{field.key}={text}"


def parse_processes(text: str) -> int:
    """The processes field as a count; ValueError with the message to show beside it."""
    try:
        count = int(text.strip())
    except ValueError:
        raise ValueError(f"expected a whole number >= 1, got {text.strip()!r}") from None
    if count < 1:
        raise ValueError(f"expected a whole number >= 1, got {count}")
    return count


def field_error(field: Field, text: str) -> str | None:
    """What is wrong with one field's text on its own (its type and range, as the schema
    allows them), or None; rules that tie keys together are checked with every field."""
    if not field.in_preset:
        try:
            parse_processes(text)
        except ValueError as err:
            return str(err)
        return None
    raw: dict[str, Any] = {}
    try:
        apply_set(raw, override(field, text))
    except ConfigError as err:
        return error_field(str(err))[1]
    section, _, name = field.key.partition(".")
    spec, value = SCHEMA[section][name], raw[section][name]
    try:
        spec.check(value)
    except (ValueError, TypeError, OverflowError):
        shown = "nothing" if value is None else repr(value)
        return f"expected {spec.allowed}, got {shown}"
    return None


def error_field(message: str) -> tuple[str | None, str]:
    """Which field a ConfigError names (its dotted key), and the message without the file
    or `--set` it came from: `/p/x.yaml: optimizer.lr: expected ...` -> lr, `expected ...`."""
    for field in FIELDS:
        if message.startswith(f"--set {field.key}="):  # the value was not even YAML
            return field.key, message.split(": ", 1)[-1]
        marker = f": {field.key}: "
        if marker in message:
            return field.key, message.split(marker, 1)[1]
    return None, message


def check_csv(config: dict[str, Any]) -> tuple[str, str] | None:
    """For a csv dataset: (field key, message) when the file cannot be read or has no such
    label column; None when it can (the trainer checks the rows themselves)."""
    data = config.get("data") or {}
    if data.get("dataset") != "csv" or not data.get("path"):
        return None
    path = Path(str(data["path"])).expanduser()
    try:
        with path.open(newline="", encoding="utf-8") as file:
            header = next(csv.reader(file), None)
    except FileNotFoundError:
        return "data.path", f"no such file: {path}"
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        return "data.path", f"cannot read {path}: {err}"
    if not header:
        return "data.path", f"{path} is empty: expected a header row"
    columns = [c.strip() for c in header]
    if data.get("label") not in columns:
        return "data.label", (f"no column {data.get('label')!r} in {path.name}; columns: "
                              + ", ".join(columns[:12]))
    return None


NAME_PART = re.compile(r"[^A-Za-z0-9.-]+")


def _short_value(value: str) -> str:
    """A value as it reads in a run's name: `64, 64` -> `64x64`; `1e-3`, `0.5` stay."""
    value = value.strip().strip("[]").replace(", ", "x").replace(",", "x")
    return NAME_PART.sub("", value) or "x"


def same_value(a: str, b: str) -> bool:
    """Whether two field texts mean the same value (`0.10` and `0.1`, `64,64` and `64, 64`)."""
    try:
        x, y = float(a), float(b)
        return x == y or (math.isnan(x) and math.isnan(y))
    except ValueError:
        return a.replace(" ", "").strip("[]") == b.replace(" ", "").strip("[]")


def changed_name(preset_name: str, changes: list[tuple[Field, str]]) -> str:
    """A run launched with changes is named after them: `deep-sigmoid-vanishing.relu`,
    `xor-sgd.lr-10`; only `[A-Za-z0-9._-]`, at most 64 characters."""
    parts = []
    for field, text in changes:
        if field.short is None:
            continue
        if field.key == "optimizer.nesterov":
            parts.append("nesterov" if text.strip() == "true" else "no-nesterov")
        elif field.short == "":
            parts.append(_short_value(text))
        else:
            parts.append(f"{field.short}-{_short_value(text)}")
    name = ".".join([preset_name, *parts])
    return name[:64].rstrip(".-_") or preset_name
