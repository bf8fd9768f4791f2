"""Every read the dashboard makes, and its two actions: the one seam between the web pages and
the saved state.

The pages never touch Redis: they call the functions below, which read an optimizer's saved
state through :class:`controller.persistence.OptimizerRepository` (load with a memo of parsed
job rows, one row, progress, listing), summarise it with :func:`controller.summary.load_summary`,
and read task records, metrics, histories, artifacts, checkpoints and events through
:class:`workers.store.Store` methods.

An optimization page shows aggregates over every job (10,000 and more): a :class:`Snapshot` is
read once and shared by the requests of one page load (:class:`SnapshotCache`); everything sent
to the browser is paged, capped or aggregated here, never the whole job table.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

from workers import codec
from workers.errors import TaskNotFoundError
from workers.outcomes import StopOutcome
from workers.record import TaskRecord
from workers.status import TaskStatus
from workers.store import Event, Store

from ..failures import group_failures
from ..jobs import Job
from ..objective import Objective
from ..persistence import OptimizerRepository, RowMemo
from ..summary import JobSummary, OptimizerSummary, load_summary
from . import aggregate

#: Reason given to a job or an optimization stopped from the dashboard.
STOP_REASON = "stopped from the dashboard"
#: Most error groups an optimization page lists.
FAILURE_GROUPS = 20


class NotAnOptimizerError(ValueError):
    """The task exists but is not an hpqueue optimizer."""


class ActionRefusedError(RuntimeError):
    """An action that cannot be carried out in the current state (HTTP 409)."""


def to_json(payload: Any) -> str:
    """``payload`` as compact JSON with non-finite floats as null (a browser's JSON has no NaN
    or Infinity): what the pages and the static report read."""
    try:
        return json.dumps(payload, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return json.dumps(_finite(payload), separators=(",", ":"), allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# -------------------------------------------------------------------- events
def latest_event_id(store: Store, parent: str | None) -> str:
    """The id of the newest event of ``parent``'s stream: a follower's first cursor."""
    return store.last_event_id(parent)


def read_events(store: Store, parent: str | None, cursor: str, block_ms: int) -> list[Event]:
    """Events of ``parent``'s stream after ``cursor``; waits up to ``block_ms`` for the first."""
    return store.read_events(parent, cursor, block_ms=block_ms)


# ------------------------------------------------------------------- listing
def list_optimizations(store: Store, now: float | None = None) -> list[dict[str, Any]]:
    """Every optimizer of the namespace, newest first: status, progress, best, elapsed time,
    end reason and whether a controller drives it (``live``: its lease is held)."""
    out = []
    for rec, progress in OptimizerRepository(store).list_optimizers(now):
        config = codec.loads(rec.configuration, {})
        total = config.get("total_max_jobs")
        objectives = config.get("objectives", [])
        out.append({
            "id": rec.id, "name": rec.name, "project": rec.project,
            "status": progress.status, "end_reason": rec.status_reason,
            "live": progress.live, "strategy": _short_class(config.get("optimizer_class", "")),
            "objective": [f"{o['title']}/{o['series']} ({o['sign']})" for o in objectives],
            "done": progress.done, "running": progress.running, "queued": progress.queued,
            "failed": progress.counts.get("failed", 0), "total": total,
            "progress": progress.done / total if total else None,
            "best": progress.best, "best_job": progress.best_job,
            "elapsed": progress.elapsed_seconds, "created": rec.created})
    return out


def _short_class(path: str) -> str:
    return path.rsplit(".", 1)[-1].rsplit(":", 1)[-1]


# ---------------------------------------------------------- one optimization
@dataclass
class Snapshot:
    """One read of an optimizer: its summary (ranked jobs, budgets, counts) and its job rows."""

    summary: OptimizerSummary
    rows: dict[str, Job]
    loaded_at: float

    @property
    def objective(self) -> Objective:
        return Objective.from_dict(self.summary.objectives[0])

    @cached_property
    def pairs(self) -> list[tuple[JobSummary, Job]]:
        """Every job as (summary, row), in the summary's order (ranked first)."""
        return [(j, self.rows[j.id]) for j in self.summary.jobs if j.id in self.rows]


