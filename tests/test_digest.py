"""digest.jsonl (rundir/digest.py): what the app reads of a run through the digest is what it
reads from events.jsonl alone, for runs written by rundir.EventLog (the trainer's writer,
and dmt_tui.Run's) whole, live, resumed, with a script's own metrics; and a digest that
is torn, malformed, or of another events.jsonl is read around, never trusted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from dmt_tui import rundir
from dmt_tui.app import history as history_module
from dmt_tui.app.history import History, read_history
from dmt_tui.rundir import digest
from dmt_tui.rundir.digest import DIGEST, read_chunks
from tests.made_runs import finished_run_dirs  # noqa: F401  (a fixture)
from tests.tui.test_resumed_history import resumed_events

pytestmark = pytest.mark.filterwarnings("error")


def write(run_dir: Path, events: list[dict[str, Any]], close: bool = True,
          batch_grads: bool = True) -> rundir.EventLog:
    """The events through rundir.EventLog as a trainer writes them: epochs one by one, the
    grads in batches of three (as the trainer's write_many does)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log = rundir.EventLog(run_dir)
    grads: list[dict[str, Any]] = []
    for event in events:
        fields = {k: v for k, v in event.items() if k not in ("type", "time")}
        if event["type"] == "grad" and batch_grads:
            grads.append(fields)
            if len(grads) == 3:
                log.write_many("grad", grads)
                grads = []
            continue
        log.write(event["type"], **fields)
    if grads:
        log.write_many("grad", grads)
    if close:
        log.close()
    return log


def both(run_dir: Path) -> tuple[History, History]:
    path = run_dir / rundir.EVENTS
    return read_history(path), read_history(path, digest=False)


def assert_same(run_dir: Path) -> History:
    through, plain = both(run_dir)
    assert through.epochs == plain.epochs and through.grads == plain.grads
    assert through.events == plain.events and through.offset == plain.offset
    assert through.skipped == plain.skipped
    return through


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The epochs of each digest chunk the reader takes, in order."""
    seen: list[int] = []
    take = history_module._Reader.take

    def spy(self: Any, chunk: digest.Chunk, *newest: Any) -> None:
        seen.append(chunk.size)
        take(self, chunk, *newest)

    monkeypatch.setattr(history_module._Reader, "take", spy)
    return seen


def with_metrics(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A script's own metric from epoch 7 on: a column new part way through a chunk."""
    return [{**e, "margin": e["epoch"] / 10} if e["type"] == "epoch" and e["epoch"] >= 7
            else e for e in events]


@pytest.mark.parametrize("every", [1, 4, 1000])
def test_the_digest_gives_what_the_events_give(tmp_path: Path, every: int, taken: list[int],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The resumed recorded run (epochs 1-25, a resume from 20, 21-30 again, progress lines
    between), a script metric from epoch 7: chunks end at the start, resume and end events."""
    monkeypatch.setattr(digest, "EVERY", every)
    run_dir = tmp_path / "run"
    write(run_dir, with_metrics(resumed_events()))
    history = assert_same(run_dir)
    assert [e["epoch"] for e in history.epochs] == list(range(1, 31))
    assert history.epochs[10]["margin"] == 1.1 and "margin" not in history.epochs[3]
    assert "layers" in history.grads[-1] and "es_wait" in history.epochs[-1]  # newest whole
    assert sum(taken) == 35  # every epoch line came from the digest (25, then 10 again)
    assert len(taken) >= (35 // every if every < 35 else 2)


def test_a_live_run_reads_the_digest_then_the_events_after_it(
        tmp_path: Path, taken: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Not closed: the epochs since the last full chunk are only in events.jsonl."""
    monkeypatch.setattr(digest, "EVERY", 4)
    events = resumed_events()
    events = events[:next(i for i, e in enumerate(events) if e["type"] == "end")]
    run_dir = tmp_path / "run"
    log = write(run_dir, events, close=False, batch_grads=False)
    try:
        history = assert_same(run_dir)
        assert [e["epoch"] for e in history.epochs] == list(range(1, 26))
        assert 0 < sum(taken) < 25
    finally:
        log.close()


def test_a_run_trained_by_the_trainer_has_a_digest(
        finished_run_dirs: list[Path]) -> None:  # noqa: F811
    for run_dir in finished_run_dirs:
        chunks = list(read_chunks(run_dir))  # ended by boundary and end events
        history = assert_same(run_dir)
        assert sum(chunk.size for chunk in chunks) == len(history.epochs) in (2, 3)


def broken_digests(run_dir: Path) -> dict[str, bytes]:
    """Ways a digest can be wrong, each a whole digest.jsonl."""
    good = (run_dir / DIGEST).read_bytes().splitlines(keepends=True)
    first = json.loads(good[0])
    moved = {**first, "start": first["start"] + 1}
    typed = {**first, "epochs": {**first["epochs"], "train_loss": ["low"] * len(
        first["epochs"]["epoch"])}}
    short = {**first, "epochs": {**first["epochs"], "val_loss": []}}
    elsewhere = {**first, "last_epoch": [first["last_grad"][0], first["last_epoch"][1]]}
    lines = [json.dumps(line).encode() + b"\n" for line in (moved, typed, short, elsewhere)]
    return {
        "torn last line": b"".join(good)[:-40],
        "not JSON": b"not json\n" + b"".join(good[1:]),
        "wrong parts": b"".join(lines) + b"[1, 2]\n{}\n",
        "overlapping": good[0] + good[0] + b"".join(good[1:]),
        "empty": b"",
    }


def test_a_digest_that_does_not_fit_is_read_around(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digest, "EVERY", 4)
    source = tmp_path / "source"
    write(source, resumed_events())
    for name, text in broken_digests(source).items():
        run_dir = tmp_path / name.replace(" ", "-")
        shutil.copytree(source, run_dir)
        (run_dir / DIGEST).write_bytes(text)
        assert_same(run_dir)


def test_a_digest_of_another_events_file_is_not_used(tmp_path: Path, taken: list[int],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """events.jsonl written again with other numbers: the old digest's places still fall on
    line ends, but its epochs are not the lines there."""
    monkeypatch.setattr(digest, "EVERY", 4)
    run_dir = tmp_path / "run"
    write(run_dir, resumed_events())
    old = (run_dir / DIGEST).read_bytes()
    (run_dir / rundir.EVENTS).unlink()
    shifted = [{**e, "epoch": e["epoch"] + 100} if e["type"] in ("epoch", "grad", "resume") else e
               for e in resumed_events()]
    write(run_dir, shifted)
    (run_dir / DIGEST).write_bytes(old)
    history = assert_same(run_dir)
    assert history.epochs[0]["epoch"] == 101 and taken == []


def test_a_digest_that_cannot_be_written_leaves_the_events_whole(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / DIGEST).mkdir(parents=True)  # not a file: every digest write fails
    write(run_dir, resumed_events())
    history = assert_same(run_dir)
    assert len(history.epochs) == 30 and list(read_chunks(run_dir)) == []
