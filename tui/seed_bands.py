"""Runs that differ only by their seed, drawn as one: in the comparison view, the trials of one
experiment's configuration (same experiment, same varied values) share a colour, and their
loss is drawn as the mean over seeds between its min and max (BAND_MARKER), not a line each.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from dmt_tui.app.series import Point, points
from dmt_tui.rundir.record import RunRecord

BAND_MARKER = "░"  # the min and max over seeds: shading, apart from train's dotted line


def configuration(record: RunRecord) -> tuple[str, str] | None:
    """(experiment id, its varied values) of an experiment's trial; None for a lone run."""
    section = record.config.get("experiment")
    if not isinstance(section, dict) or not section.get("id"):
        return None
    return str(section["id"]), json.dumps(section.get("group"), sort_keys=True, default=str)


def colour_indices(records: list[RunRecord]) -> list[int]:
    """Each run's colour, by position: one per configuration of an experiment (its seeds
    share it), one per other run, numbered in the order they first appear."""
    known: dict[Any, int] = {}
    return [known.setdefault(configuration(r) or ("run", i), len(known))
            for i, r in enumerate(records)]


def bands(records: list[RunRecord]) -> list[tuple[int, list[RunRecord]]]:
    """(colour, the runs drawn in it), in colour order."""
    members: dict[int, list[RunRecord]] = defaultdict(list)
    for colour, record in zip(colour_indices(records), records, strict=True):
        members[colour].append(record)
    return sorted(members.items())


def seed_band(records: list[RunRecord], field: str, positive: bool = False
              ) -> tuple[list[Point], list[Point], list[Point]]:
    """The mean, min and max of `field` over the runs that reached each epoch (`positive`:
    values above 0 only, for a log axis)."""
    if len(records) == 1:  # a lone run is its own mean: no per-epoch lists for 100k epochs
        record = records[0]
        line = points([e.get("epoch") for e in record.epochs],
                      [e.get(field) for e in record.epochs], positive=positive)
        return line, line, line
    by_epoch: dict[float, list[float]] = defaultdict(list)
    for record in records:
        epochs = [e.get("epoch") for e in record.epochs]
        for x, y in points(epochs, [e.get(field) for e in record.epochs], positive=positive):
            by_epoch[x].append(y)
    rows = sorted(by_epoch.items())
    return ([(x, statistics.fmean(ys)) for x, ys in rows], [(x, min(ys)) for x, ys in rows],
            [(x, max(ys)) for x, ys in rows])


def draw_band(draw: Callable[[list[Point], str], None], records: list[RunRecord],
              field: str, positive: bool, line_marker: str, bounds: bool) -> list[Point]:
    """Draw the runs' mean of `field` with `line_marker` and, with `bounds`, its min and
    max under it (drawn first: the mean stays on top). Returns every point drawn."""
    mean, low, high = seed_band(records, field, positive)
    drawn = [*mean]
    if bounds and any(lo != hi for (_, lo), (_, hi) in zip(low, high, strict=True)):
        for edge in (low, high):
            draw(edge, BAND_MARKER)
            drawn += edge
    draw(mean, line_marker)
    return drawn
