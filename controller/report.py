"""An optimizer's record in Redis as a plain summary, and as one self-contained HTML page.

The summary is read from the optimizer's task record and ``configuration`` and from what it
saves (:class:`~controller.persistence.OptimizerRepository`: the job table, the state and the
best-over-time list). It works while the optimizer runs (from any process) and after it ended::

    summary = load_summary(store, optimizer_id)
    summary.top(5)                       # best first; failed and metric-less jobs never rank
    write_report(store, optimizer_id, "report.html")

The page has no scripts and no external links: styles are inline and the charts are SVG drawn
in Python (:mod:`controller.report_svg`). Every user string is escaped.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from workers.record import TaskRecord
from workers.store import Store

from .jobs import Job
from .objective import MultiObjective, Objective
from .parameters import Parameter, SearchSpace
from .persistence import OptimizerRepository, SavedOptimizer, SavedState
from .ranking import Leaderboard
from .report_svg import (
    Axis,
    Line,
    Point,
    esc,
    objective_chart,
    parallel_coordinates,
    quality_colour,
    scale_for,
)
from .space import Dimension
from .text import fmt, format_duration, format_values

_RANKABLE = ("completed", "stopped")


@dataclass
class JobSummary:
    """One row of the job table. ``rank`` is 0 for the best job, None for unranked ones
    (failed, still running, or ended without the objective)."""

    id: str
    index: int
    status: str
    values: list[float] | None
    iterations: list[int | None]
    parameters: dict[str, Any]
    reason: str = ""
    archived: bool = False
    run_seconds: float = 0.0
    rank: int | None = None


@dataclass
class OptimizerSummary:
    """Everything the reports show about one optimizer."""

    id: str
    name: str
    project: str
    status: str
    end_reason: str
    live: bool
    config: dict[str, Any]
    objectives: list[dict[str, str]]
    parameter_names: list[str]
    jobs: list[JobSummary]
    best_over_time: list[dict[str, Any]] = field(default_factory=list)
    budget: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    elapsed_seconds: float = 0.0

    @property
    def ranked(self) -> list[JobSummary]:
        """Jobs that rank, best first."""
        return [j for j in self.jobs if j.rank is not None]

    def top(self, k: int | None) -> list[JobSummary]:
        """The best ``k`` jobs (all ranked ones when k is None)."""
        return self.ranked if k is None else self.ranked[:max(k, 0)]

    @property
    def best(self) -> JobSummary | None:
        ranked = self.ranked
        return ranked[0] if ranked else None

    @property
    def objective_labels(self) -> list[str]:
        """``title/series`` of each objective."""
        return [f"{o['title']}/{o['series']}" for o in self.objectives]

    @property
    def running(self) -> int:
        return self.counts.get("in_progress", 0)

    @property
    def queued(self) -> int:
        return self.counts.get("queued", 0) + self.counts.get("created", 0)

    @property
    def done(self) -> int:
        return sum(self.counts.get(s, 0) for s in ("completed", "failed", "stopped"))


# ------------------------------------------------------------------- loading
def load_summary(store: Store, opt_id: str, now: float | None = None,
                 saved: SavedOptimizer | None = None) -> OptimizerSummary:
    """Read an optimizer's saved data; ``saved``: what the caller has just loaded of it (the
    dashboard loads it parsing only the job rows that changed).

    Raises TaskNotFoundError for an unknown id, ValueError if the task is not an optimizer.
    """
    now = time.time() if now is None else now
    record, config, objective = optimizer_record(store, opt_id)
    saved = OptimizerRepository(store).load(opt_id) if saved is None else saved
    rows = saved.jobs
    jobs = _rank([_job_summary(j, objective, now) for j in rows], objective)
    elapsed = saved.state.elapsed_seconds(saved.live, now)
    start = min((j.created_at for j in rows), default=record.created or now)
    best = [{**p.to_dict(), "elapsed": p.time - start} for p in saved.best]
    return OptimizerSummary(
        id=opt_id, name=record.name, project=record.project,
        status=record.status.value, end_reason=record.status_reason,
        live=saved.live, config=config, objectives=config["objectives"],
        parameter_names=_parameter_names(config, rows), jobs=jobs, best_over_time=best,
        budget=_budget(config, saved.state, rows, elapsed, now),
        counts=dict(Counter(j.status.value for j in rows)), elapsed_seconds=elapsed)


def optimizer_record(store: Store, opt_id: str
                     ) -> tuple[TaskRecord, dict[str, Any], MultiObjective]:
    """An optimizer's task record, its saved configuration and its objective.

    Raises TaskNotFoundError for an unknown id, ValueError if the task is not an optimizer.
    """
    record = store.record(opt_id)
    if not record.configuration:
        raise ValueError(f"task {opt_id} is not an hpqueue optimizer (it has no configuration)")
    config = json.loads(record.configuration)
    return record, config, MultiObjective([Objective.from_dict(o) for o in config["objectives"]])


def _job_summary(job: Job, objective: MultiObjective, now: float) -> JobSummary:
    return JobSummary(id=job.id, index=job.index, status=job.status.value,
                      values=job.objective_values(objective),
                      iterations=job.objective_iterations(), parameters=dict(job.parameters),
                      reason=job.reason, archived=job.archived, run_seconds=job.run_seconds(now))


def _rank(jobs: list[JobSummary], objective: MultiObjective) -> list[JobSummary]:
    """Rank like the optimizer's leaderboard; ranked jobs first, the rest by job index."""
    board = Leaderboard(objective)
    by_id = {j.id: j for j in jobs}
    for j in jobs:
        if j.status in _RANKABLE and j.values is not None:
            board.add(j.id, j.index, j.values)
    ranked = [by_id[i] for i in board.ranked()]
    for rank, j in enumerate(ranked):
        j.rank = rank
    return ranked + [j for j in jobs if j.rank is None]


