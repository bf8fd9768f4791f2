"""What the store's atomic operations answer: typed outcomes instead of bare strings and codes.

The enums derive from ``str`` so that an outcome still compares equal to its text
(``ClaimOutcome.CLAIMED == "claimed"``) and prints as it (``str(outcome)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from . import codec
from .record import TaskRecord
from .status import TaskStatus


class _Text(str, Enum):
    def __str__(self) -> str:
        return self.value


class ClaimOutcome(_Text):
    """How a worker's claim of a record ended (see :class:`Claim`)."""

    #: the record is now in progress under the claimer's token
    CLAIMED = "claimed"
    #: a stop was requested while it was queued: it moved to ``stopped`` without running
    STOPPED = "stopped"
    #: out of attempts: it moved to ``failed``
    FAILED = "failed"
    #: another attempt holds it
    BUSY = "busy"
    #: it is no longer queued (final, or created)
    DONE = "done"
    #: no such record
    MISSING = "missing"
    #: the record's parent is not the one the claimer named (nothing written)
    PARENT = "parent"


@dataclass(frozen=True)
class Claim:
    """Outcome of a worker's attempt to claim a queued record.

    ``claimed``: ``attempts`` (this one included) and ``record`` (the record after the claim).
    ``busy``: the other attempt's ``attempt`` token, ``heartbeat`` and ``worker``.
    ``done``: the record's ``status``. ``parent``: the record's actual ``parent`` (None for a
    record without one).
    """

    outcome: ClaimOutcome
    attempts: int = 0
    attempt: str = ""
    heartbeat: float = 0.0
    worker: str = ""
    status: TaskStatus | None = None
    parent: str | None = None
    record: TaskRecord | None = None


class StopOutcome(_Text):
    """What a stop request did."""

    #: the task was created or queued: it is ``stopped`` now and never starts
    STOPPED = "stopped"
    #: the task runs: its trial sees the request at its next report or heartbeat
    FLAGGED = "flagged"
    #: the task had already finished: nothing written
    FINAL = "final"
    #: no such record
    MISSING = "missing"


class ReportStatus(_Text):
    """What became of one reported scalar point."""

    #: stored (metrics, history, event)
    STORED = "stored"
    #: this (title, series, iteration) was stored before: ignored
    DUPLICATE = "duplicate"
    #: the reporting attempt no longer owns the record: nothing written
    LOST = "lost"
    #: no such record
    MISSING = "missing"


@dataclass(frozen=True)
class Reported:
    """Outcome of :meth:`Store.report`: ``status``, and the reason of a requested stop ('' when
    none was requested)."""

    status: ReportStatus
    stop: str = ""


@dataclass(frozen=True)
class ScalarStats:
    """A series' aggregate as the store keeps it: the value at the highest iteration reported
    (``last``, ``iteration``) and the extremes (``min``, ``max``; NaN while only NaN was
    reported)."""

    last: float
    iteration: int
    min: float
    max: float

    def as_dict(self) -> dict[str, float | int]:
        """``{"last", "min", "max", "iteration"}`` (the shape of :meth:`Store.metric`)."""
        return {"last": self.last, "min": self.min, "max": self.max, "iteration": self.iteration}


@dataclass(frozen=True)
class Event:
    """One entry of an event stream: ``kind`` is ``status``, ``scalar`` or ``control``."""

    id: str
    task_id: str
    kind: str
    fields: dict[str, str]

    @property
    def status(self) -> TaskStatus | None:
        """The new status of a status event."""
        return TaskStatus(self.fields["status"]) if self.kind == "status" else None

    @property
    def value(self) -> float | None:
        """The reported value of a scalar event."""
        return codec.decode_number(self.fields.get("value"))

    @property
    def iteration(self) -> int | None:
        """The reported iteration of a scalar event."""
        it = self.fields.get("iter")
        return int(it) if it is not None else None

    @property
    def stats(self) -> ScalarStats | None:
        """The series' aggregate right after this report, as the store computed it (None for
        other events, and for scalar events written before events carried it)."""
        f = self.fields
        if self.kind != "scalar" or "last" not in f:
            return None
        return ScalarStats(float(f["last"]), int(f["last_iter"]), float(f["min"]),
                           float(f["max"]))

