"""What the optimization page draws, computed from the job rows (pure: no I/O).

Every function takes ``pairs``: ``(JobSummary, Job)`` of each job (summary: ranked objective
values; row: times, meta, lineage) and returns JSON-ready data that stays small whatever the
number of jobs -- capped samples or aggregates.

Parameter importance is the share of the variance of the objective's rank that a parameter
explains on its own (the correlation ratio eta squared over its values; a numeric parameter with
more than 10 distinct values is cut into up to 10 equal-count bins). It needs no model, is
robust to a heavy-tailed objective (ranks) and sees non-monotonic effects, but ignores
interactions (fANOVA's higher-order terms).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..jobs import Job
from ..objective import Objective
from ..summary import JobSummary, dimensions

Pair = tuple[JobSummary, Job]

#: Most jobs drawn on the worker timeline (the latest started).
TIMELINE_CAP = 300
#: Most lines of the parallel-coordinates chart (the best 100 and an even sample of the rest).
PARALLEL_CAP = 1500
#: Most points of the rungs scatter and nodes of the PBT lineage.
POINTS_CAP = 3000
_BINS = 10


def _first(j: JobSummary) -> float | None:
    """The first objective's value of a ranked job with a finite value, else None."""
    if j.rank is None or not j.values or not math.isfinite(j.values[0]):
        return None
    return j.values[0]


def _sample(items: Sequence[Any], cap: int, keep_first: int = 100) -> list[Any]:
    """``items`` if at most ``cap``, else the first ``keep_first`` and an even sample of the
    rest (order kept)."""
    if len(items) <= cap:
        return list(items)
    rest = items[keep_first:]
    step = len(rest) / (cap - keep_first)
    return list(items[:keep_first]) + [rest[int(i * step)] for i in range(cap - keep_first)]


# ------------------------------------------------------------------ overview
def objective_points(pairs: Sequence[Pair], best_over_time: list[dict[str, Any]]
                     ) -> dict[str, list]:
    """Each ended job's first objective at the time it ended (``t``, epoch seconds), oldest
    first, and the optimizer's best-so-far points."""
    points = sorted((row.ended_at, v, j.index, j.id) for j, row in pairs
                    if (v := _first(j)) is not None and row.ended_at is not None)
    return {"t": [p[0] for p in points], "v": [p[1] for p in points],
            "index": [p[2] for p in points], "id": [p[3] for p in points],
            "best_t": [b["time"] for b in best_over_time],
            "best_v": [b["value"][0] for b in best_over_time]}


# ------------------------------------------------------------ parallel coordinates
def parallel(pairs: Sequence[Pair], names: list[str], config: dict[str, Any],
             objective: Objective) -> dict[str, Any]:
    """Axes (one per parameter, then the objective) and one line per ranked job (best first,
    capped at :data:`PARALLEL_CAP`). A categorical axis gives each line its category's
    position (categories in the parameter's order, then any other value); ``log`` marks the
    parameters whose dimension is on a log scale (:func:`controller.summary.dimensions`),
    ``integer`` those whose values are all integers (ticks on integers only)."""
    ranked = [(j, v) for j, _ in pairs if (v := _first(j)) is not None]
    ranked.sort(key=lambda jv: jv[0].rank or 0)
    dims_of = dimensions(config)
    logs = {name for name, dim in dims_of.items() if dim.log_scale}
    dims: list[dict[str, Any]] = []
    columns: list[list[float | None]] = []
    for name in names:
        values = [j.parameters.get(name) for j, _ in ranked]
        present = [v for v in values if v is not None]
        if not present:
            continue
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            dims.append({"name": name, "kind": "num", "min": min(present), "max": max(present),
                         "log": name in logs and min(present) > 0,
                         "integer": all(isinstance(v, int) for v in present)})
            columns.append([None if v is None else float(v) for v in values])
        else:
            dim = dims_of.get(name)
            known = [_label(c) for c in (dim.categories or [])] if dim is not None else []
            cats = list(dict.fromkeys(known + sorted({_label(v) for v in present})))
            pos = {c: i for i, c in enumerate(cats)}
            dims.append({"name": name, "kind": "cat", "categories": cats})
            columns.append([None if v is None else float(pos[_label(v)]) for v in values])
    objs = [v for _, v in ranked]
    dims.append({"name": "objective", "kind": "num", "objective": True,
                 "min": min(objs) if objs else 0.0, "max": max(objs) if objs else 1.0,
                 "log": False, "maximize": objective.maximize})
    columns.append(list(objs))
    chosen = _sample(range(len(ranked)), PARALLEL_CAP)
    return {"dims": dims, "lines": [[col[i] for col in columns] for i in chosen],
            "ids": [ranked[i][0].id for i in chosen],
            "indices": [ranked[i][0].index for i in chosen],
            "shown": len(chosen), "total": len(ranked)}


