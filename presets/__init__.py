"""Built-in presets (YAML files in `presets/builtin/`) and the user's own, by name or path."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmt_tui.presets.schema import ConfigError, load_file, parse_yaml, read_small_file

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


@dataclass(frozen=True)
class PresetInfo:
    name: str
    description: str
    path: Path
    source: str  # "built-in" | "user"


def user_presets_dir(given: str | Path | None = None) -> Path | None:
    """`--presets-dir`, else DMT_PRESETS_DIR, else none. Raises ConfigError when it names
    something that is not a folder (a folder not made yet is fine: it lists nothing)."""
    chosen = given or os.environ.get("DMT_PRESETS_DIR")
    if not chosen:
        return None
    folder = Path(chosen).expanduser()
    if folder.exists() and not folder.is_dir():
        flag = "--presets-dir" if given else "DMT_PRESETS_DIR"
        raise ConfigError(f"{flag} {folder}: not a folder; user presets are the *.yaml files "
                          f"of a folder")
    return folder


def _describe(path: Path, source: str) -> PresetInfo:
    try:
        raw = parse_yaml(read_small_file(path), str(path))
    except ConfigError:
        raw = None
    if not isinstance(raw, dict):
        return PresetInfo(path.stem, "(not a valid preset)", path, source)
    return PresetInfo(str(raw.get("name") or path.stem), str(raw.get("description") or ""),
                      path, source)


def list_presets(user_dir: Path | None = None) -> list[PresetInfo]:
    """Built-in presets, then the user's (a user preset may shadow a built-in name). Only
    regular files are opened: a FIFO named *.yaml would block its reader for ever."""
    found = [_describe(p, "built-in") for p in sorted(BUILTIN_DIR.glob("*.yaml"))]
    if user_dir is not None and user_dir.is_dir():
        found += [_describe(p, "user") for p in sorted(user_dir.glob("*.y*ml")) if p.is_file()]
    return found


def find_preset(name_or_path: str, user_dir: Path | None = None) -> Path:
    """A preset file from a name (user presets first) or a path to a YAML file."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        return candidate  # a path; load_file says if it is missing
    presets = list_presets(user_dir)
    for info in [p for p in presets if p.source == "user"] + presets:
        if name_or_path in (info.name, info.path.stem):
            return info.path
    known = ", ".join(sorted({p.name for p in presets}))
    raise ConfigError(f"no preset named '{name_or_path}'; known presets: {known} "
                      f"(or give the path of a YAML file)")


def load_preset(name_or_path: str, overrides: list[str] | tuple[str, ...] = (),
                user_dir: Path | None = None) -> dict[str, Any]:
    """The resolved config of a preset with `--set` overrides applied."""
    return load_file(find_preset(name_or_path, user_dir), overrides)