def _parameter_names(config: dict[str, Any], rows: list[Job]) -> list[str]:
    try:
        names = SearchSpace.from_dicts(config.get("hyper_parameters", [])).names
    except (TypeError, ValueError):
        names = []
    extra = sorted({k for j in rows for k in j.parameters} - set(names))
    return list(names) + extra


def _budget(config: dict[str, Any], state: SavedState, rows: list[Job], elapsed: float,
            now: float) -> dict[str, dict[str, Any]]:
    """``{jobs|iterations|compute_time|time: {"limit", "used", "fraction"}}`` (None = no limit).

    Computed from the job table, so it is exact even between the optimizer's budget reports.
    Compute and optimization time are in minutes.
    """
    total, per_job = config.get("total_max_jobs"), config.get("max_iteration_per_job")
    time_limit = (state.timing.time_limit if state.timing else None) or (
        ("minutes", config["optimization_time_limit"])
        if config.get("optimization_time_limit") else None)

    def entry(limit: float | None, used: float) -> dict[str, Any]:
        return {"limit": limit, "used": used, "fraction": used / limit if limit else None}

    out = {
        "jobs": entry(total, len(rows)),
        "iterations": entry(total * per_job if total and per_job else None,
                            state.scheduler.iterations_used),
        "compute_time": entry(config.get("compute_time_limit"),
                              sum(j.run_seconds(now) for j in rows) / 60.0),
        "time": entry(time_limit[1] if time_limit and time_limit[0] == "minutes" else None,
                      elapsed / 60.0),
    }
    if time_limit and time_limit[0] == "at":
        out["time"]["until"] = time_limit[1]
    return out


def write_report(store: Store, opt_id: str, path: str | Path) -> OptimizerSummary:
    """Write the HTML report of an optimizer to ``path``; returns the summary it shows."""
    summary = load_summary(store, opt_id)
    Path(path).write_text(render_html(summary, extra_sections(store, summary)),
                          encoding="utf-8")
    return summary


def extra_sections(store: Store, summary: OptimizerSummary) -> list[str]:
    """The report's sections that read more than the saved optimizer (HTML): the population
    of a PBT optimizer (:mod:`controller.report_pbt`), the worker timeline and the objective
    over two parameters (:mod:`controller.report_runs`)."""
    from . import report_pbt, report_runs

    objective = Objective.from_dict(summary.objectives[0])
    dimensions = _dimensions(summary.config)
    traces = report_pbt.load_traces(store, summary.id, objective)
    pbt = report_pbt.render(traces, objective, dimensions)
    return [*([pbt] if pbt else []), *report_runs.sections(store, summary.id, dimensions)]


