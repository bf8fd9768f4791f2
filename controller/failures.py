"""Failed jobs grouped by their error: one computation for every place that shows failures.

The scheduler's end reasons and warnings (:mod:`controller.loop`), the progress line, ``hpq top``,
``hpq status``, the dashboard and the report all group failures the same way: by the first line
of the job's reason (``ModuleNotFoundError: No module named 'x'``), most frequent first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

#: Longest error text kept of a reason's first line.
MAX_ERROR_CHARS = 300
NO_REASON = "no reason recorded"


class FailedJob(Protocol):
    """What grouping reads of a job (a job-table row or a report's job summary)."""

    @property
    def id(self) -> str: ...

    @property
    def index(self) -> int: ...

    @property
    def status(self) -> str: ...

    @property
    def reason(self) -> str: ...


def error_line(reason: str | None) -> str:
    """The one-line form of a failure reason: its first non-blank line, cut at
    :data:`MAX_ERROR_CHARS` (:data:`NO_REASON` when it has none)."""
    for line in (reason or "").splitlines():
        if line.strip():
            text = line.strip()
            return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 1] + "…"
    return NO_REASON


@dataclass(frozen=True)
class JobFailure:
    """One failed job: its id, its job index and its :func:`error_line`."""

    job_id: str
    index: int
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "index": self.index, "error": self.error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobFailure:
        return cls(str(data["job_id"]), int(data["index"]), str(data["error"]))


@dataclass(frozen=True)
class FailureGroup:
    """The failed jobs that share one error: how many, and the first of them (by job index)."""

    error: str
    count: int
    example_id: str
    example_index: int

    def to_dict(self) -> dict[str, Any]:
        """``{"error", "count", "example", "example_index"}`` (the dashboard's JSON)."""
        return {"error": self.error, "count": self.count, "example": self.example_id,
                "example_index": self.example_index}


def group_failures(jobs: Iterable[FailedJob], top: int | None = None) -> list[FailureGroup]:
    """The failed jobs among ``jobs`` grouped by :func:`error_line`, most frequent first (ties:
    by error text); at most ``top`` groups (all when None)."""
    groups: dict[str, list[FailedJob]] = {}
    for job in jobs:
        if job.status == "failed":
            groups.setdefault(error_line(job.reason), []).append(job)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    out = []
    for error, members in ordered[:top]:
        first = min(members, key=lambda j: j.index)
        out.append(FailureGroup(error, len(members), first.id, first.index))
    return out
