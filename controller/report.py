"""An optimizer's report: one self-contained HTML page that opens offline, with the dashboard's
charts.

::

    summary = write_report(store, optimizer_id, "report.html")

The page is the dashboard's optimization page at one instant: the same data, read and
aggregated by :mod:`controller.dashboard.data` and :mod:`controller.dashboard.aggregate`
(learning curves of the jobs, objective over time, parallel coordinates, parameter importance,
the worker timeline, Hyperband/ASHA rungs and PBT lineage where they apply), embedded as JSON and
drawn by the dashboard's own chart code (``charts.js``, vendored uPlot), which is inlined with
its styles. Tables (overview, budgets, failures grouped by error, every job, the best over time,
the configuration) are HTML written here, and the sections that read more than the saved
optimizer come after the charts: the PBT members (:mod:`controller.report_pbt`) and the
objective over two parameters (:mod:`controller.report_runs`). No request leaves the page.
Every user string is escaped; the embedded JSON cannot close its script element.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from workers.store import Store

from . import report_pbt, report_runs
from .dashboard import data
from .dashboard.app import STATIC
from .objective import Objective
from .report_svg import esc
from .summary import JobSummary, OptimizerSummary, dimensions
from .text import fmt, format_duration, format_values

#: Most jobs whose learning curve the page draws (the best half and the most recent).
CURVES_LIMIT = 300
#: The overview's parts that the charts draw (report.js).
_CHART_DATA = ("maximize", "objective_over_time", "parallel", "importance", "timeline", "rungs",
               "lineage")
_STYLES = ("uPlot.min.css", "dashboard.css")
_SCRIPTS = ("uPlot.iife.min.js", "charts.js", "report.js")
_REPORT_STYLE = """
header .brand { text-decoration: none; }
section.extra table { border-collapse: collapse; font-size: 13px; }
section.extra th, section.extra td { border-bottom: 1px solid var(--line); padding: 3px 8px;
  text-align: left; }