# ----------------------------------------------------------------- rendering
_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:20px;margin-bottom:4px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.best td{background:#eaf6ea;font-weight:600}tr.unranked td{color:#888}
code{font-size:12px}.muted{color:#777}.chart{overflow-x:auto;margin:8px 0}
pre{background:#f7f7f7;padding:8px;font-size:12px;overflow-x:auto}
"""


def render_html(summary: OptimizerSummary, extra: Sequence[str] = ()) -> str:
    """The whole report page (HTML with inline CSS and SVG; no scripts, no external links);
    ``extra``: more sections (:func:`extra_sections`), shown before the jobs table."""
    title = f"hpqueue optimizer {summary.name or summary.id}"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>",
        (f"<h1>{esc(title)}</h1><p class='muted'>id <code>{esc(summary.id)}</code> &middot; "
         f"written {esc(datetime.now().strftime('%Y-%m-%d %H:%M:%S'))}</p>"),
        _overview(summary), "<h2>Budgets</h2>", _budget_table(summary),
        "<h2>Objective over jobs</h2>", *_objective_charts(summary),
        "<h2>Parallel coordinates</h2>", f"<div class='chart'>{_parallel(summary)}</div>",
        *extra, "<h2>Jobs (best first)</h2>", _jobs_table(summary),
        "<h2>Best objective over time</h2>", _best_table(summary),
        "<h2>Configuration</h2>",
        f"<pre>{esc(json.dumps(summary.config, indent=2, sort_keys=True))}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _table(header: list[str], rows: list[list[str]], row_classes: list[str] | None = None
           ) -> str:
    """An HTML table; header cells are escaped here, body cells must be already."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for i, cells in enumerate(rows):
        cls = f" class='{row_classes[i]}'" if row_classes and row_classes[i] else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _td(value: Any, numeric: bool = False) -> str:
    text = esc(fmt(value, 6))
    return f"<td class='num'>{text}</td>" if numeric else f"<td>{text}</td>"


def _overview(s: OptimizerSummary) -> str:
    cfg = s.config
    best = s.best
    controller = "live" if s.live else (
        f"none: resume with hpq resume {s.id}" if s.status == "in_progress" else "-")
    rows = [
        ("status", f"{s.status}" + (f" ({s.end_reason})" if s.end_reason else "")),
        ("controller", controller),
        ("project", s.project),
        ("strategy", cfg.get("optimizer_class", "")),
        ("objective", ", ".join(f"{o['title']}/{o['series']} ({o['sign']})"
                                for o in s.objectives)),
        ("base task", cfg.get("base_task_id", "")),
        ("queue", cfg.get("execution_queue", "")),
        ("jobs", ", ".join(f"{k}: {v}" for k, v in sorted(s.counts.items())) or "none"),
        ("elapsed", format_duration(s.elapsed_seconds)),
        ("best", "-" if best is None else
         f"{format_values(best.values)} (job #{best.index}, {best.id})"),
    ]
    body = "".join(f"<tr><th>{esc(k)}</th>{_td(v)}</tr>" for k, v in rows)
    return f"<table><tbody>{body}</tbody></table>"


def _budget_table(s: OptimizerSummary) -> str:
    units = {"jobs": "", "iterations": "", "compute_time": " min", "time": " min"}
    rows = []
    for name, e in s.budget.items():
        limit = "none" if e["limit"] is None else f"{fmt(e['limit'])}{units[name]}"
        if e.get("until"):
            limit = f"until {datetime.fromtimestamp(e['until']):%Y-%m-%d %H:%M:%S}"
        frac = "" if e["fraction"] is None else f"{e['fraction'] * 100:.0f}%"
        rows.append([_td(name.replace("_", " ")), _td(_num(e["used"]) + units[name], True),
                     _td(limit, True), _td(frac, True)])
    return _table(["budget", "used", "limit", "used %"], rows)


def _best_table(s: OptimizerSummary) -> str:
    if not s.best_over_time:
        return "<p class='muted'>no job has finished with the objective yet</p>"
    rows = [[_td(format_duration(b["elapsed"]), True), _td(b["job_index"], True),
             f"<td><code>{esc(b['job_id'])}</code></td>", _td(format_values(b["value"]), True)]
            for b in s.best_over_time]
    return _table(["after", "job #", "job id", " / ".join(s.objective_labels)], rows)


def _jobs_table(s: OptimizerSummary) -> str:
    multi = len(s.objectives) > 1
    header = (["rank", "job id", "job #", *s.objective_labels, "iteration", "status"]
              + s.parameter_names)
    rows, classes = [], []
    for j in s.jobs:
        values: list[float | None] = [*j.values] if j.values else [None] * len(s.objectives)
        iteration = [i for i in j.iterations if i is not None]
        status = j.status + (f": {j.reason}" if j.reason else "") + \
            (" (archived)" if j.archived else "")
        rows.append([
            _td("-" if j.rank is None else j.rank + 1, True),
            f"<td><code>{esc(j.id)}</code></td>", _td(j.index, True),
            *[_td("-" if v is None else v, True) for v in values],
            _td(", ".join(map(str, iteration)) if multi else (max(iteration) if iteration
                                                                else "-"), True),
            _td(status), *[_td(j.parameters.get(n, "")) for n in s.parameter_names]])
        classes.append("best" if j.rank == 0 else "" if j.rank is not None else "unranked")
    if not rows:
        return "<p class='muted'>no jobs yet</p>"
    return _table(header, rows, classes)


def _objective_charts(s: OptimizerSummary) -> list[str]:
    charts = []
    for i, (label, obj) in enumerate(zip(s.objective_labels, s.objectives)):
        maximize = Objective.from_dict(obj).maximize
        points, best_line, best = [], [], None
        for j in sorted(s.jobs, key=lambda j: j.index):
            if j.values is None or not math.isfinite(j.values[i]):
                continue
            v = j.values[i]
            points.append(Point(j.index, v, f"job #{j.index} {j.id} ({j.status}): {fmt(v)}\n"
                                + _params_text(j.parameters),
                                "#3b6fb6" if j.rank is not None else "#aaaaaa"))
            if j.rank is not None and (best is None or (v > best if maximize else v < best)):
                best = v
                best_line.append((j.index, v))
        chart = objective_chart(points, best_line, title=f"{label} ({obj['sign']}) per job; "
                                "red: best so far")
        charts.append(f"<div class='chart'>{chart}</div>")
    return charts


def _parallel(s: OptimizerSummary) -> str:
    jobs = [j for j in s.jobs if j.values is not None and all(map(math.isfinite, j.values))]
    dimensions = _dimensions(s.config)
    axes = []
    for name in s.parameter_names:
        values = [j.parameters[name] for j in jobs if name in j.parameters]
        if values:
            dimension = dimensions.get(name)
            axes.append(Axis(name, scale_for(
                values, log=dimension is not None and dimension.log_scale,
                categories=dimension.categories if dimension is not None else None)))
    for i, label in enumerate(s.objective_labels):
        axes.append(Axis(label, scale_for([j.values[i] for j in jobs])))  # type: ignore[index]
    if not jobs:
        return parallel_coordinates(axes, [], title="parameters and objective")
    goodness = _goodness(jobs, Objective.from_dict(s.objectives[0]))
    lines = []
    for j in sorted(jobs, key=lambda j: goodness[j.id]):
        values = [j.parameters.get(a.label) for a in axes[:len(axes) - len(s.objectives)]]
        lines.append(Line(values + list(j.values or []), quality_colour(goodness[j.id]),
                          f"job #{j.index} {j.id} ({j.status}): {format_values(j.values)}\n"
                          + _params_text(j.parameters), 3.0 if j.rank == 0 else 1.5))
    first = [j.values[0] for j in jobs]  # type: ignore[index]
    worst, best = (min(first), max(first)) if Objective.from_dict(s.objectives[0]).maximize \
        else (max(first), min(first))
    return parallel_coordinates(axes, lines, title=f"parameters and objective (colour: "
                                f"{s.objective_labels[0]}, dark = better)",
                                legend=(fmt(worst), fmt(best)))


def _dimensions(config: dict[str, Any]) -> dict[str, Dimension]:
    """The dimension of each saved parameter of one name that has one (its axis: log scale,
    categories); a parameter this process cannot rebuild gets a plain axis."""
    out: dict[str, Dimension] = {}
    for data in config.get("hyper_parameters", []):
        try:
            dimension = Parameter.from_dict(data).dimension()
        except (TypeError, ValueError):
            continue
        if dimension is not None and dimension.name is not None:
            out[dimension.name] = dimension
    return out


def _goodness(jobs: list[JobSummary], objective: Objective) -> dict[str, float]:
    """0 (worst) .. 1 (best) per job, by the first objective's value."""
    values = {j.id: j.values[0] for j in jobs}  # type: ignore[index]
    lo, hi = min(values.values()), max(values.values())
    span = (hi - lo) or 1.0
    return {jid: ((v - lo) / span if objective.maximize else (hi - v) / span)
            for jid, v in values.items()}


# ------------------------------------------------------------------ text bits
def _params_text(params: dict[str, Any]) -> str:
    return "\n".join(f"{k} = {fmt(v)}" for k, v in params.items())


def _num(value: float) -> str:
    return fmt(round(value, 2) if isinstance(value, float) else value)
