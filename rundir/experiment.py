"""An experiment's plan: a base preset crossed with grids, variants and seeds, each trial's
config checked before anything starts. Also the lessons, which ship as experiment files.

Torch-free: `dmt-tui sweep` answers a bad `--grid` at once, and the app builds plans too.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmt_tui.presets import BUILTIN_DIR, find_preset, load_preset
from dmt_tui.presets.schema import ConfigError, apply_set, parse_yaml, resolve
from dmt_tui.rundir import safe_name
from dmt_tui.rundir.events import TrialFields

LESSONS_DIR = BUILTIN_DIR.parent / "lessons"  # package data beside the built-in presets
MAX_WITHOUT_YES = 200  # more trials than this need `--yes`


def split_outside_brackets(text: str, separator: str | None) -> list[str]:
    """Split on `separator` (None: whitespace) where no bracket, brace or quote is open:
    `[16],[16,16]` is two values, `a=[1, 2] b=3` two assignments."""
    parts: list[str] = []
    depth, quote = 0, ""
    current: list[str] = []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth = max(0, depth - 1)
        elif depth == 0 and (char == separator or (separator is None and char.isspace())):
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()] if separator is None else \
        [p.strip() for p in parts]


@dataclass(frozen=True)
class Axis:
    """One `--grid KEY=V1,V2,...`: a key and its values as typed."""

    key: str
    values: tuple[str, ...]
    where: str  # how the user wrote it, for messages

    @classmethod
    def parse(cls, text: str) -> Axis:
        where = f"--grid {text}"
        key, sep, values_text = text.partition("=")
        values = tuple(log_range(values_text, where) or split_outside_brackets(values_text, ","))
        if not sep or not key.strip() or not values or not all(values):
            raise ConfigError(f"{where}: expected KEY=V1,V2,... such as optimizer.lr=0.1,0.01 "
                              "(a list value in brackets: model.hidden=[16],[16,16])")
        key = key.strip()
        if key == "train.seed":
            raise ConfigError(f"{where}: seeds are given with --seeds N or --seeds 0,3,7")
        for value in values:
            if values.count(value) > 1:
                raise ConfigError(f"{where}: the value {value} is given twice")
        return cls(key, values, where)


_LOG_RANGE = re.compile(r"^\s*([0-9.eE+-]+)\s*\.\.\s*([0-9.eE+-]+)\s*x\s*(\d+)\s*$")


def log_range(text: str, where: str) -> list[str]:
    """`1e-4..1 x5`: N values evenly spaced on a log scale, both ends included ([] when the
    text is not a range)."""
    found = _LOG_RANGE.match(text)
    if found is None:
        return []
    try:
        low, high, count = float(found[1]), float(found[2]), int(found[3])
    except ValueError:
        count = 0
    if count < 2 or not 0 < low < high:
        raise ConfigError(f"{where}: a log range is LOW..HIGH xN with 0 < LOW < HIGH and "
                          "N >= 2, such as 1e-4..1 x5")
    step = (math.log10(high) - math.log10(low)) / (count - 1)
    return [f"{10 ** (math.log10(low) + i * step):.3g}" for i in range(count)]


def parse_variant(text: str) -> tuple[str, ...]:
    """`"optimizer.name=sgd optimizer.momentum=0.9"`: assignments that go together."""
    assignments = tuple(split_outside_brackets(text, None))
    if not assignments or not all("=" in a for a in assignments):
        raise ConfigError(f"--variant {text!r}: expected KEY=VALUE [KEY=VALUE ...] such as "
                          "\"optimizer.name=sgd optimizer.momentum=0.9\"")
    return assignments


def parse_seeds(text: str) -> list[int]:
    """`3` is seeds 0, 1, 2; `0,3,7` (or `7,`) those seeds."""
    try:
        if "," not in text:
            count = int(text)
            if count < 1:
                raise ValueError
            return list(range(count))
        seeds = [int(s) for s in text.split(",") if s.strip()]
        if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
            raise ValueError
        return seeds
    except ValueError:
        raise ConfigError(f"--seeds {text}: expected a count such as 3 (seeds 0, 1, 2) or "
                          "distinct seeds >= 0 such as 0,3,7") from None


def format_value(value: Any) -> str:
    """A config value as a person reads it: 0.1, [16, 16], true."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":")).replace('"', "")
    return str(value)


