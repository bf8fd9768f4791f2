"""The report's section about the jobs as runs (from :func:`controller.export.results_table`): the
objective over two parameters (the first two numeric ones, in the search space's order; a point
per job, coloured by its objective). (The worker timeline is the dashboard's chart.)"""

from __future__ import annotations

from typing import Any

from workers.store import Store

from .export import ResultRow, ResultsTable, results_table
from .report_charts import Dot, scatter_chart
from .report_svg import quality_colour, scale_for
from .space import Dimension
from .text import fmt, format_duration


def surface_section(store: Store, opt_id: str, dimensions: dict[str, Dimension]) -> str:
    """The HTML of the objective over two parameters ('' with fewer than two numeric
    parameters or no job with the objective)."""
    return "\n".join(_surface(results_table(store, opt_id), dimensions))


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