def load_snapshot(store: Store, opt_id: str, memo: RowMemo | None = None) -> Snapshot:
    """Read an optimizer; TaskNotFoundError / NotAnOptimizerError for a wrong id.

    ``memo`` is the repository's memo of parsed rows (see :meth:`OptimizerRepository.load`):
    only the rows that changed since the last read are parsed again (the parse is most of a
    read's time).
    """
    saved = OptimizerRepository(store).load(opt_id, memo)
    try:
        summary = load_summary(store, opt_id, saved=saved)
    except ValueError as exc:
        raise NotAnOptimizerError(str(exc)) from None
    return Snapshot(summary, {j.id: j for j in saved.jobs}, time.time())


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    snapshot: Snapshot | None = None
    memo: RowMemo = field(default_factory=dict)
    derived: dict[str, tuple[Snapshot, Any]] = field(default_factory=dict)


class SnapshotCache:
    """Snapshots shared by the requests of one page load: a snapshot younger than ``max_age``
    seconds is reused unless :meth:`invalidate` was called (the live view does so when the
    optimizer's events arrive), and concurrent requests for one optimizer wait for a single
    read. What is computed from a snapshot is kept with it (:meth:`derived`).

    It also keeps what never changes once a job has ended: its worker and its objective curve.
    """

    def __init__(self, store: Store, max_age: float = 1.0, keep: int = 20_000) -> None:
        self.store = store
        self.max_age = max_age
        self.keep = keep
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._final: dict[tuple[str, str], Any] = {}

    def _entry(self, opt_id: str) -> _Entry:
        with self._lock:
            return self._entries.setdefault(opt_id, _Entry())

    def get(self, opt_id: str) -> Snapshot:
        """A snapshot of ``opt_id`` at most ``max_age`` seconds old (read if needed)."""
        entry = self._entry(opt_id)
        with entry.lock:
            snap = entry.snapshot
            if snap is None or time.time() - snap.loaded_at > self.max_age:
                snap = entry.snapshot = load_snapshot(self.store, opt_id, entry.memo)
                entry.derived.clear()
            return snap

    def derived(self, opt_id: str, name: str, compute: Callable[[Snapshot], Any]) -> Any:
        """``compute(snapshot)`` of the current snapshot, computed once per snapshot."""
        snap = self.get(opt_id)
        entry = self._entry(opt_id)
        with entry.lock:
            cached = entry.derived.get(name)
            if cached is not None and cached[0] is snap:
                return cached[1]
        value = compute(snap)
        with entry.lock:
            if entry.snapshot is snap:
                entry.derived[name] = (snap, value)
        return value

    def invalidate(self, opt_id: str | None) -> None:
        """The next :meth:`get` of ``opt_id`` reads it again."""
        if opt_id is None:
            return
        entry = self._entry(opt_id)
        with entry.lock:
            entry.snapshot = None
            entry.derived.clear()

    def final(self, kind: str, job: Job, read: Callable[[], Any]) -> Any:
        """``read()``, remembered once ``job`` has ended (its data no longer changes)."""
        key = (kind, job.id)
        if key in self._final:
            return self._final[key]
        value = read()
        if job.status.is_final:
            if len(self._final) >= self.keep:
                self._final.clear()
            self._final[key] = value
        return value

    def workers(self, rows: list[Job]) -> dict[str, str]:
        """The worker (``host:pid``) of each job, from the records not remembered yet (one
        round trip)."""
        missing = [r for r in rows if ("worker", r.id) not in self._final]
        records = self.store.records(r.id for r in missing) if missing else []
        fetched = {r.id: rec.worker if rec else "" for r, rec in zip(missing, records)}
        return {r.id: self.final("worker", r, partial(fetched.__getitem__, r.id)) for r in rows}


def optimization(cache: SnapshotCache, opt_id: str) -> dict[str, Any]:
    """The optimization page's data besides the jobs table and the learning curves: overview,
    budgets, failures grouped by error, and the aggregated charts (once per snapshot)."""
    return cache.derived(opt_id, "overview", lambda snap: _overview(cache, snap, time.time()))


