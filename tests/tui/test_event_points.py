"""The panels' cached points: extended as epochs arrive, and the same as reading every epoch
again, whatever happened to the run's events in between."""

from __future__ import annotations

from typing import Any

from dmt_tui.app.series import EventPoints, points


def epochs(n: int, start: int = 1, loss: float = 1.0) -> list[dict[str, Any]]:
    return [{"epoch": e, "val_loss": loss / e if e % 7 else None} for e in range(start, n + 1)]


def fresh(events: list[dict[str, Any]], positive: bool = False) -> list[tuple[float, float]]:
    return points([e["epoch"] for e in events], [e["val_loss"] for e in events],
                  positive=positive)


def test_points_grow_with_the_run_as_if_read_from_the_start() -> None:
    cache = EventPoints({"val": lambda e: e.get("val_loss")})
    run = epochs(10)
    assert cache.update(run)["val"] == fresh(run)
    run += epochs(25, start=11)
    assert cache.update(run)["val"] == fresh(run)
    assert cache.update([]) == {"val": []}


def test_another_run_or_axis_or_a_history_read_again_starts_over() -> None:
    cache = EventPoints({"val": lambda e: e.get("val_loss")})
    first = epochs(20)
    cache.update(first)
    other = epochs(20, loss=-2.0)  # same length, another run: nothing of the first is kept
    assert cache.update(other)["val"] == fresh(other)
    assert cache.update(other, positive=["val"])["val"] == fresh(other, positive=True) == []
    again = [dict(e) for e in other]  # the app read the history again: new event objects
    again[3]["val_loss"] = 5.0
    assert cache.update(again)["val"] == fresh(again)
    assert cache.update(again[:5])["val"] == fresh(again[:5])  # fewer events than before


def test_going_back_to_a_recent_run_reads_only_its_new_events() -> None:
    reads: list[int] = []

    def loss(event: dict[str, Any]) -> Any:
        reads.append(event["epoch"])
        return event["loss"]

    series = EventPoints({"loss": loss})
    a = [{"epoch": n, "loss": 1.0 / n} for n in range(1, 101)]
    b = [{"epoch": n, "loss": 2.0 / n} for n in range(1, 51)]
    series.update(a)
    series.update(b)
    reads.clear()
    a.append({"epoch": 101, "loss": 0.5})
    assert series.update(a)["loss"][-2:] == [(100.0, 0.01), (101.0, 0.5)]
    assert reads == [101]  # run a's first 100 epochs were not read again
    assert len(series.decimated("loss", 10)) <= 20
    reads.clear()
    series.update([dict(e) for e in a])  # its history read again from disk: new objects
    assert len(reads) == 101
    for k in range(EventPoints.KEEP_RUNS):  # enough other runs push run b out
        series.update([{"epoch": 1, "loss": float(k)}])
    reads.clear()
    series.update(b)
    assert len(reads) == 50
