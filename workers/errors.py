"""Exceptions of hpqueue's execution layer.

Every error derives from :class:`HpqError` and also from the builtin it specialises, so that
``except KeyError`` or ``except ValueError`` keep working for callers that do not know hpqueue.
"""

from __future__ import annotations


class HpqError(Exception):
    """Root of hpqueue's exceptions."""


class TaskNotFoundError(HpqError, KeyError):
    """No task record has this id."""

    def __init__(self, task_id: str) -> None:
        super().__init__(task_id)
        self.task_id = task_id

    def __str__(self) -> str:
        return f"no task with id {self.task_id!r}"


class NoMatchingTaskError(TaskNotFoundError, ValueError):
    """No task matches a search by project and name (``Task.get_task(project_name=,
    task_name=)``); a ValueError too, as ClearML raises."""

    def __init__(self, project: str | None, name: str | None) -> None:
        super().__init__(name or "")
        self.project = project
        self.name = name

    def __str__(self) -> str:
        where = f"project {self.project!r}" if self.project is not None else "any project"
        what = f"named {self.name!r}" if self.name is not None else "at all"
        return f"no task {what} in {where}"


class InvalidTaskError(HpqError, ValueError):
    """A task's definition (parameters, entry point, command, name) is not valid."""


class EntryPointError(InvalidTaskError):
    """An entry point that does not import, or names something that is not callable."""


class PlaceholderError(InvalidTaskError):
    """A command placeholder ``{{ Section/name }}`` that matches no parameter."""


class InvalidScalarError(HpqError, ValueError):
    """A reported scalar that is not a real number, or a malformed title/series/iteration."""


class StatusConflictError(HpqError, RuntimeError):
    """A status move that the record's current status does not allow."""


class RedisUnavailableError(HpqError, ConnectionError):
    """The Redis server at a given URL cannot be reached."""

    def __init__(self, url: str, reason: object) -> None:
        from .connection import mask_text, mask_url

        super().__init__(f"cannot reach Redis at {mask_url(url)}: {mask_text(str(reason), url)}")
        #: The URL, its password masked.
        self.url = mask_url(url)


class GpuError(HpqError, ValueError):
    """GPUs that cannot be used as a worker's slots, or no free slot (the message says why)."""


class TrialStopped(HpqError):
    """Raised inside a trial (by ``report_scalar`` or ``check_stop``) once a stop was requested.

    Let it propagate: the worker then records the trial as ``stopped``. Catching it and carrying on
    only delays the stop until the worker's stop grace ends and the trial is interrupted.
    """


class TrialFailed(HpqError):
    """Raised by the Celery task of a trial that failed, once the trial's record is finished
    (``failed``, with its error): Celery then records the task as FAILURE, which is what
    monitors such as Flower show. The message is acknowledged like any other: never retried,
    never requeued."""


class AttemptLostError(HpqError):
    """This attempt of a trial no longer owns the record (it was declared dead or superseded).

    Raised inside a zombie attempt so that it ends without writing anything more.
    """


class TrialRequestError(HpqError, RuntimeError):
    """The optimizer refused a running trial's request (:mod:`workers.messages`): the message
    says why (a strategy that does not answer such requests, a request it cannot serve)."""