def _overview(cache: SnapshotCache, snap: Snapshot, now: float) -> dict[str, Any]:
    s = snap.summary
    pairs = snap.pairs
    best = s.best
    objective = snap.objective
    config = s.config
    recent = sorted((r for _, r in pairs if r.started_at is not None),
                    key=lambda r: r.started_at or 0.0)[-aggregate.TIMELINE_CAP:]
    workers = cache.workers(recent)
    return {
        "id": s.id, "name": s.name, "project": s.project, "status": s.status,
        "end_reason": s.end_reason, "live": s.live, "elapsed": s.elapsed_seconds,
        "strategy": _short_class(config.get("optimizer_class", "")),
        "strategy_args": config.get("optimizer_kwargs", {}),
        "objectives": s.objectives, "objective_labels": s.objective_labels,
        "maximize": objective.maximize,
        "base_task": config.get("base_task_id", ""), "queue": config.get("execution_queue", ""),
        "concurrency": config.get("max_number_of_concurrent_tasks"),
        "parameters": s.parameter_names, "hyper_parameters": config.get("hyper_parameters", []),
        "counts": s.counts, "total": len(s.jobs), "budget": s.budget,
        "best": None if best is None else {"id": best.id, "index": best.index,
                                           "values": best.values},
        "failures": [g.to_dict() for g in group_failures((r for _, r in pairs), FAILURE_GROUPS)],
        "objective_over_time": aggregate.objective_points(pairs, s.best_over_time),
        "parallel": aggregate.parallel(pairs, s.parameter_names, config, objective),
        "importance": aggregate.importance(pairs, s.parameter_names),
        "timeline": aggregate.timeline(recent, workers, now),
        "rungs": aggregate.rungs(pairs),
        "lineage": aggregate.lineage(pairs),
        "config": config,
    }


def jobs_page(cache: SnapshotCache, opt_id: str, *, offset: int = 0, limit: int = 50,
              sort: str = "rank", descending: bool = False,
              statuses: list[str] | None = None) -> dict[str, Any]:
    """One page of the jobs table, sorted and filtered over every job.

    ``sort`` is a key of :func:`aggregate.sort_jobs` (``index``, ``rank``, ``status``,
    ``iteration``, ``run``, ``started``, ``ended``) or ``param:<name>``; jobs without a value
    (unranked ones for ``rank``) come last in either direction. The page's status, reason and error are read fresh from the
    task records (the job table may lag the workers by a loop pass).
    Raises ValueError naming a bad argument.
    """
    if offset < 0 or not 1 <= limit <= 1000:
        raise ValueError(f"offset must be >= 0 and limit within 1..1000 (got {offset}, {limit})")
    snap = cache.get(opt_id)
    known = {st.value for st in TaskStatus}
    if statuses and not set(statuses) <= known:
        raise ValueError(f"unknown status {sorted(set(statuses) - known)}; known: "
                         f"{sorted(known)}")
    pairs = [p for p in snap.pairs if not statuses or p[1].status.value in statuses]
    now = time.time()
    pairs = aggregate.sort_jobs(pairs, sort, descending, snap.summary.parameter_names, now)
    page = pairs[offset:offset + limit]
    records = cache.store.records(j.id for j, _ in page)
    out = []
    for (j, row), rec in zip(page, records):
        out.append({
            "id": j.id, "index": j.index, "rank": j.rank, "values": j.values,
            "iteration": row.objective_iteration(),
            "status": rec.status.value if rec else j.status,
            "reason": rec.status_reason if rec else j.reason,
            "error": (rec.error if rec else None) or "",
            "parameters": j.parameters, "meta": row.meta, "archived": j.archived,
            "started": row.started_at, "ended": row.ended_at,
            "run": row.run_seconds(now), "worker": rec.worker if rec else ""})
    return {"total": len(pairs), "offset": offset, "limit": limit, "sort": sort,
            "descending": descending, "parameters": snap.summary.parameter_names,
            "objective_labels": snap.summary.objective_labels, "jobs": out}


def learning_curves(cache: SnapshotCache, opt_id: str, limit: int = 300) -> dict[str, Any]:
    """The first objective's series of up to ``limit`` jobs on one x axis (iterations): every
    job when there are at most ``limit``, else the best half and the most recent ones."""
    if not 1 <= limit <= 5000:
        raise ValueError(f"limit must be within 1..5000, got {limit}")
    snap = cache.get(opt_id)
    obj = snap.summary.objectives[0]
    chosen = aggregate.curve_jobs(snap.pairs, limit)

    def series(job: Job) -> dict[str, list]:
        hist = cache.store.history(job.id)
        return hist.get(obj["title"], {}).get(obj["series"], {"x": [], "y": []})

    curves = [(j, cache.final("curve", row, partial(series, row))) for j, row in chosen]
    curves = [(j, c) for j, c in curves if c["x"]]
    started = sum(1 for _, r in snap.pairs if r.started_at is not None)
    return {"title": obj["title"], "series": obj["series"], "sign": obj["sign"],
            "shown": len(curves), "total": started, "sampled": started > limit,
            **aggregate.align(curves)}


