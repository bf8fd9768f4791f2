"""The report's sections about the jobs as runs (from :func:`controller.export.results_table`):
the worker timeline (one bar per job on the row of the worker process that ran it: idle time
shows as gaps) and the objective over two parameters (the first two numeric ones, in the search
space's order; a point per job, coloured by its objective)."""

from __future__ import annotations

from typing import Any

from workers.store import Store

from .export import ResultRow, ResultsTable, results_table
from .report_charts import Bar, Dot, scatter_chart, timeline_chart
from .report_svg import quality_colour, scale_for
from .space import Dimension
from .text import fmt, format_duration

_STATUS_FILLS = {"completed": "#3b6fb6", "stopped": "#999999", "failed": "#d9534f",
                 "in_progress": "#f0ad4e"}


def sections(store: Store, opt_id: str, dimensions: dict[str, Dimension]) -> list[str]:
    """The HTML of the worker timeline and of the objective over two parameters."""
    table = results_table(store, opt_id)
    return ["<h2>Worker timeline</h2>", f"<div class='chart'>{_timeline(table)}</div>",
            *_surface(table, dimensions)]


def _timeline(table: ResultsTable) -> str:
    rows = [r for r in table.rows if r.start is not None]
    origin = min((r.start for r in rows if r.start is not None), default=0.0)
    bars = [Bar(r.worker or "?", (r.start or 0.0) - origin,
                (r.start or 0.0) - origin + (r.run_time(table.read_at) or 0.0),
                _STATUS_FILLS.get(r.status, "#666666"), _tooltip(table, r)) for r in rows]
    return timeline_chart(bars, title="jobs per worker process (blue completed, red failed, "
                                      "grey stopped, orange running)")


def _surface(table: ResultsTable, dimensions: dict[str, Dimension]) -> list[str]:
    numeric = table.numeric_parameters()
    order = [n for n in (d.name.split("/", 1)[-1] for d in dimensions.values() if d.name)
             if n in numeric] + numeric
    names = list(dict.fromkeys(order))[:2]
    if len(names) < 2:
        return []
    first, second = names
    points = table.scored()
    if not points:
        return []
    values = [v for _, v in points]
    lo, hi = min(values), max(values)
    maximize = table.objectives[0].maximize

    def goodness(value: float) -> float:
        unit = (value - lo) / ((hi - lo) or 1.0)
        return unit if maximize else 1.0 - unit

    def log(name: str) -> bool:
        dimension = dimensions.get(f"General/{name}") or dimensions.get(name)
        return bool(dimension and dimension.log_scale)

    dots = [Dot(r.parameters[first], r.parameters[second], quality_colour(goodness(v)),
                _tooltip(table, r)) for r, v in points]
    label = table.result_columns[0]
    chart = scatter_chart(
        dots, title=f"{label} over {first} and {second}", x_label=first, y_label=second,
        x_scale=scale_for([d.x for d in dots], log=log(first)),
        y_scale=scale_for([d.y for d in dots], log=log(second)),
        legend=(fmt(hi if not maximize else lo), fmt(lo if not maximize else hi)))
    return [f"<h2>Objective over {first} and {second}</h2>", f"<div class='chart'>{chart}</div>"]


def _tooltip(table: ResultsTable, row: ResultRow) -> str:
    parts: list[Any] = [f"job #{row.index} {row.job_id} ({row.status}) on {row.worker or '?'}"]
    if row.values is not None:
        parts.append(f"{table.result_columns[0]} = {fmt(row.values[0])}")
    run = row.run_time(table.read_at)
    if run is not None:
        parts.append(f"ran {format_duration(run)}")
    parts += [f"{k} = {fmt(v)}" for k, v in row.parameters.items()]
    return "\n".join(str(p) for p in parts)