def _id_value(value: Any) -> str:
    if isinstance(value, list):
        return "x".join(str(v) for v in value) or "none"
    return format_value(value)


@dataclass
class Trial:
    """One run of the experiment: a configuration and a seed."""

    index: int
    group: dict[str, Any]  # every varied key and its resolved value: the configuration
    label: str  # what this configuration sets, e.g. "optimizer.lr=0.1"
    seed: int
    overrides: list[str]  # KEY=VALUE assignments over the base config
    folder_name: str  # the run folder's name after its time stamp
    config: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass
class Plan:
    """Everything an experiment will run, checked."""

    preset: str  # as given: a preset, a lesson or a path
    base: dict[str, Any]  # the resolved base config
    grid: dict[str, list[str]]
    variants: list[list[str]]
    seeds: list[int]
    varied: list[str]  # the keys that tell configurations apart, in order given
    trials: list[Trial]
    description: str = ""  # a lesson's "what to look for"

    @property
    def configurations(self) -> int:
        return len(self.trials) // max(1, len(self.seeds))


def _resolved(base: dict[str, Any], assignments: list[tuple[str, str]],
              where: str) -> dict[str, Any]:
    raw = copy.deepcopy(base)
    raw.pop("experiment", None)
    for assignment, at in assignments:
        apply_set(raw, assignment, at)
    return resolve(raw, where)


def _get(config: dict[str, Any], dotted: str) -> Any:
    section, _, key = dotted.partition(".")
    value = config.get(section)
    return value.get(key) if key and isinstance(value, dict) else value


def make_plan(preset: str, base: dict[str, Any], grid: list[Axis],
              variants: list[tuple[str, ...]], seeds: list[int] | None,
              description: str = "") -> Plan:
    """Cross variants, grids and seeds over `base`; check every value alone (so the message
    names its `--grid`), then every trial's whole config. Raises ConfigError."""
    keys = [axis.key for axis in grid]
    for key in keys:
        if keys.count(key) > 1:
            raise ConfigError(f"--grid {key}=...: the key is given twice; list its values once")
    for axis in grid:
        for value in axis.values:
            _resolved(base, [(f"{axis.key}={value}", axis.where)],
                      f"{axis.where}: the value {value}")
    for variant in variants:
        where = f"--variant \"{' '.join(variant)}\""
        _resolved(base, [(a, where) for a in variant], where)
    seeds = seeds if seeds is not None else [int(base["train"]["seed"])]
    varied: list[str] = []
    for variant in variants:
        varied += [a.partition("=")[0].strip() for a in variant]
    varied += keys
    varied = list(dict.fromkeys(varied))
    configurations = []
    for variant in variants or [()]:
        for values in itertools.product(*(axis.values for axis in grid)):
            assignments = [*variant, *(f"{k}={v}" for k, v in zip(keys, values, strict=True))]
            where = " ".join(f"--set {a}" for a in assignments) or "the base preset"
            config = _resolved(base, [(a, where) for a in assignments], where)
            own = list(dict.fromkeys(a.partition("=")[0].strip() for a in assignments))
            label = " ".join(f"{k}={format_value(_get(config, k))}" for k in own)
            configurations.append((assignments, config, own, label))
    labels = [c[3] for c in configurations]
    for label in labels:
        if labels.count(label) > 1:
            raise ConfigError(f"two configurations are the same ({label or 'the base'}); "
                              "each --grid value and --variant must change something")
    trials: list[Trial] = []
    for seed in seeds:  # seed-major: every configuration's first seed runs first
        for number, (assignments, config, own, label) in enumerate(configurations):
            trial_config = copy.deepcopy(config)
            trial_config["train"]["seed"] = seed
            group = {k: _get(config, k) for k in varied}
            trials.append(Trial(len(trials), group, label, seed, list(assignments),
                                _folder_name(config["name"], own, config, number, seed),
                                trial_config))
    return Plan(preset, base, {a.key: list(a.values) for a in grid},
                [list(v) for v in variants], list(seeds), varied, trials, description)


