"""The panels' cached points: extended as epochs arrive, and the same as reading every epoch
again, whatever happened to the run's events in between."""

from __future__ import annotations

from typing import Any

from tui.series import EventPoints, points


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
