"""What differs between runs' configs, as dotted keys (`model.activation`) the way `--set`
names them. Plain functions over config.yaml's contents: no widgets here."""

from __future__ import annotations

from typing import Any

# The description is prose about the preset; when it differs, `name` already does.
SKIPPED_KEYS = frozenset({"description"})
MISSING = "-"  # the key is not in this run's config at all
_ABSENT = object()
MAX_VALUE_CHARS = 20  # a long value (a csv path) is cut so two runs fit in 80 columns


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"model": {"hidden": [8]}}` to `{"model.hidden": [8]}`, sections in file order."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def format_value(value: Any) -> str:
    """A config value as YAML would write it: `[32, 32]`, `0.001`, `true`, `null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(format_value(v) for v in value) + "]"
    else:
        text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"


def differences(configs: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """Each dotted key whose value is not the same in every config, with every config's
    value as text (MISSING where a config lacks the key), keys in first-seen order."""
    flats = [flatten(c) for c in configs]
    keys: list[str] = []
    for flat in flats:
        keys.extend(k for k in flat if k not in keys and k not in SKIPPED_KEYS)
    found = []
    for key in keys:
        raw = [f.get(key, _ABSENT) for f in flats]
        if any(value != raw[0] for value in raw[1:]):  # raw values: 0.1 and 0.1000001 differ
            found.append((key, [MISSING if v is _ABSENT else format_value(v) for v in raw]))
    return found
