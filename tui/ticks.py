"""Axis ticks the plots set themselves: plotext's own print 3841462615.4 and put epoch 2.5
between epochs. Linear ticks land on 1-2-5 steps, epoch ticks on whole numbers, and every
label is short (`3.8e9`, `0.25`, `120`)."""

from __future__ import annotations

import math

Ticks = tuple[list[float], list[str]]


def nice_step(span: float, max_ticks: int) -> float:
    """The smallest 1, 2 or 5 times a power of ten that cuts `span` into <= max_ticks parts."""
    raw = span / max(1, max_ticks - 1)
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if mult * power >= raw * (1 - 1e-9):
            return mult * power
    return 10 * power


def compact(value: float, step: float | None = None) -> str:
    """A tick label: `3.8e9` for large or tiny values, else as few decimals as the tick step
    needs (`0.25`, `120`)."""
    if value == 0:
        return "0"
    size = abs(value)
    if size >= 1e5 or size < 1e-3:
        exponent = math.floor(math.log10(size))
        mantissa = value / 10**exponent
        digits = 1 if step is None else max(0, min(3, exponent - math.floor(math.log10(step))))
        text = f"{mantissa:.{digits}f}".rstrip("0").rstrip(".")
        if text in ("10", "-10"):  # rounding carried into the next power
            text, exponent = text[:-1], exponent + 1
        return f"{text}e{exponent}"
    if step is None:
        return f"{value:.3g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{value:.{decimals}f}"


def linear_ticks(low: float, high: float, max_ticks: int = 5) -> Ticks:
    """Ticks on 1-2-5 steps inside [low, high] with compact labels; the two ends when the
    range is a single value."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [], []
    if high < low:
        low, high = high, low
    if high - low <= abs(high) * 1e-12 or high == low:
        return [low], [compact(low)]
    step = nice_step(high - low, max(2, max_ticks))
    first = math.ceil(low / step - 1e-9)
    values = [k * step for k in range(first, math.floor(high / step + 1e-9) + 1)]
    return values, [compact(v, step) for v in values]


def whole_ticks(low: float, high: float, max_ticks: int = 6) -> Ticks:
    """Ticks at whole numbers (epochs): steps of 1, 2, 5, 10, ..."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [], []
    if high < low:
        low, high = high, low
    step = max(1.0, nice_step(max(high - low, 1.0), max(2, max_ticks)))
    first = math.ceil(low / step - 1e-9)
    values = [k * step for k in range(first, math.floor(high / step + 1e-9) + 1)]
    return values, [compact(v, step) for v in values]
