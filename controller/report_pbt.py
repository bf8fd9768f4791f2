"""The population-based-training section of the HTML report: every member's metric and each
hyper-parameter over its own steps (as the seed's TensorBoard plots show them), and who copied
whom at which step.

Where it reads the population (written while the optimizer runs; readable from any process):

* :class:`~controller.strategies.pbt_server.PBTServer` (members run the in-trial client): one
  job per member (``meta["member"]`` in the job table); the member's metric is the objective's
  scalar history of its task (``{ns}:task:{id}:history``, iteration = the member's step), its
  schedule and lineage the task's JSON artifact ``pbt`` (see :mod:`workers.pbt`);
* :class:`~controller.strategies.pbt.PopulationBasedTraining` (segments): the job table alone:
  each segment's ``meta`` (``member``, ``generation``, ``progress``, ``exploited``), parameters
  and objective value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from workers.pbt import PBT_TITLE
from workers.store import Store
from workers.task import short_name

from .jobs import Job
from .objective import MultiObjective, Objective
from .persistence import OptimizerRepository
from .report_charts import Series, line_chart, series_colour
from .report_svg import esc
from .space import Dimension
from .text import fmt


@dataclass
class Copy:
    """An exploit: at its own ``step`` the member copied member ``donor`` (at the donor's
    ``donor_step``, where it had ``donor_value``) and explored to ``hyperparameters``."""

    step: float
    donor: int
    donor_step: float | None
    donor_value: float | None
    hyperparameters: dict[str, Any]


@dataclass
class MemberTrace:
    """One member over its own steps: ``metric`` points, the ``schedule`` (each entry holds from
    its step on) and its copies."""

    member: int
    job_ids: list[str]
    metric: list[tuple[float, float]] = field(default_factory=list)
    schedule: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    copies: list[Copy] = field(default_factory=list)

    @property
    def last_step(self) -> float:
        steps = [s for s, _ in self.metric] + [s for s, _ in self.schedule]
        return max(steps, default=0.0)


def load_traces(store: Store, opt_id: str, objective: Objective) -> list[MemberTrace]:
    """The population of a PBT optimizer, by member (empty for another strategy)."""
    jobs = [j for j in OptimizerRepository(store).load(opt_id).jobs if "member" in j.meta]
    if not jobs:
        return []
    if all("generation" in j.meta for j in jobs):
        return _segment_traces(jobs, objective)
    return _client_traces(store, jobs, objective)


def _client_traces(store: Store, jobs: list[Job], objective: Objective) -> list[MemberTrace]:
    pipe = store.redis.pipeline(transaction=False)
    for job in jobs:
        pipe.hget(store.keys.artifacts(job.id), PBT_TITLE)
    records = pipe.execute()
    out = []
    for job, raw in sorted(zip(jobs, records), key=lambda item: item[0].meta["member"]):
        trace = MemberTrace(int(job.meta["member"]), [job.id])
        series = store.history(job.id).get(objective.title, {}).get(objective.series)
        if series:
            trace.metric = [(float(x), y) for x, y in zip(series["x"], series["y"])
                            if math.isfinite(y)]
        record = _artifact_value(raw)
        trace.schedule = [(float(e["step"]), e["hyperparameters"])
                          for e in record.get("schedule", [])]
        trace.copies = [Copy(float(c["step"]), int(c["donor"]), c.get("donor_step"),
                             c.get("donor_value"), c.get("hyperparameters", {}))
                        for c in record.get("lineage", [])]
        out.append(trace)
    return out


def _artifact_value(raw: str | None) -> dict[str, Any]:
    description = json.loads(raw) if raw else {}
    value = description.get("value")
    return value if isinstance(value, dict) else {}


def _segment_traces(jobs: list[Job], objective: Objective) -> list[MemberTrace]:
    multi = MultiObjective([objective])
    by_id = {j.id: j for j in jobs}
    traces: dict[int, MemberTrace] = {}
    for job in sorted(jobs, key=lambda j: (j.meta["member"], j.meta["generation"])):
        member = int(job.meta["member"])
        trace = traces.setdefault(member, MemberTrace(member, []))
        end = float(job.meta.get("progress", job.meta.get("resource", 0)))
        start = trace.metric[-1][0] if trace.metric else 0.0
        trace.job_ids.append(job.id)
        trace.schedule.append((start, dict(job.parameters)))
        values = job.objective_values(multi)
        if values is not None:
            trace.metric.append((end, values[0]))
        if "exploited" in job.meta:
            donor = by_id.get(job.continue_from or "")
            donor_values = donor.objective_values(multi) if donor else None
            trace.copies.append(Copy(
                start, int(job.meta["exploited"]),
                float(donor.meta.get("progress", 0)) if donor else None,
                donor_values[0] if donor_values else None, dict(job.parameters)))
    return [traces[m] for m in sorted(traces)]


# ----------------------------------------------------------------- rendering
def render(traces: list[MemberTrace], objective: Objective,
           dimensions: dict[str, Dimension]) -> str:
    """The section's HTML: the metric chart, one chart per numeric hyper-parameter, the
    lineage table."""
    if not traces:
        return ""
    label = f"{objective.title}/{objective.series}"
    parts = ["<h2>Population-based training</h2>",
             (f"<p class='muted'>{len(traces)} members; each line is one member over its own "
              "steps; a circle marks where it copied another member (hover for details).</p>"),
             "<div class='chart'>" + line_chart(
                 [Series(f"member {t.member}", t.metric, series_colour(t.member),
                         marks=[(c.step, y, _copy_text(t, c)) for c in t.copies
                                if (y := _at(t.metric, c.step)) is not None])
                  for t in traces],
                 title=f"{label} ({objective.sign}) per member", x_label="step",
                 y_label=label) + "</div>"]
    for name in _numeric_names(traces, dimensions):
        dimension = dimensions.get(name)
        series = []
        for t in traces:
            points = [(s, hp[name]) for s, hp in t.schedule if _is_number(hp.get(name))]
            marks = [(c.step, c.hyperparameters[name], _copy_text(t, c)) for c in t.copies
                     if _is_number(c.hyperparameters.get(name))]
            series.append(Series(f"member {t.member}", points, series_colour(t.member),
                                 step=True, x_end=t.last_step, marks=marks))
        parts.append("<div class='chart'>" + line_chart(
            series, title=f"{short_name(name)} per member", x_label="step",
            y_label=short_name(name), log_y=bool(dimension and dimension.log_scale)) + "</div>")
    parts.append(_lineage_table(traces))
    return "\n".join(parts)


def _lineage_table(traces: list[MemberTrace]) -> str:
    rows = [(t, c) for t in traces for c in t.copies]
    if not rows:
        return "<p class='muted'>no member has copied another yet</p>"
    body = "".join(
        f"<tr><td class='num'>{t.member}</td><td class='num'>{esc(fmt(c.step))}</td>"
        f"<td class='num'>{c.donor}</td><td class='num'>{esc(fmt(c.donor_step))}</td>"
        f"<td class='num'>{esc(fmt(c.donor_value))}</td><td>{esc(_params(c.hyperparameters))}"
        "</td></tr>" for t, c in sorted(rows, key=lambda r: (r[1].step, r[0].member)))
    return ("<h3>Lineage</h3><table><thead><tr><th>member</th><th>at its step</th>"
            "<th>copied member</th><th>at the donor's step</th><th>donor's value</th>"
            "<th>hyper-parameters after explore</th></tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _numeric_names(traces: list[MemberTrace], searched: Iterable[str]) -> list[str]:
    """The hyper-parameters with a number in some schedule: the searched ones (when known,
    leaving out a segment's resource) or all."""
    known = set(searched)
    names: list[str] = []
    for t in traces:
        for _, hp in t.schedule:
            for name, value in hp.items():
                if _is_number(value) and name not in names and (not known or name in known):
                    names.append(name)
    return names


def _at(points: list[tuple[float, float]], step: float) -> float | None:
    return next((y for x, y in points if x == step), None)


def _copy_text(trace: MemberTrace, copy: Copy) -> str:
    return (f"member {trace.member} copied member {copy.donor} (its step "
            f"{fmt(copy.donor_step)}, value {fmt(copy.donor_value)}) at step {fmt(copy.step)}; "
            f"then {_params(copy.hyperparameters)}")


def _params(hyperparameters: dict[str, Any]) -> str:
    return ", ".join(f"{short_name(k)}={fmt(v)}" for k, v in hyperparameters.items())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(
        value)
