"""Task statuses and the moves between them."""

from __future__ import annotations

from enum import Enum


class TaskStatus(str, Enum):
    """The life of a task record: created -> queued -> in_progress -> completed | failed | stopped.

    ``queued`` and ``created`` may also move straight to ``stopped``; a worker lost mid-trial moves
    ``in_progress`` back to ``queued`` (a retry) or to ``failed``.
    """

    CREATED = "created"
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"

    @property
    def is_final(self) -> bool:
        """True for completed, failed and stopped."""
        return self in FINAL_STATUSES

    @property
    def is_active(self) -> bool:
        """True for queued and in_progress (a job that occupies a concurrency slot)."""
        return self in (TaskStatus.QUEUED, TaskStatus.IN_PROGRESS)

    def __str__(self) -> str:
        return self.value


FINAL_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.STOPPED})
