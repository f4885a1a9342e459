"""Malformed run folders for the readers' tests: the recorded run, copied, with one file
broken in one way per folder. Each variant names what it breaks and whether a reader
should say so (a note naming the file)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA_RUN = (Path(__file__).resolve().parent / "data" / "recorded"
            / "20261126-154811-deep-sigmoid-vanishing")
GOOD_RUN = "20261126-154811-deep-sigmoid-vanishing"

Events = list[dict[str, Any]]


@dataclass(frozen=True)
class Variant:
    name: str
    file: str  # the file it breaks: config.yaml, status.json or events.jsonl
    make: Callable[[Path], None]  # breaks the file in a copy of the recorded run
    noted: bool = True  # a reader says so (a note naming the file)


def _events(run_dir: Path) -> Events:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def _write_events(run_dir: Path, events: list[Any]) -> None:
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


def _nth(kind: str, n: int, change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    """Change the n-th event of a kind (in place, or replace it by what `change` returns)."""
    def make(run_dir: Path) -> None:
        events: list[Any] = _events(run_dir)
        index = [i for i, e in enumerate(events) if e["type"] == kind][n]
        result = change(events[index])
        if result is not None:
            events[index] = result
        _write_events(run_dir, events)
    return make


def _set(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda event: event.update(fields)


def _layer(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda event: event["layers"][0].update(fields)


def _raw_line(line: bytes, at: int = 3) -> Callable[[Path], None]:
    def make(run_dir: Path) -> None:
        lines = (run_dir / "events.jsonl").read_bytes().splitlines(keepends=True)
        lines.insert(at, line + b"\n")
        (run_dir / "events.jsonl").write_bytes(b"".join(lines))
    return make


def _file(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda run_dir: (run_dir / name).write_bytes(data)


def _folder_instead(name: str) -> Callable[[Path], None]:
    def make(run_dir: Path) -> None:
        (run_dir / name).unlink()
        (run_dir / name).mkdir()
    return make


def _fifo_instead(name: str) -> Callable[[Path], None]:
    def make(run_dir: Path) -> None:
        (run_dir / name).unlink()
        os.mkfifo(run_dir / name)
    return make


def _status(**fields: Any) -> Callable[[Path], None]:
    def make(run_dir: Path) -> None:
        status = json.loads((run_dir / "status.json").read_text())
        status.update(fields)
        (run_dir / "status.json").write_text(json.dumps(status))
    return make


def _config_replace(old: str, new: str) -> Callable[[Path], None]:
    def make(run_dir: Path) -> None:
        text = (run_dir / "config.yaml").read_text()
        assert old in text
        (run_dir / "config.yaml").write_text(text.replace(old, new, 1))
    return make


def _torn(run_dir: Path) -> None:
    with open(run_dir / "events.jsonl", "ab") as f:
        f.write(b'{"type": "epoch", "epoch": 26, "train_lo')


C, S, E = "config.yaml", "status.json", "events.jsonl"
VARIANTS = [
    Variant("config-not-utf8", C, _file(C, b"name: \xff\xfe\x00bad\nmodel: {}\n")),
    Variant("config-invalid-yaml", C, _file(C, b"name: [unclosed\n  model: {\n")),
    Variant("config-a-list", C, _file(C, b"- 1\n- 2\n")),
    Variant("config-a-scalar", C, _file(C, b"just words\n")),
    Variant("config-empty", C, _file(C, b"")),
    Variant("config-a-folder", C, _folder_instead(C)),
    Variant("config-a-fifo", C, _fifo_instead(C)),
    # Wrong types inside a valid mapping: shown as written, never a crash.
    Variant("config-train-not-a-mapping", C,
            _config_replace("train: {epochs: 25,", "train: 5\nx: {epochs: 25,"), noted=False),
    Variant("config-epochs-a-string", C, _config_replace("epochs: 25", "epochs: many"),
            noted=False),
    Variant("config-lr-a-word", C, _config_replace("lr: 0.1", "lr: fast"), noted=False),
    Variant("config-lr-a-date", C, _config_replace("lr: 0.1", "lr: 2020-01-01"), noted=False),
    Variant("config-name-a-list", C, _config_replace("name: deep-sigmoid-vanishing",
                                                     "name: [1, 2]"), noted=False),
    Variant("status-garbage", S, _file(S, b"\x00\x01 not json {")),
    Variant("status-a-list", S, _file(S, b"[1, 2, 3]")),
    Variant("status-a-string", S, _file(S, b'"running"')),
    Variant("status-empty", S, _file(S, b"")),
    Variant("status-a-folder", S, _folder_instead(S)),
    Variant("status-a-fifo", S, _fifo_instead(S)),
    Variant("status-pid-a-string", S, _status(state="running", pid="123")),
    Variant("status-updated-a-string", S, _status(state="running", updated="yesterday")),
    Variant("status-state-unknown", S, _status(state="banana")),
    Variant("status-state-a-number", S, _status(state=5)),
    Variant("status-state-huge", S, _status(state="x" * 5000)),
    Variant("status-epoch-a-string", S, _status(epoch="ten")),
    Variant("status-best-a-string", S, _status(best_val_loss="low", best_epoch=[1])),
    Variant("status-started-huge", S, _status(started=1e300), noted=False),
    Variant("events-not-json", E, _raw_line(b"this is not json")),
    Variant("events-not-utf8", E, _raw_line(b'{"type": "epoch", "epoch": \xff\xfe}')),
    Variant("events-an-array", E, _raw_line(b"[1, 2, 3]")),
    Variant("events-a-number", E, _raw_line(b"42")),
    Variant("events-no-type", E, _raw_line(b'{"epoch": 3}')),
    Variant("events-type-a-number", E, _raw_line(b'{"type": 5}')),
    Variant("events-deep-nesting", E, _raw_line(b"[" * 5000 + b"]" * 5000)),
    Variant("events-huge-int", E, _raw_line(b'{"type": "epoch", "epoch": ' + b"9" * 400
                                            + b"}")),
    Variant("events-unknown-type", E, _raw_line(b'{"type": "sparkle", "x": [1]}'),
            noted=False),
    Variant("epoch-a-string", E, _nth("epoch", 4, _set(epoch="5"))),
    Variant("epoch-null", E, _nth("epoch", 4, _set(epoch=None))),
    Variant("epoch-a-list", E, _nth("epoch", 4, _set(epoch=[5]))),
    Variant("epoch-fractional", E, _nth("epoch", 4, _set(epoch=4.5))),
    Variant("epoch-huge", E, _nth("epoch", 24, _set(epoch=10**30))),
    Variant("epoch-missing", E, _nth("epoch", 4, lambda e: e.pop("epoch"))),
    Variant("epoch-last-a-string", E, _nth("epoch", -1, _set(epoch="25"))),
    Variant("losses-strings", E, _nth("epoch", 4, _set(train_loss="0.5", val_loss="x",
                                                       val_acc="high"))),
    Variant("es-fields-wrong", E, _nth("epoch", -1, _set(es_patience="30", es_wait=[1],
                                                         es_best={}, es_best_epoch="12"))),
    Variant("time-a-string", E, _nth("epoch", 4, _set(time="now"))),
    Variant("grad-layers-not-a-list", E, _nth("grad", -1, _set(layers="fc1"))),
    Variant("grad-layer-no-name", E, _nth("grad", -1, _layer(name=None))),
    Variant("grad-layer-a-number", E, _nth("grad", -1,
                                           lambda e: e.update(layers=[3, *e["layers"][1:]]))),
    Variant("grad-counts-strings", E, _nth("grad", -1, _layer(counts=["1", "x"]))),
    Variant("grad-counts-negative", E, _nth("grad", -1, _layer(
        counts=[-5] * 24))),
    Variant("grad-edges-mismatch", E, _nth("grad", -1, _layer(edges=[1.0, 2.0]))),
    Variant("grad-edges-strings", E, _nth("grad", -1, _layer(edges=["a"] * 25))),
    Variant("grad-mean-a-string", E, _nth("grad", -1, _layer(mean="tiny", zeros="none"))),
    Variant("grad-total-a-string", E, _nth("grad", -1, _set(total="big"))),
    Variant("grad-epoch-a-string", E, _nth("grad", -1, _set(epoch="25"))),
    Variant("start-layers-a-string", E, _nth("start", 0, _set(layers="fc1"))),
    Variant("start-numbers-strings", E, _nth("start", 0, _set(n_train="many",
                                                              steps_per_epoch="10",
                                                              n_params=[1]))),
    Variant("progress-wrong", E, _raw_line(b'{"type": "progress", "epoch": "x", "step": '
                                           b'[1], "steps": {}, "samples_per_s": "fast"}')),
    Variant("end-wrong-types", E, _nth("end", 0, _set(state=7, best_epoch="x",
                                                      best_val_loss="low", reason=[1]))),
    Variant("end-not-an-object", E, _nth("end", 0, lambda e: "end")),
    Variant("events-torn-last-line", E, _torn),
    Variant("events-a-folder", E, _folder_instead(E)),
    Variant("events-a-fifo", E, _fifo_instead(E)),
]


def variant_id(index: int, variant: Variant) -> str:
    """Folder names sort after the good run and keep the variant's name readable."""
    return f"20261126-16{index // 60:02d}{index % 60:02d}-{variant.name}"


def make_variants(runs_dir: Path, variants: list[Variant] = VARIANTS) -> dict[str, Variant]:
    """The good run and every variant under `runs_dir`; {run id: variant}."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(DATA_RUN, runs_dir / GOOD_RUN)
    made = {}
    for index, variant in enumerate(variants):
        run_id = variant_id(index, variant)
        shutil.copytree(DATA_RUN, runs_dir / run_id)
        variant.make(runs_dir / run_id)
        made[run_id] = variant
    return made
