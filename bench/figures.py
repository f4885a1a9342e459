"""One measured figure beside its budget (issue 5's table), as the app benchmarks print it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Figure:
    """A figure and its budget: `value` must not exceed `budget` (same unit)."""

    name: str
    value: float
    unit: str
    budget: float
    note: str = ""  # how it was measured, in a few words

    @property
    def passed(self) -> bool:
        return self.value <= self.budget

    def line(self) -> str:
        """`  name   value unit   budget <= B unit  pass`, one line for a script's output."""
        return (f"  {self.name:<56} {self.value:8.3g} {self.unit:<3} budget <= "
                f"{self.budget:.3g} {self.unit}  {'pass' if self.passed else 'MISS'}")

    def row(self) -> str:
        """A Markdown table row: figure, measured, budget, pass/miss."""
        return (f"| {self.name}{f' ({self.note})' if self.note else ''} | "
                f"{self.value:.3g} {self.unit} | <= {self.budget:.3g} {self.unit} | "
                f"{'pass' if self.passed else 'miss'} |")
