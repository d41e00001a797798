"""What a run found: figures (one value per round and server), their targets, and notes."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .stats import fmt, median, spread


@dataclass
class Target:
    """``kind``: 'ratio_min' (wpsgate at least ``value`` times better than PyWPS), 'max' (median at most
    ``value``), 'min' (median at least ``value``), 'max_above' (median at most ``value`` above the median of
    figure ``ref``)."""

    kind: str
    value: float
    text: str
    ref: str = ""


@dataclass
class Figure:
    key: str
    section: str
    label: str
    unit: str
    better: str  # "higher" or "lower"
    wpsgate: list[float] = field(default_factory=list)
    pywps: list[float] | None = None  # None: PyWPS has no counterpart
    target: Target | None = None
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""  # why the figure was not measured

    @property
    def wpsgate_median(self) -> float:
        return median(self.wpsgate)

    @property
    def pywps_median(self) -> float:
        return median(self.pywps) if self.pywps is not None else math.nan

    def ratio(self) -> float:
        """How many times better wpsgate is (>1: better), from the medians of the same run."""
        a, b = self.wpsgate_median, self.pywps_median
        if any(math.isnan(v) for v in (a, b)) or a <= 0 or b <= 0:
            return math.nan
        return a / b if self.better == "higher" else b / a

    def ratio_spread(self) -> tuple[float, float]:
        """Worst and best round-by-round ratio (round i of wpsgate against round i of PyWPS)."""
        if not self.pywps or not self.wpsgate:
            return (math.nan, math.nan)
        values = []
        for a, b in zip(self.wpsgate, self.pywps):
            if a and b and a > 0 and b > 0 and not math.isnan(a) and not math.isnan(b):
                values.append(a / b if self.better == "higher" else b / a)
        return spread(values)


class Results:
    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}
        self.notes: list[str] = []
        self.meta: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}

    def add(self, figure: Figure) -> Figure:
        self.figures[figure.key] = figure
        return figure

    def get(self, key: str) -> Figure | None:
        return self.figures.get(key)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def verdict(self, figure: Figure) -> tuple[bool | None, str]:
        """(met, explanation); met is None when the figure or its reference was not measured."""
        target = figure.target
        if target is None:
            return None, ""
        if figure.skipped or not figure.wpsgate:
            return None, "not measured"
        value = figure.wpsgate_median
        if target.kind == "ratio_min":
            ratio = figure.ratio()
            if math.isnan(ratio):
                return None, "no PyWPS figure"
            return ratio >= target.value, f"{fmt(ratio)}× (need ≥ {fmt(target.value)}×)"
        if target.kind == "max":
            return value <= target.value, f"{fmt(value)} {figure.unit} (need ≤ {fmt(target.value)})"
        if target.kind == "min":
            return value >= target.value, f"{fmt(value)} {figure.unit} (need ≥ {fmt(target.value)})"
        if target.kind == "max_above":
            ref = self.get(target.ref)
            if ref is None or ref.skipped or not ref.wpsgate:
                return None, "reference not measured"
            limit = ref.wpsgate_median + target.value
            return value <= limit, (f"{fmt(value)} {figure.unit} (need ≤ {fmt(ref.wpsgate_median)} + "
                                    f"{fmt(target.value)} = {fmt(limit)})")
        raise ValueError(target.kind)
