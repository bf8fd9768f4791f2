"""Inline SVG pieces for the report's charts drawn in Python (:mod:`controller.report_charts`):
escaping, colours, scales with their ticks, the SVG element and a plot frame. (The report's main
charts are the dashboard's, drawn in the browser.)

Every text that ends up in the SVG goes through :func:`esc`. Hovering a point or a line shows its
``<title>`` (the browser's native tooltip).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any

from .text import fmt

#: Viridis anchors (matplotlib's), from 0 (dark purple) to 1 (yellow).
_VIRIDIS = ((0.267, 0.005, 0.329), (0.231, 0.322, 0.545), (0.129, 0.569, 0.549),
            (0.369, 0.788, 0.384), (0.993, 0.906, 0.144))
FONT = "font-family='system-ui,sans-serif' font-size='11'"


def esc(value: Any) -> str:
    """HTML/SVG-escaped text of ``value``."""
    return html.escape(str(value), quote=True)


def colour(t: float) -> str:
    """Viridis colour of ``t`` in [0, 1] as ``#rrggbb``."""
    t = min(max(t, 0.0), 1.0) * (len(_VIRIDIS) - 1)
    i = min(int(t), len(_VIRIDIS) - 2)
    f = t - i
    rgb = [a + (b - a) * f for a, b in zip(_VIRIDIS[i], _VIRIDIS[i + 1])]
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgb)


def quality_colour(goodness: float) -> str:
    """Colour of a job by how good its objective is: 1 (best) is dark purple, 0 yellow."""
    return colour(1.0 - goodness)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]`` (about ``count`` of them)."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks, k = [], 0
    while first + k * step <= hi + step * 1e-9:
        ticks.append(round(first + k * step, 12))
        k += 1
    return ticks


# --------------------------------------------------------------------- scales
class Scale:
    """Maps values onto ``[0, 1]``; subclasses for numbers, log numbers and categories."""

    def unit(self, value: Any) -> float | None:
        """Position of ``value`` in [0, 1] (None when it cannot be placed)."""
        raise NotImplementedError

    def ticks(self) -> list[tuple[float, str]]:
        """``(position, label)`` of the axis ticks."""
        raise NotImplementedError


class LinearScale(Scale):
    def __init__(self, values: Sequence[float]) -> None:
        lo, hi = min(values), max(values)
        pad = (hi - lo) * 0.05 or abs(lo) * 0.05 or 1.0
        self.lo, self.hi = lo - pad, hi + pad

    def unit(self, value: Any) -> float | None:
        if not _is_number(value):
            return None
        return (float(value) - self.lo) / (self.hi - self.lo)

    def ticks(self) -> list[tuple[float, str]]:
        return [(self.unit(t) or 0.0, fmt(t)) for t in nice_ticks(self.lo, self.hi)]


class LogScale(Scale):
    def __init__(self, values: Sequence[float]) -> None:
        logs = [math.log10(v) for v in values]
        self.inner = LinearScale(logs)

    def unit(self, value: Any) -> float | None:
        if not _is_number(value) or value <= 0:
            return None
        return self.inner.unit(math.log10(value))

    def ticks(self) -> list[tuple[float, str]]:
        """Decades; also 2 and 5 times them within two decades; round values of the range
        when that still gives fewer than three ticks."""
        lo, hi = self.inner.lo, self.inner.hi
        steps = (1, 2, 5) if hi - lo < 2 else (1,)
        values = [m * 10.0 ** e for e in range(math.floor(lo), math.ceil(hi) + 1) for m in steps]
        if len([v for v in values if lo <= math.log10(v) <= hi]) < 3:
            values = [v for v in nice_ticks(10.0 ** lo, 10.0 ** hi) if v > 0]
        out = [(self.unit(v), fmt(v)) for v in values]
        return [(u, label) for u, label in out if u is not None and 0 <= u <= 1]


class CategoryScale(Scale):
    """Evenly spaced categories, in the given order."""

    def __init__(self, categories: Sequence[Any]) -> None:
        self.keys = [json.dumps(c, sort_keys=True) for c in categories]
        self.labels = [fmt(c) for c in categories]

    def unit(self, value: Any) -> float | None:
        key = json.dumps(value, sort_keys=True)
        if key not in self.keys:
            return None
        n = len(self.keys)
        return 0.5 if n == 1 else self.keys.index(key) / (n - 1)

    def ticks(self) -> list[tuple[float, str]]:
        n = len(self.labels)
        return [(0.5 if n == 1 else i / (n - 1), label) for i, label in enumerate(self.labels)]


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def scale_for(values: Sequence[Any], *, log: bool = False,
              categories: Sequence[Any] | None = None) -> Scale:
    """A numeric (or log) scale when every value is a finite number, else categories."""
    if values and all(_is_number(v) for v in values):
        if log and all(v > 0 for v in values):
            return LogScale(values)
        return LinearScale(values)
    order = list(categories or [])
    keys = {json.dumps(c, sort_keys=True) for c in order}
    for v in sorted(values, key=lambda v: json.dumps(v, sort_keys=True)):
        if json.dumps(v, sort_keys=True) not in keys:
            keys.add(json.dumps(v, sort_keys=True))
            order.append(v)
    return CategoryScale(order)


# ---------------------------------------------------------------- SVG pieces
def _svg_open(width: int, height: int, label: str) -> str:
    return (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
            f"width='{width}' height='{height}' role='img' aria-label='{esc(label)}' {FONT}>")


def _frame(left: float, top: float, pw: float, ph: float) -> list[str]:
    return [(f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' "
            "stroke='#999'/>")]