tr:target td { background: #fff3c4; }
tr.unranked td { color: var(--muted); }
"""


def write_report(store: Store, opt_id: str, path: str | Path) -> OptimizerSummary:
    """Write the report of an optimizer to ``path``; returns the summary it shows."""
    summary, page = render(store, opt_id)
    Path(path).write_text(page, encoding="utf-8")
    return summary


def render(store: Store, opt_id: str) -> tuple[OptimizerSummary, str]:
    """The summary of an optimizer and its report page (HTML).

    Raises TaskNotFoundError for an unknown id, ValueError if the task is not an optimizer.
    """
    cache = data.SnapshotCache(store)
    summary = cache.get(opt_id).summary
    overview = data.optimization(cache, opt_id)
    curves = data.learning_curves(cache, opt_id, CURVES_LIMIT)
    charts = {"overview": {k: overview[k] for k in _CHART_DATA}, "curves": curves}
    return summary, _page(summary, overview, curves, charts, _extra_sections(store, summary))


def _extra_sections(store: Store, summary: OptimizerSummary) -> list[str]:
    """The sections that read more than the saved optimizer (HTML): the population of a PBT
    optimizer and the objective over two parameters."""
    objective = Objective.from_dict(summary.objectives[0])
    dims = dimensions(summary.config)
    traces = report_pbt.load_traces(store, summary.id, objective)
    parts = [report_pbt.render(traces, objective, dims),
             report_runs.surface_section(store, summary.id, dims)]
    return [part for part in parts if part]


# ------------------------------------------------------------------------ page
def _page(s: OptimizerSummary, o: dict[str, Any], curves: dict[str, Any],
          charts: dict[str, Any], extra: list[str]) -> str:
    title = s.name or s.id
    written = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    styles = "".join(_static(name) for name in _STYLES) + _REPORT_STYLE
    scripts = "".join(f"<script>{_static(name)}</script>" for name in _SCRIPTS)
    body = [
        "<header><span class='brand'>hpqueue</span>",
        (f"<span id='crumbs'> / report of optimizer {esc(s.id)} &middot; written "
         f"{esc(written)}</span></header><main id='main'>"),
        (f"<div class='head'><h1>{esc(title)}</h1>{_badge(s.status)}"
         f"<span class='muted'>{esc(_controller(s))}</span></div>"),
        "<div class='cols'>", _section("overview", "Overview", _overview(s)),
        _section("budgets", "Budgets", _budget_table(s)), "</div>",
        _failures(o["failures"]),
        _section("curves-sec", "Learning curves", _note(_curves_note(curves)),
                 "<div id='curves' class='chart'></div>"),
        _section("time-sec", "Objective over time", _note(
            "each ended job's objective when it ended (blue), the best so far (red); click a "
            "point for the job's row below"), "<div id='objective-time' class='chart'></div>"),
        _section("parallel-sec", "Parallel coordinates", _note(_parallel_note(o["parallel"])),
                 "<div id='parallel' class='chart'></div>"),
        "<div class='cols'>",
        _section("importance-sec", "Parameter importance", _note(
            "share of the variance of the objective's rank that each parameter explains alone "
            "(eta squared over its values; numeric parameters in up to 10 quantile bins); "
            "interactions are not counted"), "<div id='importance' class='chart'></div>"),
        _section("timeline-sec", "Worker timeline", _note(
            "the latest started jobs (up to 300), one lane per worker process; colour: status"),
                 "<div id='timeline' class='chart'></div>"),
        "</div>",
        _rungs(o["rungs"]), _lineage(o["lineage"]),
        *(f"<section class='extra'>{part}</section>" for part in extra),
        _section("jobs", "Jobs (best first)", _jobs_table(s)),
        _section("best-sec", "Best objective over time", _best_table(s)),
        _section("config-sec", "Configuration",
                 "<details><summary>optimizer configuration (JSON)</summary><pre>"
                 f"{esc(json.dumps(s.config, indent=2, sort_keys=True))}</pre></details>"),
        "</main>",
        f"<script type='application/json' id='hpq-report-data'>{_embedded(charts)}</script>",
        scripts,
    ]
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>{esc(title)} - hpqueue report</title><style>{styles}</style></head>"
            f"<body data-page='report'>{''.join(body)}</body></html>\n")


def _static(name: str) -> str:
    """A file of the dashboard's static folder, safe inside a style or script element."""
    text = (STATIC / name).read_text(encoding="utf-8")
    return text.replace("</", "<\\/")


def _embedded(payload: Any) -> str:
    """JSON (non-finite numbers as null) that cannot end its script element: every ``<`` is
    written ``\\u003c``, which JSON reads back as ``<``."""
    return data.to_json(payload).replace("<", "\\u003c")


def _section(ident: str, title: str, *parts: str) -> str:
    return f"<section id='{ident}'><h2>{esc(title)}</h2>{''.join(parts)}</section>"


def _note(text: str) -> str:
    return f"<p class='muted small'>{esc(text)}</p>"


def _badge(status: str) -> str:
    return f"<span class='badge s-{esc(status)}'>{esc(status.replace('_', ' '))}</span>"


def _controller(s: OptimizerSummary) -> str:
    if s.live:
        return "driven by a live controller"
    return f"no live controller: resume with hpq resume {s.id}" if s.status == "in_progress" \
        else "no live controller"


def _curves_note(d: dict[str, Any]) -> str:
    sample = " (the best half and the most recent)" if d["sampled"] else ""
    return (f"{d['title']}/{d['series']} ({d['sign']}) of {d['shown']} of {d['total']} started "
            f"jobs{sample}; colour: rank (dark is better), blue: running, red: failed; hover a "
            "curve for its job, click for its row below; drag to zoom, double-click to reset")


def _parallel_note(d: dict[str, Any]) -> str:
    return (f"{d['shown']} of {d['total']} ended jobs with the objective (the best 100 and an "
            "even sample of the rest); colour and the objective axis: better is up; hover a "
            "line for its job, click for its row below")


# ---------------------------------------------------------------------- tables
def _table(header: list[str], rows: list[str], cls: str = "grid") -> str:
    """A table; header cells are escaped here, rows are ``<tr>`` HTML."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    return (f"<table class='{cls}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _td(value: Any, numeric: bool = False, cls: str = "") -> str:
    classes = " ".join(c for c in ("num" if numeric else "", cls) if c)
    return f"<td class='{classes}'>{esc(fmt(value, 6))}</td>" if classes \
        else f"<td>{esc(fmt(value, 6))}</td>"


def _job_link(job_id: str, text: str) -> str:
    return f"<a href='#job-{esc(job_id)}'>{esc(text)}</a>"


def _kv(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table class='kv'><tbody>{body}</tbody></table>"


def _overview(s: OptimizerSummary) -> str:
    cfg = s.config
    best = s.best
    rows = [
        ("id", esc(s.id)),
        ("status", esc(s.status + (f" ({s.end_reason})" if s.end_reason else ""))),
        ("project", esc(s.project)),
        ("strategy", esc(cfg.get("optimizer_class", ""))),
        ("objective", esc(", ".join(f"{o['title']}/{o['series']} ({o['sign']})"
                                    for o in s.objectives))),
        ("queue", esc(cfg.get("execution_queue", ""))),
        ("jobs", esc(f"{len(s.jobs)}: " + (", ".join(f"{k} {v}" for k, v in
                                                     sorted(s.counts.items())) or "none"))),
        ("elapsed", esc(format_duration(s.elapsed_seconds))),
        ("best", "-" if best is None else
         f"{esc(format_values(best.values))} ({_job_link(best.id, f'job #{best.index}')})"),
        ("base task", esc(cfg.get("base_task_id", ""))),
    ]
    return _kv(rows)


def _budget_table(s: OptimizerSummary) -> str:
    units = {"jobs": "", "iterations": "", "compute_time": " min", "time": " min"}
    rows = []
    for name, e in s.budget.items():
        limit = "no limit" if e["limit"] is None else f"{fmt(e['limit'])}{units[name]}"
        if e.get("until"):
            limit = f"until {datetime.fromtimestamp(e['until']):%Y-%m-%d %H:%M:%S}"
        used = fmt(round(e["used"], 2) if isinstance(e["used"], float) else e["used"])
        frac = "" if e["fraction"] is None else f"{e['fraction'] * 100:.0f}%"
        rows.append(f"<tr>{_td(name.replace('_', ' '))}{_td(used + units[name], True)}"
                    f"{_td(limit, True)}{_td(frac, True)}</tr>")
    return _table(["budget", "used", "limit", "used %"], rows)


def _failures(failures: list[dict[str, Any]]) -> str:
    """Failed jobs grouped by error (as :func:`controller.failures.group_failures`)."""
    if not failures:
        return ""
    rows = []
    for f in failures:
        example = _job_link(f["example"], f"job #{f['example_index']}")
        rows.append(f"<tr>{_td(f['error'], cls='error')}{_td(f['count'], True)}"
                    f"<td>{example}</td></tr>")
    return _section("failures", "Failures", _table(["error", "jobs", "example"], rows))


def _jobs_table(s: OptimizerSummary) -> str:
    if not s.jobs:
        return "<p class='muted'>no jobs yet</p>"
    multi = len(s.objectives) > 1
    header = ["rank", "job #", "job id", "status", *s.objective_labels, "iteration",
              "run time", *s.parameter_names, "error / reason"]
    rows = [_job_row(j, s, multi) for j in s.jobs]
    return f"<div class='scroll'>{_table(header, rows)}</div>"


def _job_row(j: JobSummary, s: OptimizerSummary, multi: bool) -> str:
    values: list[float | None] = [*j.values] if j.values else [None] * len(s.objectives)
    iterations = [i for i in j.iterations if i is not None]
    iteration = ", ".join(map(str, iterations)) if multi else (max(iterations) if iterations
                                                              else "-")
    status = _badge(j.status) + (" <span class='muted small'>archived</span>" if j.archived
                                 else "")
    cls = "best" if j.rank == 0 else "" if j.rank is not None else "unranked"
    row_class = f" class='{cls}'" if cls else ""
    cells = [_td("-" if j.rank is None else j.rank + 1, True), _td(j.index, True),
             f"<td><code>{esc(j.id)}</code></td>", f"<td>{status}</td>",
             *[_td("-" if v is None else v, True) for v in values], _td(iteration, True),
             _td(format_duration(j.run_seconds), True),
             *[_td(j.parameters.get(n, "")) for n in s.parameter_names],
             _td(j.reason, cls="error" if j.status == "failed" else "muted small")]
    return (f"<tr id='job-{esc(j.id)}' data-status='{esc(j.status)}'{row_class}>"
            f"{''.join(cells)}</tr>")


def _best_table(s: OptimizerSummary) -> str:
    if not s.best_over_time:
        return "<p class='muted'>no job has finished with the objective yet</p>"
    rows = [f"<tr>{_td(format_duration(b['elapsed']), True)}{_td(b['job_index'], True)}"
            f"<td>{_job_link(b['job_id'], b['job_id'])}</td>"
            f"{_td(format_values(b['value']), True)}</tr>" for b in s.best_over_time]
    return _table(["after", "job #", "job id", " / ".join(s.objective_labels)], rows)


def _rungs(rungs: dict[str, Any] | None) -> str:
    if not rungs:
        return ""
    keys = ("bracket", "rung", "resource", "jobs", "completed", "in_progress", "failed", "best")
    counts = {"completed", "in_progress", "failed"}  # absent from a cell: none of them
    rows = ["<tr>" + "".join(_td(r.get(k, 0 if k in counts else None), True) for k in keys)
            + "</tr>" for r in rungs["table"]]
    return _section("rungs-sec", "Rungs (Hyperband / ASHA)",
                    _table(["bracket", "rung", "resource", "jobs", "completed", "running",
                            "failed", "best"], rows),
                    _note("objective of each job against its resource; lines join the rungs "
                          "of one configuration"), "<div id='rungs' class='chart'></div>")


def _lineage(lineage: dict[str, Any] | None) -> str:
    if not lineage:
        return ""
    return _section("lineage-sec", "Population-based training lineage", _note(
        "one row per member, one column per generation; a red dashed edge: the member copied "
        "another's checkpoint (exploit)"), "<div id='lineage' class='chart'></div>")
