"""What each field of an event, of status.json and of config.yaml must be, checked once where
a reader takes it in (EventTail, read_status, read_config), so that no panel, table or export
meets a string where it counts epochs.

A field of the wrong type is dropped (the reader sees it as missing) and noted; an event
that cannot mean anything without its field (an `epoch` event without a whole epoch number)
is dropped whole. Event fields and their types come from rundir/events.py, the contract's
one definition; fields it does not name pass untouched (a newer trainer may add some).
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable
from pathlib import Path
from types import UnionType
from typing import (
    Any,
    Literal,
    TypeGuard,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

import yaml

from dmt_tui.presets.yaml_io import ConfigError, parse_yaml
from dmt_tui.rundir import events

MAX_FILE_BYTES = 4 << 20  # config.yaml and status.json are a few kB; more is not a run's file
MAX_NOTES = 8  # notes kept per file; the rest are counted
STATE_CHARS = set("abcdefghijklmnopqrstuvwxyz_")

Check = Callable[[Any], bool]


def is_int(value: Any) -> TypeGuard[int]:
    """A JSON integer that every reader (and TensorBoard's int64 steps) can hold."""
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53


def is_count(value: Any) -> bool:
    return is_int(value) and value >= 0


def is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def is_str(value: Any) -> bool:
    return isinstance(value, str)


def is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _optional(check: Check) -> Check:
    return lambda value: value is None or check(value)


def check_for(hint: Any) -> Check:
    """What a value of an events.py type looks like in JSON: `float` takes an integer too,
    and null is always taken (NaN and infinity are written as null, older trainers left
    fields out: readers treat both as missing)."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any or is_typeddict(hint) or origin is dict:
        check: Check = (lambda value: isinstance(value, dict)) if hint is not Any \
            else (lambda value: True)
    elif origin in (Union, UnionType):
        parts = [check_for(a) for a in args if a is not type(None)]
        check = lambda value: any(part(value) for part in parts)  # noqa: E731
    elif origin is Literal:
        kinds = tuple({type(a) for a in args})
        check = lambda value: isinstance(value, kinds)  # noqa: E731 - unknown values pass
    elif origin is list:
        item = check_for(args[0]) if args else (lambda value: True)
        check = lambda value: isinstance(value, list) and all(item(v) for v in value)  # noqa: E731
    else:
        check = {int: is_int, float: is_number, str: is_str, bool: lambda value:
                 isinstance(value, bool)}.get(hint, lambda value: True)
    return _optional(check)


def _plain_types(hint: Any) -> frozenset[type] | None:
    """The exact JSON types a scalar hint takes (int, float, str, bool, their unions with
    None), or None for a hint that needs its check: a type test is ~20x faster, and a run of
    10,000 epochs has every field of every event checked once."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):
        parts = [_plain_types(a) for a in args if a is not type(None)]
        if any(part is None for part in parts):
            return None
        return frozenset({type(None)}.union(*(p for p in parts if p is not None)))
    if origin is Literal:
        return frozenset({type(None), *(type(a) for a in args)})
    plain: dict[Any, set[type]] = {int: {int}, float: {int, float}, str: {str}, bool: {bool}}
    return frozenset({type(None)} | plain[hint]) if hint in plain else None


def checks_of(event: type, *leave: str) -> dict[str, Check]:
    """A check per field of a TypedDict from events.py, but those in `leave`."""
    return {name: check_for(hint) for name, hint in get_type_hints(event).items()
            if name not in leave}


# Per event type, what each field must be: from the one definition, rundir/events.py.
EVENT_FIELDS: dict[str, dict[str, Check]] = {
    "start": checks_of(events.StartEvent),
    "progress": checks_of(events.ProgressEvent),
    "epoch": checks_of(events.EpochEvent, "epoch"),
    "grad": {},  # epoch: NEEDS_EPOCH; layers and total: _clean_layer
    "end": checks_of(events.EndEvent),
}
NEEDS_EPOCH = ("epoch", "grad")  # meaningless without a whole epoch number: dropped whole

STATUS_FIELDS: dict[str, Check] = {
    "state": is_str, "pid": _optional(is_int), "updated": _optional(is_number),
    "host": _optional(is_str), "run_id": _optional(is_str), "preset": _optional(is_str),
    "epochs": _optional(is_int), "epoch": _optional(is_int), "started": _optional(is_number),
    "device": _optional(is_str), "best_epoch": _optional(is_int),
    "best_val_loss": _optional(is_number), "reason": _optional(is_str),
}

# The fast type tests of _drop_wrong, by table (None: the field needs its check).
_PLAIN: dict[int, dict[str, frozenset[type] | None]] = {
    id(EVENT_FIELDS[kind]): {name: _plain_types(hint)
                             for name, hint in get_type_hints(typed).items()
                             if name in EVENT_FIELDS[kind]}
    for kind, typed in (("start", events.StartEvent), ("progress", events.ProgressEvent),
                        ("epoch", events.EpochEvent), ("end", events.EndEvent))}



def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _drop_wrong(fields: dict[str, Any], checks: dict[str, Check], where: str,
                notes: list[str]) -> None:
    plain = _PLAIN.get(id(checks), {})
    for key, check in checks.items():
        if key not in fields:
            continue
        value = fields[key]
        kind, types = type(value), plain.get(key)
        if types is not None and kind in types and (kind is not float or math.isfinite(value)) \
                and (kind is not int or -2**53 < value < 2**53):
            continue
        if types is None and check(value):
            continue
        notes.append(f"{where}: ignored {key}={_shown(fields.pop(key))} (wrong type)")


def _whole(value: Any) -> int | None:
    """An epoch number: a JSON integer, or a float that is one (3.0)."""
    if is_int(value):
        return int(value)
    if is_number(value) and float(value).is_integer() and abs(value) < 2**53:
        return int(value)
    return None


def _clean_layer(layer: Any, where: str, notes: list[str]) -> dict[str, Any] | None:
    """A `grad` layer object; its histogram goes when counts and edges do not fit together.
    Checked inline, with builtins over whole lists: a run of 10,000 epochs has 100,000 of
    these (the generic check took 50 us a layer, this 5)."""
    if not isinstance(layer, dict) or not isinstance(layer.get("name"), str):
        notes.append(f"{where}: ignored a layer that is not an object with a name")
        return None
    for key in ("mean", "min", "max", "zeros", "nonfinite"):
        value = layer.get(key)
        if value is None:
            continue
        kind = type(value)
        if key in ("zeros", "nonfinite"):
            ok = kind is int and 0 <= value < 2**53
        else:
            ok = (kind is float or kind is int) and math.isfinite(value)
        if not ok:
            notes.append(f"{where} layer {layer['name']!r}: ignored {key}="
                         f"{_shown(layer.pop(key))} (wrong type)")
    counts, edges = layer.get("counts"), layer.get("edges")
    if counts is None and edges is None:
        return layer
    if not (isinstance(counts, list) and isinstance(edges, list)
            and len(edges) == len(counts) + 1
            and set(map(type, counts)) <= {int} and min(counts, default=0) >= 0
            and max(counts, default=0) < 2**53
            and set(map(type, edges)) <= {int, float} and all(map(math.isfinite, edges))):
        notes.append(f"{where} layer {layer['name']!r}: ignored its histogram "
                     "(counts and edges do not match)")
        layer.pop("counts", None)
        layer.pop("edges", None)
    return layer


def clean_event(raw: Any, where: str, notes: list[str]) -> dict[str, Any] | None:
    """The event with every field a reader uses of the right type, or None when the line is
    no event at all. `where` names the line in notes."""
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        notes.append(f"{where}: skipped a line that is not an event (no type)")
        return None
    event = dict(raw)
    kind = event["type"]
    if "time" in event and not is_number(event["time"]):
        notes.append(f"{where}: ignored time={_shown(event.pop('time'))} (wrong type)")
    if kind in NEEDS_EPOCH:
        epoch = _whole(event.get("epoch"))
        if epoch is None:
            notes.append(f"{where}: skipped a {kind} event whose epoch is "
                         f"{_shown(event.get('epoch'))}, not a whole number")
            return None
        event["epoch"] = epoch
    _drop_wrong(event, EVENT_FIELDS.get(kind, {}), f"{where} ({kind})", notes)
    if kind == "grad":
        layers = event.get("layers")
        if not isinstance(layers, list):
            if layers is not None:
                notes.append(f"{where} (grad): ignored layers that are not a list")
            layers = []
        event["layers"] = [x for x in (_clean_layer(layer, f"{where} (grad)", notes)
                                       for layer in layers) if x is not None]
        if "total" in event:
            total = _clean_layer(event["total"], f"{where} (grad total)", notes)
            if total is None:
                event.pop("total")
            else:
                event["total"] = total
    return event


def clean_state(state: str) -> str:
    """An unknown state is shown as it is written, if it reads like a state."""
    return state if state and len(state) <= 24 and set(state) <= STATE_CHARS else "unknown"


def clean_status(raw: Any, where: str, notes: list[str],
                 states: tuple[str, ...] = ()) -> dict[str, Any]:
    """status.json's fields of the right type; anything that is not an object is no status.
    A state not in `states` (a newer trainer's?) is noted, and shown as written when it reads
    like one."""
    if not isinstance(raw, dict):
        notes.append(f"{where}: ignored, not a JSON object")
        return {}
    status = dict(raw)
    _drop_wrong(status, STATUS_FIELDS, where, notes)
    state = status.get("state")
    if state is not None and state not in states:
        notes.append(f"{where}: state {_shown(state)} is not one this version knows")
        status["state"] = clean_state(state)
    return status


def read_regular(path: Path, offset: int = 0, limit: int = -1) -> bytes:
    """A regular file's bytes from `offset` (at most `limit`, all when -1): a FIFO or a
    device named like a run's file must not hang a reader. Raises OSError, and ValueError
    when `path` is not a regular file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            f.seek(offset)
            return f.read(limit)
    finally:
        os.close(fd)


def read_small(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """`read_regular`, refusing (ValueError) a file larger than `limit`."""
    data = read_regular(path, limit=limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit >> 20} MB")
    return data


# The C loader when PyYAML has it: the pure-Python one is several times slower, and the
# app's first poll reads every run's config (bench/app_long_run.py's 1,000-run folder).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_config(path: Path) -> tuple[dict[str, Any], str | None]:
    """A run's config.yaml as a mapping, and a note when it could not be read ({} then)."""
    try:
        text = read_small(path).decode("utf-8")
        if "*" in text:  # aliases: expanded under the presets' bound (an alias bomb is refused)
            loaded = parse_yaml(text, str(path))
        else:
            loaded = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except ConfigError as err:
        return {}, f"{err}; ignored"
    except FileNotFoundError:
        return {}, None
    except UnicodeDecodeError:
        return {}, f"{path}: ignored, not UTF-8 text"
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        return {}, f"{path}: ignored, not valid YAML{line}"
    except (OSError, ValueError, RecursionError, MemoryError) as err:
        return {}, f"{path}: ignored, cannot be read: {getattr(err, 'strerror', None) or err}"
    if loaded is None:
        return {}, f"{path}: empty"
    if not isinstance(loaded, dict):
        return {}, f"{path}: ignored, not a mapping of settings"
    return loaded, None


def read_status_file(path: Path, states: tuple[str, ...]) -> tuple[dict[str, Any], list[str]]:
    """status.json checked field by field, and notes; {} when missing or unreadable."""
    import json

    notes: list[str] = []
    try:
        raw = json.loads(read_small(path).decode("utf-8"))
    except FileNotFoundError:
        return {}, notes
    except (OSError, ValueError, RecursionError) as err:
        # A reader may meet the file mid-replace on some file systems; say so, show nothing.
        notes.append(f"{path}: ignored, not readable JSON ({type(err).__name__})")
        return {}, notes
    return clean_status(raw, str(path), notes, states), notes


def capped(notes: list[str], new: list[str]) -> None:
    """Add `new` to `notes`, keeping at most MAX_NOTES and a count of the rest."""
    for note in new:
        if len(notes) < MAX_NOTES:
            notes.append(note)
        elif len(notes) == MAX_NOTES:
            notes.append("and 1 more note")
        else:
            count = int(notes[-1].split()[1]) + 1
            notes[-1] = f"and {count} more notes"
