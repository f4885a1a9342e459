"""A run's title and note, which the user gives it in the app (`r`): `meta.json` in the run
folder. Written by the app only, never by the trainer, replaced atomically; a run without
the file has no title (it shows its id) and no note."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

META = "meta.json"
MAX_TITLE = 80
MAX_NOTE = 500


def read_meta(run_dir: Path) -> dict[str, str]:
    """`title` and `note` (each '' when unset); an unreadable or malformed file reads as
    unset, never an error: the run's own files are what matter."""
    try:
        raw: Any = json.loads((run_dir / META).read_text("utf-8"))
    except (OSError, ValueError):
        raw = {}
    if not isinstance(raw, dict):
        raw = {}
    return {key: str(raw.get(key) or "").strip() for key in ("title", "note")}


def clean(text: str, limit: int) -> str:
    """One line, no control characters, at most `limit` characters."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(flat.split())[:limit]


def write_meta(run_dir: Path, title: str, note: str) -> dict[str, str]:
    """Replace the run's title and note (write, then rename); returns what was written.
    OSError (a read-only folder, a deleted run) is the caller's to show."""
    meta = {"title": clean(title, MAX_TITLE), "note": clean(note, MAX_NOTE)}
    tmp = run_dir / f".{META}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(meta) + "\n", "utf-8")
    os.replace(tmp, run_dir / META)
    return meta
