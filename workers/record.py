"""The typed task record: what :meth:`Store.record` returns instead of the raw hash.

A record is stored as a Redis hash of text fields (see :mod:`workers.store`); :class:`TaskRecord`
decodes it once, at the boundary, so that no reader parses ``"1"``, JSON or float text itself.
Fields hpqueue does not know (written by a newer version, or by an application) stay readable in
:attr:`TaskRecord.raw`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from . import codec
from .status import TaskStatus


@dataclass(frozen=True)
class TaskRecord:
    """One task record, decoded. Times are seconds since the epoch; absent optional fields are
    None ('' for the text fields that are always present)."""

    id: str
    name: str
    project: str
    type: str
    status: TaskStatus
    status_reason: str
    comment: str
    #: ``{"Section/name": value}`` with JSON types
    parameters: dict[str, Any]
    tags: tuple[str, ...]
    created: float
    archived: bool
    parent: str | None = None
    #: the task this one was cloned from
    source: str | None = None
    #: the task whose checkpoints this one continues (Hyperband's resume, PBT)
    continue_from: str | None = None
    entry_point: str | None = None
    command: tuple[str, ...] | None = None
    working_dir: str | None = None
    #: the Celery queue it was sent to (set when queued)
    queue: str | None = None
    started: float | None = None
    completed: float | None = None
    last_update: float | None = None
    #: claims so far (each running attempt counts one)
    attempts: int = 0
    #: the current attempt's token ('' when no attempt runs)
    attempt: str = ""
    #: ``host:pid`` of the latest attempt
    worker: str = ""
    heartbeat: float | None = None
    #: the reason of a requested stop ('' when none was requested)
    stop: str = ""
    error: str | None = None
    traceback: str | None = None
    output: str = ""
    #: the JSON value a callable trial returned
    result: Any = None
    #: an optimizer's saved configuration (JSON text), None for other tasks
    configuration: str | None = None
    #: every stored field as text, including fields this class does not know
    raw: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_raw(cls, raw: Mapping[str, str]) -> TaskRecord:
        """Decode a stored hash; ValueError naming the field when one cannot be decoded."""
        get = raw.get
        try:
            command = codec.loads(get("command"))
            values = {
                "id": get("id", ""), "name": get("name", ""), "project": get("project", ""),
                "type": get("type") or "training", "status": TaskStatus(get("status", "created")),
                "status_reason": get("status_reason", ""), "comment": get("comment", ""),
                "parameters": codec.loads(get("parameters"), {}),
                "tags": tuple(codec.loads(get("tags"), [])),
                "created": float(get("created") or 0), "archived": get("archived") == "1",
                "parent": get("parent") or None, "source": get("source") or None,
                "continue_from": get("continue_from") or None,
                "entry_point": get("entry_point") or None,
                "command": tuple(command) if command is not None else None,
                "working_dir": get("working_dir") or None, "queue": get("queue") or None,
                "started": _float(get("started")), "completed": _float(get("completed")),
                "last_update": _float(get("last_update")),
                "attempts": int(get("attempts") or 0), "attempt": get("attempt", ""),
                "worker": get("worker", ""), "heartbeat": _float(get("heartbeat")),
                "stop": get("stop", ""), "error": get("error") or None,
                "traceback": get("traceback") or None, "output": get("output", ""),
                "result": codec.loads(get("result")),
                "configuration": get("configuration") or None,
                "raw": MappingProxyType(dict(raw)),
            }
        except ValueError as exc:
            raise ValueError(f"task record {get('id', '?')!r} cannot be decoded: {exc}") from None
        # Every field is set here, so the frozen __init__ (one object.__setattr__ per field,
        # most of a decode's time: a record is decoded at every claim) is skipped.
        record = object.__new__(cls)
        record.__dict__.update(values)
        return record

    def updated(self, fields: Mapping[str, str]) -> TaskRecord:
        """This record with raw ``fields`` written over it (what a ``set_fields`` stores)."""
        return TaskRecord.from_raw({**self.raw, **fields})


def _float(text: str | None) -> float | None:
    return float(text) if text else None