# ------------------------------------------------------------------- one job
def job_detail(store: Store, job_id: str, *, history: bool = True) -> dict[str, Any]:
    """Everything about one job: record fields, parameters, the last/min/max of each scalar
    series (``metrics``) and, with ``history``, every point of them (``scalars``), output tail,
    traceback, artifacts, its row in the optimizer's table (meta) and the chain of jobs it
    continued from with their checkpoints. TaskNotFoundError for an unknown id."""
    rec = store.record(job_id)
    row = OptimizerRepository(store).job(rec.parent, job_id) if rec.parent else None
    return {
        "id": job_id, "name": rec.name, "project": rec.project, "status": rec.status.value,
        "reason": rec.status_reason, "error": rec.error or "", "traceback": rec.traceback or "",
        "output": rec.output, "worker": rec.worker, "attempts": rec.attempts,
        "queue": rec.queue or "", "parent": rec.parent, "created": rec.created,
        "started": rec.started, "completed": rec.completed, "archived": rec.archived,
        "parameters": rec.parameters,
        "index": None if row is None else row.index, "meta": {} if row is None else row.meta,
        "metrics": store.metrics(job_id), "scalars": store.history(job_id) if history else {},
        "artifacts": store.artifacts(job_id),
        "checkpoints": store.checkpoints(job_id),
        "chain": _chain(store, rec),
    }


def _chain(store: Store, rec: TaskRecord, limit: int = 1000) -> list[dict[str, Any]]:
    """The jobs this one continued from (newest first), each with its checkpoints."""
    out: list[dict[str, Any]] = []
    seen = {rec.id}
    task_id = rec.continue_from
    while task_id and task_id not in seen and len(out) < limit:
        seen.add(task_id)
        try:
            prev = store.record(task_id)
        except TaskNotFoundError:
            out.append({"id": task_id, "missing": True, "checkpoints": []})
            break
        out.append({"id": task_id, "name": prev.name, "status": prev.status.value,
                    "missing": False, "checkpoints": store.checkpoints(task_id)})
        task_id = prev.continue_from
    return out


def job_parent(store: Store, job_id: str) -> str | None:
    """The id of the optimizer (parent) whose stream carries the job's events."""
    (parent,) = store.get_fields(job_id, "parent")
    return parent or None


# ------------------------------------------------------------------- actions
def stop_optimization(store: Store, opt_id: str) -> dict[str, Any]:
    """Ask the controller that drives ``opt_id`` to stop it (a ``stop`` on its control stream:
    every job is stopped, then the optimizer ends ``stopped``).

    Raises TaskNotFoundError, NotAnOptimizerError, or :class:`ActionRefusedError` when no
    controller drives it (nothing would read the request) or it has already ended.
    """
    if not store.record(opt_id).configuration:
        raise NotAnOptimizerError(f"task {opt_id} is not an hpqueue optimizer")
    progress = OptimizerRepository(store).progress(opt_id)
    if TaskStatus(progress.status).is_final:
        raise ActionRefusedError(f"optimization {opt_id} has already ended ({progress.status})")
    if not progress.live:
        raise ActionRefusedError(f"no controller drives optimization {opt_id}; resume it "
                                 f"with `hpq resume {opt_id}` or stop its jobs one by one")
    store.post_control(opt_id, "stop")
    return {"id": opt_id, "outcome": "requested"}


def stop_job(store: Store, job_id: str) -> dict[str, Any]:
    """Stop one job: a queued job never starts, a running one stops at its next report.

    Returns ``{"id", "outcome"}`` with the store's outcome (``stopped``, ``flagged``,
    ``final``); TaskNotFoundError for an unknown id.
    """
    parent = job_parent(store, job_id)
    outcome = store.request_stop(job_id, parent, STOP_REASON)
    if outcome == StopOutcome.MISSING:
        raise TaskNotFoundError(job_id)
    return {"id": job_id, "outcome": outcome.value}