def _label(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


# ------------------------------------------------------------------ importance
def importance(pairs: Sequence[Pair], names: list[str]) -> dict[str, Any]:
    """Per parameter, the share of the objective-rank variance it explains (see the module
    docstring), largest first; needs 10 ranked jobs."""
    ranked = [(j.parameters, v) for j, _ in pairs if (v := _first(j)) is not None]
    out: dict[str, Any] = {"method": "eta squared of the objective's rank", "jobs": len(ranked),
                           "parameters": []}
    if len(ranked) < 10:
        return out
    y = np.argsort(np.argsort([v for _, v in ranked], kind="stable")).astype(float)
    params = [p for p, _ in ranked]
    for name in names:
        rows = [i for i, p in enumerate(params) if p.get(name) is not None]
        if len(rows) < 10:
            continue
        score = _eta_squared(_groups([params[i][name] for i in rows]), y[rows])
        out["parameters"].append({"name": name, "score": score, "jobs": len(rows)})
    out["parameters"].sort(key=lambda p: -p["score"])
    return out


def _groups(values: list[Any]) -> np.ndarray:
    """A group number per value: its distinct value, or its quantile bin when numeric with
    more than :data:`_BINS` distinct values."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        x = np.asarray(values, dtype=float)
        distinct, inverse = np.unique(x, return_inverse=True)
        if len(distinct) <= _BINS:
            return inverse
        edges = np.quantile(x, np.linspace(0, 1, _BINS + 1)[1:-1])
        return np.searchsorted(edges, x, side="right")
    _, inverse = np.unique([_label(v) for v in values], return_inverse=True)
    return inverse


def _eta_squared(groups: np.ndarray, y: np.ndarray) -> float:
    """Between-group sum of squares over the total sum of squares."""
    total = float(((y - y.mean()) ** 2).sum())
    if total == 0.0:
        return 0.0
    counts = np.bincount(groups)
    sums = np.bincount(groups, weights=y)
    used = counts > 0
    means = sums[used] / counts[used]
    return float((counts[used] * (means - y.mean()) ** 2).sum()) / total


# ------------------------------------------------------------------ timeline
def timeline(rows: Sequence[Job], workers: dict[str, str], now: float) -> dict[str, Any]:
    """The given jobs on one lane per worker process (``host:pid``), each from its start to
    its end (``now`` while it runs)."""
    lanes = sorted({workers.get(r.id) or "unknown" for r in rows})
    lane = {w: i for i, w in enumerate(lanes)}
    return {"lanes": lanes, "now": now, "jobs": [
        {"id": r.id, "index": r.index, "lane": lane[workers.get(r.id) or "unknown"],
         "start": r.started_at, "end": r.ended_at if r.ended_at is not None else now,
         "status": r.status.value} for r in rows if r.started_at is not None]}


# ------------------------------------------------------- Hyperband/ASHA, PBT
def rungs(pairs: Sequence[Pair]) -> dict[str, Any] | None:
    """Per (bracket, rung) of a Hyperband/ASHA/BOHB run (``meta["rung"]``): resource, job
    counts by status and the best value; plus jobs as points (resource, value, config; an even
    sample of :data:`POINTS_CAP`). None when no job has a rung."""
    with_rung = sorted(((j, r) for j, r in pairs if "rung" in r.meta), key=lambda p: p[0].index)
    if not with_rung:
        return None
    cells: dict[tuple[int, int], dict[str, Any]] = {}
    best: dict[tuple[int, int], tuple[int, float]] = {}
    for j, r in with_rung:
        key = (int(r.meta.get("bracket", 0)), int(r.meta["rung"]))
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = {"bracket": key[0], "rung": key[1],
                                 "resource": r.meta.get("resource"), "jobs": 0}
        cell["jobs"] += 1
        cell[r.status.value] = cell.get(r.status.value, 0) + 1
        v = _first(j)
        if v is not None and (key not in best or (j.rank or 0) < best[key][0]):
            best[key] = (j.rank or 0, v)
    table = [{**c, "best": best[k][1] if k in best else None} for k, c in sorted(cells.items())]
    points = [{"id": j.id, "index": j.index, "config": r.meta.get("config"),
               "bracket": r.meta.get("bracket", 0), "rung": r.meta["rung"],
               "resource": r.meta.get("resource"), "value": _first(j),
               "status": r.status.value} for j, r in _sample(with_rung, POINTS_CAP, 0)]
    return {"table": table, "points": points, "total": len(with_rung)}


def lineage(pairs: Sequence[Pair]) -> dict[str, Any] | None:
    """The jobs of a population-based training run (``meta["member"]``) as nodes: member,
    generation, value, and the job each continued from (``parent``; ``exploited``: the member
    it copied). None when no job has a member."""
    members = [(j, r) for j, r in pairs if "member" in r.meta]
    if not members:
        return None
    nodes = [{"id": j.id, "index": j.index, "member": r.meta["member"],
              "generation": r.meta.get("generation", 0), "value": _first(j),
              "status": r.status.value, "parent": r.continue_from,
              "exploited": r.meta.get("exploited")}
             for j, r in sorted(members, key=lambda p: p[0].index)]
    return {"members": len({n["member"] for n in nodes}), "total": len(nodes),
            "nodes": nodes[-POINTS_CAP:]}


# ------------------------------------------------------------------ jobs table
def sort_jobs(pairs: list[Pair], key: str, descending: bool, names: list[str], now: float
              ) -> list[Pair]:
    """``pairs`` sorted by ``key`` (``index``, ``rank``, ``status``, ``iteration``, ``run``,
    ``started``, ``ended`` or ``param:<name>``); jobs without a value for the key come last, by
    job index.
    ValueError for an unknown key."""
    getter = _sort_getter(key, names, now)
    present: list[tuple[Any, int, Pair]] = []
    missing: list[tuple[Any, int, Pair]] = []
    for p in pairs:
        value = getter(p)
        (missing if value is None else present).append((value, p[0].index, p))
    present.sort(key=lambda t: (t[0], t[1]), reverse=descending)
    missing.sort(key=lambda t: t[1])
    return [t[2] for t in present + missing]


def _sort_getter(key: str, names: list[str], now: float) -> Any:
    if key.startswith("param:"):
        name = key[len("param:"):]
        if name not in names:
            raise ValueError(f"unknown parameter {name!r} to sort by; known: {names}")
        return lambda p: _sortable(p[0].parameters.get(name))
    getters = {
        "index": lambda p: p[0].index,
        "rank": lambda p: p[0].rank,
        "status": lambda p: p[1].status.value,
        "iteration": lambda p: p[1].objective_iteration(),
        "run": lambda p: None if p[1].started_at is None else p[1].run_seconds(now),
        "started": lambda p: p[1].started_at,
        "ended": lambda p: p[1].ended_at,
    }
    if key not in getters:
        raise ValueError(f"unknown sort key {key!r}; use one of {sorted(getters)} or "
                         "param:<name>")
    return getters[key]


def _sortable(value: Any) -> tuple[int, Any] | None:
    """Numbers before strings before anything else, each comparable within its kind."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, value) if isinstance(value, str) else (2, repr(value))


# --------------------------------------------------------------- learning curves
def curve_jobs(pairs: Sequence[Pair], limit: int) -> list[Pair]:
    """The jobs whose curves are drawn: every started job if at most ``limit``, else the best
    ranked half and the most recently started ones."""
    started = [p for p in pairs if p[1].started_at is not None]
    if len(started) <= limit:
        return started
    best = [p for p in started if p[0].rank is not None][:limit // 2]
    chosen = {p[0].id for p in best}
    recent = sorted((p for p in started if p[0].id not in chosen),
                    key=lambda p: -(p[1].started_at or 0.0))[:limit - len(best)]
    return best + recent


def align(curves: list[tuple[JobSummary, dict[str, list]]]) -> dict[str, Any]:
    """The curves on one x axis (the union of their iterations), None where a job has no
    point; with each job's id, index, status and rank."""
    xs = sorted({x for _, c in curves for x in c["x"]})
    pos = {x: i for i, x in enumerate(xs)}
    ys = []
    for _, c in curves:
        row: list[float | None] = [None] * len(xs)
        for x, y in zip(c["x"], c["y"]):
            row[pos[x]] = y
        ys.append(row)
    return {"x": xs, "ys": ys, "jobs": [{"id": j.id, "index": j.index, "status": j.status,
                                         "rank": j.rank} for j, _ in curves]}
