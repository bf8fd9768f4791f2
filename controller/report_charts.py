"""More inline SVG charts for the HTML report (next to :mod:`controller.report_svg`): lines over
steps (PBT's metric and hyper-parameter schedules) and a scatter coloured by a value (the
objective over two parameters).

Same rules as :mod:`controller.report_svg`: no JavaScript, every text escaped, a ``<title>``
tooltip on each mark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .report_svg import LinearScale, Scale, _frame, _svg_open, esc, scale_for

#: Distinct colours for up to ten series (matplotlib's tab10), repeated beyond.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def series_colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


@dataclass
class _Frame:
    """A plot area with its scales: maps values to pixels and draws the axes."""

    xs: Scale
    ys: Scale
    left: float
    top: float
    pw: float
    ph: float

    def x(self, value: Any) -> float:
        return self.left + (self.xs.unit(value) or 0.0) * self.pw

    def y(self, value: Any) -> float:
        return self.top + (1 - (self.ys.unit(value) or 0.0)) * self.ph

    def axes(self, x_label: str, y_label: str, *, y_ticks: bool = True) -> list[str]:
        """The frame, horizontal grid lines and tick labels (without ``y_ticks``: x only) and
        the axis labels."""
        left, top, pw, ph = self.left, self.top, self.pw, self.ph
        out = _frame(left, top, pw, ph)
        for u, label in self.ys.ticks() if y_ticks else ():
            y = top + (1 - u) * ph
            out.append(f"<line x1='{left}' x2='{left + pw}' y1='{y:.1f}' y2='{y:.1f}' "
                       "stroke='#eee'/>")
            out.append(f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end'>"
                       f"{esc(label)}</text>")
        for u, label in self.xs.ticks():
            out.append(f"<text x='{left + u * pw:.1f}' y='{top + ph + 16}' "
                       f"text-anchor='middle'>{esc(label)}</text>")
        out.append(f"<text x='{left + pw / 2}' y='{top + ph + 34}' text-anchor='middle'>"
                   f"{esc(x_label)}</text>")
        if y_label:
            out.append(f"<text x='14' y='{top + ph / 2}' text-anchor='middle' "
                       f"transform='rotate(-90 14 {top + ph / 2})'>{esc(y_label)}</text>")
        return out


def _empty(width: int, height: int, title: str, message: str) -> str:
    return (f"{_svg_open(width, height, title)}<text x='70' y='16' font-weight='bold'>"
            f"{esc(title)}</text><text x='{width / 2}' y='{height / 2}' text-anchor='middle'>"
            f"{esc(message)}</text></svg>")


# ---------------------------------------------------------------------- lines
@dataclass
class Series:
    """One line: ``points`` ``(x, y)`` in order; ``step``: hold each value until the next
    point (a schedule), up to ``x_end``; ``marks``: ``(x, y, tooltip)`` circles on it."""

    label: str
    points: Sequence[tuple[float, float]]
    colour: str
    step: bool = False
    x_end: float | None = None
    marks: Sequence[tuple[float, float, str]] = field(default_factory=list)


def line_chart(series: Sequence[Series], *, title: str, x_label: str, y_label: str = "",
               log_y: bool = False, width: int = 860, height: int = 300) -> str:
    """Lines over a numeric x (one per series, with a legend); ``log_y`` for a log y axis."""
    xs_all = [x for s in series for x, _ in s.points] + [s.x_end for s in series
                                                          if s.x_end is not None]
    ys_all = [y for s in series for _, y in s.points]
    if not ys_all:
        return _empty(width, height, title, "nothing reported yet")
    legend_rows = (len(series) + 5) // 6
    frame = _Frame(LinearScale(xs_all), scale_for(ys_all, log=log_y), 70, 28, width - 90,
                   height - 28 - 44 - 16 * legend_rows)
    out = [_svg_open(width, height, title),
           f"<text x='70' y='16' font-weight='bold'>{esc(title)}</text>",
           *frame.axes(x_label, y_label)]
    for s in series:
        if not s.points:
            continue
        pts = [(frame.x(x), frame.y(y)) for x, y in s.points]
        d = f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"
        if s.step:
            d += "".join(f"H{x:.1f}V{y:.1f}" for x, y in pts[1:])
            if s.x_end is not None:
                d += f"H{frame.x(s.x_end):.1f}"
        else:
            d += "".join(f"L{x:.1f},{y:.1f}" for x, y in pts[1:])
        out.append(f"<path d='{d}' fill='none' stroke='{s.colour}' stroke-width='1.6'>"
                   f"<title>{esc(s.label)}</title></path>")
        for x, y, tooltip in s.marks:
            out.append(f"<circle cx='{frame.x(x):.1f}' cy='{frame.y(y):.1f}' r='4' "
                       f"fill='white' stroke='{s.colour}' stroke-width='2'>"
                       f"<title>{esc(tooltip)}</title></circle>")
    for i, s in enumerate(series):
        x, y = 70 + (i % 6) * 130, height - 8 - 16 * (legend_rows - 1 - i // 6)
        out.append(f"<rect x='{x}' y='{y - 9}' width='10' height='10' fill='{s.colour}'/>"
                   f"<text x='{x + 14}' y='{y}'>{esc(s.label)}</text>")
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------------- scatter
@dataclass
class Dot:
    """One trial in the scatter: its two parameter values, colour and tooltip."""

    x: Any
    y: Any
    fill: str
    tooltip: str


def scatter_chart(dots: Sequence[Dot], *, title: str, x_label: str, y_label: str,
                  x_scale: Scale, y_scale: Scale, legend: tuple[str, str] | None = None,
                  width: int = 560, height: int = 460) -> str:
    """Points over two parameters (any scales: numbers, logs, categories), coloured by the
    objective; ``legend`` names the colours' ends (worst, best)."""
    if not dots:
        return _empty(width, height, title, "no trial has ended with the objective yet")
    frame = _Frame(x_scale, y_scale, 70, 28, width - 90, height - 28 - 44 - (18 if legend
                                                                              else 0))
    out = [_svg_open(width, height, title),
           f"<text x='70' y='16' font-weight='bold'>{esc(title)}</text>",
           *frame.axes(x_label, y_label)]
    for dot in dots:
        out.append(f"<circle cx='{frame.x(dot.x):.1f}' cy='{frame.y(dot.y):.1f}' r='5' "
                   f"fill='{dot.fill}' stroke='#333' stroke-width='0.5'>"
                   f"<title>{esc(dot.tooltip)}</title></circle>")
    if legend:
        out.append(f"<text x='70' y='{height - 6}'>colour: dark = {esc(legend[1])}, light = "
                   f"{esc(legend[0])}</text>")
    out.append("</svg>")
    return "".join(out)