def _folder_name(preset: str, own: list[str], config: dict[str, Any], number: int,
                 seed: int) -> str:
    """`xor-sgd.lr-0.1.s1`: the preset, each set key's last part and value, the seed."""
    parts = [f"{k.rpartition('.')[2]}-{_id_value(_get(config, k))}" for k in own]
    name = safe_name(".".join([preset, *parts, f"s{seed}"]))
    if len(name) > 60 or not name.endswith(f".s{seed}"):  # too long to read: number it
        name = safe_name(f"{preset[:40]}.c{number + 1}.s{seed}")
    return name


# ---- lessons: experiments that ship with the package ----------------------------------------


@dataclass(frozen=True)
class Lesson:
    name: str
    description: str  # one line: what to look for
    path: Path


def _read_spec(path: Path) -> dict[str, Any]:
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the experiment file: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with preset, grid or variants, seeds")
    return raw


def is_experiment_file(path: Path) -> bool:
    """A YAML file with a `preset:` key is an experiment (a lesson); a preset has none."""
    try:
        return "preset" in _read_spec(path)
    except ConfigError:
        return False


def list_lessons(folder: Path = LESSONS_DIR) -> list[Lesson]:
    found = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            raw = _read_spec(path)
        except ConfigError:
            continue
        found.append(Lesson(str(raw.get("name") or path.stem),
                            str(raw.get("description") or ""), path))
    return found


def find_lesson(name_or_path: str) -> Path | None:
    """A lesson by name, or an experiment file by path; None for a preset."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate if is_experiment_file(candidate) else None
    for lesson in list_lessons():
        if name_or_path in (lesson.name, lesson.path.stem):
            return lesson.path
    return None


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


KNOWN_SPEC = ("name", "description", "preset", "set", "grid", "variants", "seeds")


def plan_from(preset: str, grid: list[str], variants: list[str], seeds: str | None,
              sets: list[str] | tuple[str, ...] = (),
              user_dir: Path | None = None) -> Plan:
    """The plan of `dmt-tui sweep PRESET|LESSON` and its options: a lesson's grid, variants
    and seeds, with what the command line gives added or put in their place."""
    axes = [Axis.parse(text) for text in grid]
    parsed_variants = [parse_variant(text) for text in variants]
    chosen_seeds = parse_seeds(seeds) if seeds is not None else None
    lesson = find_lesson(preset)
    description = ""
    if lesson is not None:
        spec = _read_spec(lesson)
        unknown = [k for k in spec if k not in KNOWN_SPEC]
        if unknown:
            raise ConfigError(f"{lesson}: unknown key '{unknown[0]}'; known: "
                              f"{', '.join(KNOWN_SPEC)}")
        description = str(spec.get("description") or "")
        where = str(lesson)
        base_sets = [*(str(s) for s in spec.get("set") or []), *sets]
        base = load_preset(str(spec["preset"]), base_sets, user_dir)
        given = {a.key for a in axes}
        spec_grid = spec.get("grid") or {}
        if not isinstance(spec_grid, dict):
            raise ConfigError(f"{where}: grid: expected a mapping of keys to lists of values")
        axes = [Axis(str(k), tuple(_as_text(v) for v in (vs if isinstance(vs, list) else [vs])),
                     f"{where}: grid {k}")
                for k, vs in spec_grid.items() if k not in given] + axes
        if not parsed_variants:
            parsed_variants = [parse_variant(str(v)) for v in spec.get("variants") or []]
        listed = spec.get("seeds")
        if chosen_seeds is None and listed is not None:
            chosen_seeds = parse_seeds(",".join(map(str, listed)) + ","
                                       if isinstance(listed, list) else str(listed))
    else:
        find_preset(preset, user_dir)  # an unknown name says which presets exist
        base = load_preset(preset, list(sets), user_dir)
    if not axes and not parsed_variants and (chosen_seeds is None or len(chosen_seeds) < 2):
        raise ConfigError("nothing to compare: give --grid KEY=V1,V2, --variant \"K=V ...\" "
                          "or --seeds N")
    return make_plan(preset, base, axes, parsed_variants, chosen_seeds, description)


def start_fields(config: Mapping[str, Any]) -> TrialFields:
    """What a trial's `start` event carries of its experiment (nothing for a lone run)."""
    experiment = config.get("experiment")
    if not isinstance(experiment, dict):
        return {}
    return {"experiment": str(experiment["id"]), "group": dict(experiment["group"]),
            "seed": int(config["train"]["seed"])}
