"""Inline SVG charts for the HTML report: no JavaScript, no external files.

Every text that ends up in the SVG goes through :func:`esc`. Hovering a point or a line shows its
``<title>`` (the browser's native tooltip).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
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
        lo, hi = math.floor(self.inner.lo), math.ceil(self.inner.hi)
        out = [(self.inner.unit(e), fmt(10.0 ** e)) for e in range(lo, hi + 1)]
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


# --------------------------------------------------------------------- charts
@dataclass
class Point:
    """One job in the objective chart."""

    x: float
    y: float
    tooltip: str
    fill: str = "#3b6fb6"


def _svg_open(width: int, height: int, label: str) -> str:
    return (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
            f"width='{width}' height='{height}' role='img' aria-label='{esc(label)}' {FONT}>")


def objective_chart(points: Sequence[Point], best_line: Sequence[tuple[float, float]], *,
                    title: str, x_label: str = "job #", width: int = 860,
                    height: int = 320) -> str:
    """Scatter of the objective per job plus a best-so-far step line."""
    left, right, top, bottom = 70, 20, 28, 40
    pw, ph = width - left - right, height - top - bottom
    out = [_svg_open(width, height, title),
           f"<text x='{left}' y='16' font-weight='bold'>{esc(title)}</text>"]
    if not points:
        out.append(f"<text x='{width / 2}' y='{height / 2}' text-anchor='middle'>"
                   "no job has reported the objective yet</text></svg>")
        return "".join(out)
    xs = LinearScale([p.x for p in points])
    ys = LinearScale([p.y for p in points])

    def px(x: float) -> float:
        return left + (xs.unit(x) or 0.0) * pw

    def py(y: float) -> float:
        return top + (1 - (ys.unit(y) or 0.0)) * ph

    out += _frame(left, top, pw, ph)
    for u, label in ys.ticks():
        y = top + (1 - u) * ph
        out.append(f"<line x1='{left}' x2='{left + pw}' y1='{y:.1f}' y2='{y:.1f}' "
                   "stroke='#eee'/>")
        out.append(f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end'>{esc(label)}</text>")
    for u, label in xs.ticks():
        out.append(f"<text x='{left + u * pw:.1f}' y='{top + ph + 16}' "
                   f"text-anchor='middle'>{esc(label)}</text>")
    out.append(f"<text x='{left + pw / 2}' y='{height - 6}' text-anchor='middle'>"
               f"{esc(x_label)}</text>")
    if best_line:
        path = _step_path([(px(x), py(y)) for x, y in best_line], left + pw)
        out.append(f"<path d='{path}' fill='none' stroke='#d9534f' stroke-width='2'>"
                   "<title>best so far</title></path>")
    for p in points:
        out.append(f"<circle cx='{px(p.x):.1f}' cy='{py(p.y):.1f}' r='4' fill='{p.fill}' "
                   f"fill-opacity='0.8'><title>{esc(p.tooltip)}</title></circle>")
    out.append("</svg>")
    return "".join(out)


def _frame(left: float, top: float, pw: float, ph: float) -> list[str]:
    return [(f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' "
            "stroke='#999'/>")]


def _step_path(points: Sequence[tuple[float, float]], x_end: float) -> str:
    """A step line through ``points`` (held flat until the next one), extended to ``x_end``."""
    d = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    d += [f"H{x:.1f}V{y:.1f}" for x, y in points[1:]]
    d.append(f"H{x_end:.1f}")
    return "".join(d)


@dataclass
class Axis:
    """One vertical axis of the parallel-coordinates plot."""

    label: str
    scale: Scale


@dataclass
class Line:
    """One job in the parallel-coordinates plot: a value per axis (None where it has none)."""

    values: Sequence[Any]
    stroke: str
    tooltip: str
    width: float = 1.5


def parallel_coordinates(axes: Sequence[Axis], lines: Sequence[Line], *, title: str,
                         legend: tuple[str, str] | None = None, height: int = 380) -> str:
    """One axis per column, one polyline per job; ``legend`` labels the colour bar ends
    (worst, best)."""
    gap = 150
    left, right, top, bottom = 60, 90, 48, 30
    width = left + right + gap * max(len(axes) - 1, 1)
    ph = height - top - bottom
    out = [_svg_open(width, height, title),
           f"<text x='{left - 40}' y='16' font-weight='bold'>{esc(title)}</text>"]
    if not axes or not lines:
        out.append(f"<text x='{width / 2}' y='{height / 2}' text-anchor='middle'>"
                   "no job has reported the objective yet</text></svg>")
        return "".join(out)
    xs = [left + i * gap for i in range(len(axes))]
    for line in lines:
        out.append(_polyline(line, axes, xs, top, ph))
    for x, axis in zip(xs, axes):
        out.append(f"<line x1='{x}' x2='{x}' y1='{top}' y2='{top + ph}' stroke='#333'/>")
        out.append(f"<text x='{x}' y='{top - 14}' text-anchor='middle' "
                   f"font-weight='bold'>{esc(axis.label)}</text>")
        for u, label in axis.scale.ticks():
            y = top + (1 - u) * ph
            out.append(f"<line x1='{x - 3}' x2='{x + 3}' y1='{y:.1f}' y2='{y:.1f}' "
                       "stroke='#333'/>")
            out.append(f"<text x='{x + 5}' y='{y + 4:.1f}' stroke='#fff' stroke-width='3' "
                       f"paint-order='stroke'>{esc(_short(label))}<title>{esc(label)}</title>"
                       "</text>")
    if legend:
        out.append(_colour_bar(width - 40, top, ph, legend))
    out.append("</svg>")
    return "".join(out)


def _polyline(line: Line, axes: Sequence[Axis], xs: Sequence[float], top: float,
              ph: float) -> str:
    """Segments between consecutive axes where both values are placed."""
    pts = [None if (u := axis.scale.unit(v)) is None else (x, top + (1 - u) * ph)
           for axis, x, v in zip(axes, xs, line.values)]
    d = []
    prev = None
    for p in pts:
        if p is not None:
            d.append(f"{'L' if prev is not None else 'M'}{p[0]:.1f},{p[1]:.1f}")
        prev = p
    return (f"<path d='{''.join(d)}' fill='none' stroke='{line.stroke}' "
            f"stroke-width='{line.width}' stroke-opacity='0.75'>"
            f"<title>{esc(line.tooltip)}</title></path>")


def _colour_bar(x: float, top: float, ph: float, legend: tuple[str, str]) -> str:
    stops = "".join(f"<stop offset='{i / 4}' stop-color='{quality_colour(1 - i / 4)}'/>"
                    for i in range(5))
    return (f"<defs><linearGradient id='hpq-cbar' x1='0' x2='0' y1='0' y2='1'>{stops}"
            f"</linearGradient></defs>"
            f"<rect x='{x}' y='{top}' width='12' height='{ph}' fill='url(#hpq-cbar)'/>"
            f"<text x='{x + 6}' y='{top - 4}' text-anchor='middle'>{esc(legend[1])}</text>"
            f"<text x='{x + 6}' y='{top + ph + 14}' text-anchor='middle'>{esc(legend[0])}</text>")


def _short(label: str, limit: int = 18) -> str:
    return label if len(label) <= limit else label[:limit - 1] + "\u2026"
