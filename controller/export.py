"""An optimizer's results table: one row per job, as CSV or JSON (``hpq export``), and the data
of the report's and the PNG plots' run charts.

Columns: ``index`` (the job's number), ``job_id``, one column per parameter (its name without
the ``General/`` section), ``<name> value`` for each expression parameter (its value as the
trial computed it, :mod:`workers.function_trial`), ``result`` (the first objective; one column
per objective, ``title/series``, when there are several), ``start`` and ``end`` (ISO 8601, UTC),
``run_time`` (seconds), ``worker`` (``host:pid`` of the process that ran it) and ``status`` (with
the reason of a failure or a stop after a colon).

It reads what the optimizer saves and the jobs' task records, from any process, so it can be run
again and again while the optimization goes on (phs's growing ``result_frame.csv``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workers import codec
from workers.function_trial import EXPRESSIONS_ARTIFACT
from workers.store import Store
from workers.task import short_name

from .objective import Objective
from .persistence import OptimizerRepository
from .summary import optimizer_record

FORMATS = ("csv", "json")


@dataclass
class ResultRow:
    """One job. Times are seconds since the epoch (None before it started / ended)."""

    index: int
    job_id: str
    parameters: dict[str, Any]
    expressions: dict[str, Any]
    values: list[float] | None
    start: float | None
    end: float | None
    worker: str
    status: str
    reason: str = ""
    #: the names of the set's parameters a GP suggested (phs's Bayesian register)
    bayesian: list[str] = field(default_factory=list)

    def run_time(self, now: float) -> float | None:
        """Seconds it ran (so far, while it runs)."""
        if self.start is None:
            return None
        return max(0.0, (self.end if self.end is not None else now) - self.start)


@dataclass
class ResultsTable:
    """Every job of an optimizer, by index; ``parameters`` and ``expressions`` name the columns
    (short names), ``objectives`` the result columns."""

    optimizer_id: str
    objectives: list[Objective]
    parameters: list[str]
    expressions: list[str]
    rows: list[ResultRow]
    read_at: float

    def scored(self) -> list[tuple[ResultRow, float]]:
        """The jobs with a finite first objective, with it."""
        return [(row, row.values[0]) for row in self.rows
                if row.values is not None and math.isfinite(row.values[0])]

    def numeric_parameters(self) -> list[str]:
        """The parameters whose every value is a number (bools are not)."""
        return [name for name in self.parameters
                if all(isinstance(v := row.parameters.get(name), (int, float))
                       and not isinstance(v, bool) and math.isfinite(v) for row in self.rows)]

    @property
    def result_columns(self) -> list[str]:
        if len(self.objectives) == 1:
            return ["result"]
        return [f"{o.title}/{o.series}" for o in self.objectives]

    def records(self) -> list[dict[str, Any]]:
        """The rows as flat dicts, in the column order of :meth:`to_csv`."""
        out = []
        for row in self.rows:
            record: dict[str, Any] = {"index": row.index, "job_id": row.job_id}
            record.update({name: row.parameters.get(name) for name in self.parameters})
            record.update({f"{name} value": row.expressions.get(name)
                           for name in self.expressions})
            values: list[float | None] = [None] * len(self.objectives)
            if row.values is not None:
                values = list(row.values)
            record.update(dict(zip(self.result_columns, values)))
            record.update(start=_iso(row.start), end=_iso(row.end),
                          run_time=row.run_time(self.read_at), worker=row.worker,
                          status=row.status + (f": {row.reason}" if row.reason else ""))
            out.append(record)
        return out

    def to_csv(self) -> str:
        buffer = io.StringIO()
        records = self.records()
        columns = ["index", "job_id", *self.parameters,
                   *[f"{n} value" for n in self.expressions], *self.result_columns,
                   "start", "end", "run_time", "worker", "status"]
        writer = csv.DictWriter(buffer, columns, lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({k: _cell(v) for k, v in record.items()})
        return buffer.getvalue()

    def to_json(self) -> str:
        return json.dumps({"optimizer": self.optimizer_id, "rows": self.records()},
                          indent=1, default=str)

    def write(self, path: str | Path, fmt: str = "csv") -> Path:
        """Write the table as ``fmt`` (``csv`` or ``json``) to ``path``, atomically (a reader
        never sees half a file)."""
        target = Path(path)
        text = self.to_csv() if fmt == "csv" else self.to_json()
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        return target


def results_table(store: Store, opt_id: str, now: float | None = None) -> ResultsTable:
    """The results table of ``opt_id`` as it is now.

    Raises:
        TaskNotFoundError: no such task; ValueError: it is not an optimizer.
    """
    now = time.time() if now is None else now
    _, _, objective = optimizer_record(store, opt_id)
    jobs = OptimizerRepository(store).load(opt_id).jobs
    pipe = store.redis.pipeline(transaction=False)
    for job in jobs:
        pipe.hmget(store.keys.task(job.id), ["started", "completed", "worker"])
        pipe.hget(store.keys.artifacts(job.id), EXPRESSIONS_ARTIFACT)
    replies = pipe.execute()
    rows, names, expressions = [], [], []
    for job, (started, completed, worker), raw in zip(jobs, replies[::2], replies[1::2]):
        parameters = {short_name(k): v for k, v in job.parameters.items()}
        names += [n for n in parameters if n not in names]
        computed = _expression_values(raw)
        expressions += [n for n in computed if n not in expressions]
        rows.append(ResultRow(job.index, job.id, parameters, computed,
                              job.objective_values(objective), _float(started),
                              _float(completed), worker or "", job.status.value,
                              job.reason if job.status.value in ("failed", "stopped") else "",
                              list(job.meta.get("bayesian", []))))
    return ResultsTable(opt_id, objective.objectives, names, expressions, rows, now)


def _expression_values(raw: str | None) -> dict[str, Any]:
    """``{name: value}`` of the expressions a trial computed (``error: ...`` for one that
    raised)."""
    value = (codec.loads(raw) or {}).get("value") if raw else None
    if not isinstance(value, dict):
        return {}
    return {name: entry.get("value", f"error: {entry.get('error')}")
            for name, entry in value.items() if isinstance(entry, dict)}


def _float(text: str | None) -> float | None:
    return float(text) if text else None


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def _cell(value: Any) -> Any:
    """A CSV cell: None empty, lists and dicts as JSON, NaN as ``nan``."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value
