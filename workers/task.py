"""Task: the user-facing task record (a base template or a clone of it), ClearML-like.

A :class:`Task` is a handle on a record in Redis. Fields that never change after creation (id,
project, parent, entry point) are cached; ``status`` and everything a trial writes are read fresh.
Inside a trial, the handle returned by :meth:`Task.current_task` carries the attempt token, so its
reports are refused once the attempt was declared dead (:class:`AttemptLostError`), and a report
raises :class:`TrialStopped` once a stop was requested.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import codec
from .clearml_task import (
    SCRIPT_FIELDS,
    ClearMLTaskAPI,
    connect_object,
    end_session,
    enqueue_task,
    find_task_id,
    hybridmethod,
    main_task,
    name_matches,
    release_trial,
)
from .entrypoints import (
    CONTEXT_PREFIX,
    DEFAULT_SECTION,
    check_entry_point,
    check_entry_point_syntax,
    context_placeholders,
    full_name,
    placeholders,
)
from .errors import (
    InvalidTaskError,
    PlaceholderError,
    StatusConflictError,
    TaskNotFoundError,
    TrialStopped,
)
from .gpus import current_devices
from .outcomes import ReportStatus, StopOutcome
from .record import TaskRecord
from .reporting import ReportQueue, lost_attempt
from .status import TaskStatus
from .store import Store, get_store

if TYPE_CHECKING:
    from .pbt import PBTClient

SUMMARY_TITLE = "Summary"
#: The context values a command may reference as ``{{ globals.KEY }}`` (Polyaxon's names; see
#: :meth:`Task.template_context`).
CONTEXT_KEYS = ("uuid", "run_uuid", "name", "project_name", "run_artifacts_path",
                "run_outputs_path")
_MAX_JSON_ARTIFACT = 1 << 20

_current: Task | None = None


def new_task_id() -> str:
    """A fresh task id."""
    return uuid.uuid4().hex


def normalize_parameters(parameters: Mapping[str, Any] | None, what: str = "parameters"
                         ) -> dict[str, Any]:
    """Flat ``{"Section/name": value}``; keys without a section go to ``General``.

    Raises InvalidTaskError for non-string keys and values that are not JSON-serialisable.
    """
    out: dict[str, Any] = {}
    for key, value in (parameters or {}).items():
        if not isinstance(key, str) or not key or key.startswith("/") or key.endswith("/"):
            raise InvalidTaskError(f"{what}: key {key!r} must look like 'Section/name'")
        full = full_name(key)
        codec.dumps(value, f"{what}[{full!r}]")  # raises for what JSON cannot hold
        out[full] = codec.loads(codec.dumps(value))  # numpy scalars become Python numbers
    return out


def short_name(name: str) -> str:
    """A parameter's name without the default section: ``lr`` for ``General/lr`` (other
    sections are kept: ``Training/lr``)."""
    return name.removeprefix(f"{DEFAULT_SECTION}/")


def _flatten(mapping: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        full = f"{prefix}/{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, full))
        else:
            flat[full] = value
    return flat


@dataclass(frozen=True)
class Artifact:
    """A registered artifact: a stored file (``path``) or a small JSON value (``value``)."""

    name: str
    type: str  # "file" or "json"
    path: str | None = None
    value: Any = None

    def get(self) -> Any:
        """The JSON value, or the stored file's path."""
        return self.value if self.type == "json" else Path(self.path or "")

    def get_local_copy(self) -> str | None:
        """ClearML's name for the stored file's path (None for a JSON artifact)."""
        return self.path


class Logger:
    """Reports scalars of one task (``task.get_logger()``, ``Logger.current_logger()``)."""

    def __init__(self, task: Task) -> None:
        self._task = task

    @classmethod
    def current_logger(cls) -> Logger | None:
        """The logger of this process's task (``Task.init``'s, or the trial's), else None."""
        task = Task.current_task()
        return task.get_logger() if task is not None else None

    def report_scalar(self, title: str, series: str, value: float, iteration: int) -> None:
        """Record ``value`` of ``title``/``series`` at ``iteration``.

        Updates last/min/max atomically and appends to the history; a second report of the same
        (title, series, iteration) is ignored. NaN and inf are stored as such.
        In a trial the point is written behind the call (:mod:`workers.reporting`); what its
        reply says is raised at the next report. Raises InvalidScalarError for a value that
        is not a real number (at once), TrialStopped once a stop was requested (the point is
        still stored), AttemptLostError in a zombie attempt.
        """
        offset = self._task._iteration_offset
        if offset and isinstance(iteration, int) and not isinstance(iteration, bool):
            iteration += offset  # continue_last_task: after the previous run's iterations
        self._task._report(title, series, value, iteration, overwrite=False)

    def report_single_value(self, name: str, value: float) -> None:
        """Record a single value (stored under title ``Summary``, iteration 0; last one wins)."""
        self._task._report(SUMMARY_TITLE, name, value, 0, overwrite=True)

    def report_text(self, msg: str, level: int = logging.INFO, print_console: bool = True,
                    *args: Any, **kwargs: Any) -> None:
        """Print a line to the trial's output (kept in the record's output tail); ``level``
        and ClearML's other arguments are accepted and ignored."""
        if print_console:
            print(msg, flush=True)

    def flush(self) -> None:
        """Wait until the task's reports are written (a trial's are written behind its back)."""
        self._task.flush()


class Task(ClearMLTaskAPI):
    """A task record. Use the classmethods to create, find or clone one; ``Task.init`` (see
    :mod:`workers.clearml_task`) makes a script run by hand a task."""

    def __init__(self, task_id: str, *, store: Store | None = None,
                 record: TaskRecord | Mapping[str, str] | None = None, token: str = "") -> None:
        self._store = store or get_store()
        self._id = task_id
        self._record = (self._store.record(task_id) if record is None
                        else record if isinstance(record, TaskRecord)
                        else TaskRecord.from_raw(record))
        self._token = token
        self._logger: Logger | None = None
        #: a task run by hand (Task.init): the code's values win in connect()
        self._code_wins = False
        #: added to reported iterations (Task.init's continue_last_task)
        self._iteration_offset = 0
        #: this attempt's write-behind reports (made at its first report)
        self._reports: ReportQueue | None = None

    # ------------------------------------------------------------ constructors
    @classmethod
    def create(cls, project: str, name: str, *, entry_point: str | None = None,
               command: list[str] | None = None, parameters: Mapping[str, Any] | None = None,
               tags: Iterable[str] | None = None, comment: str = "",
               task_type: str = "training", working_dir: str | None = None,
               validate: bool = True, store: Store | None = None) -> Task:
        """Create a base task (status ``created``) that runs ``entry_point`` or ``command``.

        ``entry_point`` is ``"package.module:function"`` (or ``"file.py:function"``); the function
        gets the running Task. ``command`` is an argument list whose ``{{ Section/name }}``
        placeholders are rendered from the parameters. With ``validate`` (the default) the entry
        point is checked here without importing its module (a typo in the module or function name
        fails now; an error raised while the module imports fails the trial on the worker).
        Raises InvalidTaskError (or its EntryPointError/PlaceholderError) naming the problem.
        """
        store = store or get_store()
        if not isinstance(name, str) or not name:
            raise InvalidTaskError(f"name must be a non-empty string, got {name!r}")
        if not isinstance(project, str):
            raise InvalidTaskError(f"project must be a string, got {project!r}")
        if (entry_point is None) == (command is None) and task_type != "optimizer":
            raise InvalidTaskError("give exactly one of entry_point= or command=")
        params = normalize_parameters(parameters)
        record: dict[str, str] = {}
        if entry_point is not None:
            check_entry_point_syntax(entry_point)
            if validate:
                check_entry_point(entry_point, working_dir or os.getcwd())
            record["entry_point"] = entry_point
        if command is not None:
            if (isinstance(command, str) or not command
                    or not all(isinstance(a, str) for a in command)):
                raise InvalidTaskError(f"command must be a non-empty list of strings, got "
                                       f"{command!r}")
            missing = sorted(placeholders(command) - set(params))
            if missing:
                raise PlaceholderError(
                    f"command placeholder(s) {missing} match no parameter; parameters are: "
                    f"{sorted(params) or '(none)'}")
            unknown = sorted(context_placeholders(command)
                             - {CONTEXT_PREFIX + k for k in CONTEXT_KEYS})
            if unknown:
                raise PlaceholderError(
                    f"command placeholder(s) {unknown} are no context value; there are: "
                    f"{', '.join(CONTEXT_PREFIX + k for k in CONTEXT_KEYS)}")
            record["command"] = codec.dumps(list(command))
        record.update(cls._base_record(project, name, task_type, comment, tags, params))
        record["working_dir"] = working_dir or os.getcwd()
        store.create(record)
        return cls(record["id"], store=store, record=record)

    @staticmethod
    def _base_record(project: str, name: str, task_type: str, comment: str,
                     tags: Iterable[str] | None, params: Mapping[str, Any],
                     task_id: str | None = None) -> dict[str, str]:
        tag_list = list(tags or [])
        if not all(isinstance(t, str) for t in tag_list):
            raise InvalidTaskError(f"tags must be strings, got {tag_list!r}")
        return {
            "id": task_id or new_task_id(), "name": name, "project": project, "type": task_type,
            "status": TaskStatus.CREATED.value, "status_reason": "",
            "comment": comment or "", "tags": codec.dumps(tag_list),
            "parameters": codec.dumps(dict(params)), "created": repr(time.time()),
            "archived": "0", "stop": "", "attempts": "0",
        }

    @classmethod
    def get_task(cls, task_id: str | None = None, project_name: str | None = None,
                 task_name: str | None = None, *, store: Store | None = None) -> Task:
        """The task with this id; or the latest task of ``project_name`` named exactly
        ``task_name`` (a non-archived one if any; either may be left out).

        Raises TaskNotFoundError for an unknown id, NoMatchingTaskError (naming the project and
        the name; also a ValueError) when nothing matches.
        """
        store = store or get_store()
        if task_id is None:
            task_id = find_task_id(store, project_name, task_name)
        return cls(task_id, store=store)

    @classmethod
    def get_tasks(cls, project: str | None = None, parent: str | None = None,
                  status: str | Iterable[str] | None = None, tags: Iterable[str] | None = None,
                  *, task_ids: Iterable[str] | None = None, project_name: str | None = None,
                  task_name: str | None = None, store: Store | None = None) -> list[Task]:
        """Tasks matching every given filter (all tags must be present), oldest first.

        ClearML's keywords: ``task_ids`` (those tasks; the other filters are ignored),
        ``project_name`` (same as ``project``), ``task_name`` (a regular expression searched
        in the name; ``^name$`` for an exact match).
        """
        store = store or get_store()
        if task_ids is not None:
            ids = list(task_ids)
        else:
            ids = store.find(project=project if project is not None else project_name,
                             parent=parent, status=status, tags=tags)
        match = name_matches(task_name)
        return [cls(i, store=store, record=rec)
                for i, rec in zip(ids, store.records(ids)) if rec is not None and match(rec.name)]

    @classmethod
    def clone(cls, source_task: Task | str, name: str | None = None,
              comment: str | None = None, parent: str | None = None,
              project: str | None = None, *, parameters: Mapping[str, Any] | None = None,
              tags: Iterable[str] | None = None, store: Store | None = None) -> Task:
        """A new ``created`` task with the source's code, parameters and tags (ClearML's
        argument order).

        ``parameters`` (optional) are merged over the source's. The parent defaults to the
        source's parent, else the source (ClearML's rule). Raises TaskNotFoundError if the
        source does not exist; nothing is written then.
        """
        store = store or (source_task._store if isinstance(source_task, Task) else get_store())
        src_id = source_task.id if isinstance(source_task, Task) else source_task
        src = store.record(src_id)
        record = clone_record(src, name=name, parent=parent or src.parent, project=project,
                              comment=comment, parameters=parameters, tags=tags)
        store.create(record)
        return cls(record["id"], store=store, record=record)

    @classmethod
    def current_task(cls) -> Task | None:
        """The task this process runs as a trial, or None.

        In a worker this is the trial being run; in a command launched by a worker it is found
        through ``HPQ_TASK_ID`` (and ``HPQ_TASK_ATTEMPT``) in the environment; in a script run
        by hand, the task ``Task.init`` returned.
        """
        global _current
        if _current is None and os.environ.get("HPQ_TASK_ID"):
            _current = cls(os.environ["HPQ_TASK_ID"], token=os.environ.get("HPQ_TASK_ATTEMPT", ""))
        return _current

    # -------------------------------------------------------------- properties
    @property
    def id(self) -> str:
        return self._id

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def project(self) -> str:
        return self._record.project

    @property
    def parent(self) -> str | None:
        return self._record.parent

    @property
    def task_type(self) -> str:
        return self._record.type

    @property
    def entry_point(self) -> str | None:
        return self._record.entry_point

    @property
    def command(self) -> list[str] | None:
        command = self._record.command
        return list(command) if command is not None else None

    @property
    def tags(self) -> list[str]:
        return list(self.reload()._record.tags)

    @property
    def comment(self) -> str:
        return self.reload()._record.comment

    @property
    def status(self) -> TaskStatus:
        """The current status (read from Redis)."""
        return self._store.status(self._id)

    @property
    def status_reason(self) -> str:
        return self.reload()._record.status_reason

    @property
    def started(self) -> float | None:
        """When the first attempt started (seconds since the epoch), or None."""
        return self.reload()._record.started

    @property
    def completed(self) -> float | None:
        """When the task reached its final status (seconds since the epoch), or None."""
        return self.reload()._record.completed

    @property
    def created(self) -> float:
        return self._record.created

    @property
    def archived(self) -> bool:
        return self.reload()._record.archived

    @property
    def attempts(self) -> int:
        return self.reload()._record.attempts

    @property
    def error(self) -> str | None:
        """The exception of a failed trial (``Type: message``), or None."""
        return self.reload()._record.error

    @property
    def traceback(self) -> str | None:
        return self.reload()._record.traceback

    @property
    def output(self) -> str:
        """The tail of the trial's stdout and stderr."""
        return self.reload()._record.output

    @property
    def gpus(self) -> tuple[str, ...]:
        """Inside a running trial: the GPUs its worker's slot gives it (``hpq worker --gpus``),
        as ``CUDA_VISIBLE_DEVICES`` names them; empty without GPU slots or outside the trial."""
        return current_devices() if self._token else ()

    @property
    def attempt_token(self) -> str:
        """The attempt this handle reports as ('' outside the trial running it)."""
        return self._token

    @property
    def record(self) -> dict[str, str]:
        """A fresh copy of the raw record (read from Redis); ``Store.record`` decodes it."""
        return dict(self.reload()._record.raw)

    def reload(self) -> Task:
        """Re-read the record; returns self."""
        self._record = self._store.record(self._id)
        return self

    # --------------------------------------------------------------- parameters
    def get_parameters(self) -> dict[str, Any]:
        """``{"Section/name": value}`` with values in their JSON types."""
        return dict(self.reload()._record.parameters)

    def get_parameter(self, name: str, default: Any = None) -> Any:
        full = name if "/" in name else f"{DEFAULT_SECTION}/{name}"
        return self.get_parameters().get(full, default)

    def update_parameters(self, parameters: Mapping[str, Any]) -> None:
        """Merge ``parameters`` into the task's (allowed while created or running).

        Raises InvalidTaskError for bad keys or non-JSON values, StatusConflictError once the
        task is queued or finished.
        """
        new = normalize_parameters(parameters)
        merged = {**self.get_parameters(), **new}
        fields = {"parameters": codec.dumps(merged)}
        self._store.set_fields(self._id, fields,
                               allowed=(TaskStatus.CREATED, TaskStatus.IN_PROGRESS))
        self._record = self._record.updated(fields)

    def set_parameters(self, parameters: Mapping[str, Any]) -> None:
        """Set the named parameters; unlike ClearML, parameters not named are kept.

        Same errors as :meth:`update_parameters`.
        """
        self.update_parameters(parameters)

    def connect(self, mutable: Any, name: str | None = None) -> Any:
        """Bind a dict of defaults to section ``name`` (default ``General``) and return it
        with the task's values.

        Values the task already has (a clone's) replace the defaults in ``mutable`` (in place);
        defaults the task lacks are written to it, so a base task records its parameters. In a
        script run by hand (``Task.init``) the code's values are written over the task's.
        Nested dicts map to ``Section/outer/inner``. An argparse parser, a Namespace, a class
        or an object connect too (see :func:`workers.clearml_task.connect_object`).
        """
        name = name or DEFAULT_SECTION
        if not isinstance(mutable, MutableMapping):
            return connect_object(self, mutable, name)
        flat = _flatten(mutable, name)
        if self._code_wins:
            if flat:
                self.update_parameters(flat)
            return mutable
        current = self.get_parameters()
        missing = {k: v for k, v in flat.items() if k not in current}
        _apply_overrides(mutable, name, current)
        if missing:
            self.update_parameters(missing)
        return mutable

    def pbt(self, **options: Any) -> PBTClient:
        """This trial's population-based-training client (:class:`workers.pbt.PBTClient`,
        ``options`` are its keyword arguments): the seed's ``save``/``should_exploit``/
        ``exploit``/``explore`` calls, answered by the optimizer's ``PBTServer`` strategy."""
        from .pbt import PBTClient

        return PBTClient(self, **options)

    # ------------------------------------------------------------------ status
    def _enqueue(self, queue: str = "default", queue_name: str | None = None) -> None:
        """Queue the task on a Celery queue (created -> queued) and send it to the workers.

        ``task.enqueue("q")``, or ClearML's ``Task.enqueue(task, queue_name="q")``.
        Raises StatusConflictError unless the task is ``created``; if the message cannot be
        sent the task goes back to ``created`` and the error is raised.
        """
        from .app import send_trial

        queue = queue_name or queue
        if not self.entry_point and not self.command:
            raise InvalidTaskError(f"task {self._id} has nothing to run (no entry point or "
                                   "command: Task.init in an interactive session)")
        if not isinstance(queue, str) or not queue:
            raise InvalidTaskError(f"queue must be a non-empty string, got {queue!r}")
        won, prev = self._store.transition(self._id, self.parent, [TaskStatus.CREATED],
                                           TaskStatus.QUEUED, fields={"queue": queue})
        if not won:
            if not prev:
                raise TaskNotFoundError(self._id)
            raise StatusConflictError(f"task {self._id} is {prev}; only a created task can be "
                                      "enqueued (clone it to run it again)")
        try:
            send_trial(self._id, queue, self.parent)
        except Exception:
            self._store.transition(self._id, self.parent, [TaskStatus.QUEUED],
                                   TaskStatus.CREATED, reason="enqueue failed")
            raise

    enqueue = hybridmethod(_enqueue, enqueue_task)

    def mark_stopped(self, reason: str | bool = "stopped by user",
                     status_message: str | None = None) -> StopOutcome:
        """Ask the task to stop.

        A created or queued task becomes ``stopped`` at once (and never starts); a running trial
        sees the request at its next report (or ``should_stop()``) and ends ``stopped``; the task
        ``Task.init`` returned in a script run by hand becomes ``stopped`` at once.
        Returns 'stopped', 'flagged' (running), or 'final' (already finished), as a
        :class:`StopOutcome`; TaskNotFoundError if the record is gone. ClearML's
        ``mark_stopped(force, status_message)`` works too.
        """
        if isinstance(reason, bool):  # ClearML's first argument is force
            reason = status_message or "stopped by user"
        if main_task() == self and self._code_wins:
            end_session(self, TaskStatus.STOPPED, reason)
            return StopOutcome.STOPPED
        outcome = self._store.request_stop(self._id, self.parent, reason)
        if outcome is StopOutcome.MISSING:
            raise TaskNotFoundError(self._id)
        return outcome

    def should_stop(self) -> bool:
        """True once a stop was requested for this task (in a trial, its next report raises
        TrialStopped)."""
        (stop,) = self._store.get_fields(self._id, "stop")
        if stop:
            self.learnt(stop=stop)
        return bool(stop)

    def learnt(self, *, stop: str = "", lost: bool = False) -> None:
        """What the worker learnt of this trial's attempt outside a report (its heartbeat, a
        stop check): a requested stop, or that the attempt was declared dead. The trial's next
        report raises it (TrialStopped, AttemptLostError). No effect outside a trial."""
        if self._token:
            self._report_queue().learnt(stop=stop,
                                        failure=lost_attempt(self._id) if lost else None)

    def check_stop(self) -> None:
        """Raise TrialStopped if a stop was requested (for loops that report rarely)."""
        if self.should_stop():
            raise TrialStopped(f"task {self._id}: stop requested")

    def wait_for_status(self, statuses: Iterable[TaskStatus | str] | None = None,
                        timeout: float | None = None, poll: float = 0.05) -> TaskStatus:
        """Block until the status is one of ``statuses`` (default: a final one).

        Raises TimeoutError after ``timeout`` seconds.
        """
        wanted = ({TaskStatus(s) for s in statuses} if statuses is not None
                  else {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.STOPPED})
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.status
            if status in wanted:
                return status
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"task {self._id} still {status} after {timeout}s")
            time.sleep(poll)

    def archive(self) -> None:
        self._store.set_fields(self._id, {"archived": "1"})

    def unarchive(self) -> None:
        self._store.set_fields(self._id, {"archived": "0"})

    def add_tags(self, tags: Iterable[str]) -> None:
        current = self.tags
        new = [*current, *[t for t in tags if t not in current]]
        self._store.set_fields(self._id, {"tags": codec.dumps(new)})

    def set_comment(self, comment: str) -> None:
        self._store.set_fields(self._id, {"comment": comment})

    def set_name(self, name: str) -> None:
        self._store.set_fields(self._id, {"name": name})
        self._record = self._record.updated({"name": name})

    # ----------------------------------------------------------------- scalars
    def get_logger(self) -> Logger:
        if self._logger is None:
            self._logger = Logger(self)
        return self._logger

    def _report(self, title: str, series: str, value: Any, iteration: int, *,
                overwrite: bool) -> None:
        number = codec.to_float(value, f"value of {title}/{series}")
        call = self._store.prepare_report(self._id, self.parent, self._token, title, series,
                                          iteration, number, overwrite=overwrite)
        if not self._token:  # a report from outside a trial: written now
            reported = self._store.write_report(call)
            if reported.status is ReportStatus.MISSING:
                raise TaskNotFoundError(self._id)
            return
        # a trial's report is sent, its reply read later (workers.reporting); what the earlier
        # replies said is raised here
        reports = self._report_queue()
        reports.raise_failure()
        reports.put(call)
        if reports.stop:
            raise TrialStopped(f"task {self._id}: {reports.stop}")

    def _report_queue(self) -> ReportQueue:
        if self._reports is None:
            self._reports = ReportQueue(self._id, self._store.report_pipe())
        return self._reports

    def flush(self, wait_for_uploads: bool = False, timeout: float | None = None) -> bool:
        """Wait until this trial's reports are written (ClearML's ``Task.flush``); False if
        ``timeout`` seconds passed first. Raises AttemptLostError or TaskNotFoundError if a
        reply said the attempt was lost or the record is gone, and an error that made a report
        fail.
        ``wait_for_uploads`` is accepted for ClearML (uploads are synchronous here)."""
        if self._reports is None:
            return True
        done = self._reports.flush(timeout)
        self._reports.raise_failure()
        return done

    def get_last_scalar_metrics(self) -> dict[str, dict[str, dict[str, float | int]]]:
        """``{title: {series: {"last", "min", "max", "iteration"}}}`` (this trial's reports
        written first)."""
        self.flush()
        return self._store.metrics(self._id)

    def get_reported_scalars(self) -> dict[str, dict[str, dict[str, list]]]:
        """The full history: ``{title: {series: {"x": iterations, "y": values}}}`` (this
        trial's reports written first)."""
        self.flush()
        return self._store.history(self._id)

    # ------------------------------------------------------ artifacts/checkpoints
    def _task_dir(self, kind: str) -> Path:
        return self.artifacts_path / kind

    @property
    def artifacts_path(self) -> Path:
        """The directory of this task's files: ``$HPQ_ARTIFACTS_DIR/<task id>`` (its artifacts,
        checkpoints and outputs; Polyaxon's ``run_artifacts_path``)."""
        return self._store.settings.artifacts_root / self._id

    def outputs_path(self) -> Path:
        """``artifacts_path / "outputs"``, created: where a trial writes its outputs (Polyaxon's
        ``run_outputs_path``)."""
        path = self._task_dir("outputs")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def template_context(self) -> dict[str, str]:
        """The ``{{ globals.KEY }}`` values of this task's command (:data:`CONTEXT_KEYS`):
        ``uuid`` and ``run_uuid`` (the task id), ``name``, ``project_name``,
        ``run_artifacts_path`` and ``run_outputs_path`` (created)."""
        values = {"uuid": self._id, "run_uuid": self._id, "name": self.name,
                  "project_name": self.project, "run_artifacts_path": str(self.artifacts_path),
                  "run_outputs_path": str(self.outputs_path())}
        return {CONTEXT_PREFIX + key: values[key] for key in CONTEXT_KEYS}

    def upload_artifact(self, name: str, artifact_object: Any) -> Artifact:
        """Register an artifact: an existing file or directory (copied) or a small JSON value.

        A ``Path`` must exist (FileNotFoundError); a ``str`` naming an existing file or
        directory is copied, any other JSON value (up to 1 MiB) is stored as it is.
        """
        if not isinstance(name, str) or not name:
            raise InvalidTaskError(f"artifact name must be a non-empty string, got {name!r}")
        if isinstance(artifact_object, Path) or (
                isinstance(artifact_object, str) and os.path.exists(artifact_object)):
            dest = _copy_atomically(Path(artifact_object), self._task_dir("artifacts") / name)
            desc = {"type": "file", "path": str(dest)}
        else:
            text = codec.dumps(artifact_object, f"artifact {name!r}")
            if len(text) > _MAX_JSON_ARTIFACT:
                raise InvalidTaskError(f"artifact {name!r} is {len(text)} bytes of JSON; store "
                                       "values over 1 MiB as a file")
            desc = {"type": "json", "value": artifact_object}
        self._store.set_artifact(self._id, name, desc)
        return Artifact(name, desc["type"], desc.get("path"), desc.get("value"))

    @property
    def artifacts(self) -> dict[str, Artifact]:
        return {name: Artifact(name, d["type"], d.get("path"), d.get("value"))
                for name, d in self._store.artifacts(self._id).items()}

    def save_checkpoint(self, path: str | os.PathLike[str], iteration: int | None = None) -> Path:
        """Copy a checkpoint file or directory to the task's storage; returns the stored path.

        The copy is complete before it is registered, so a crash never leaves a half-written
        checkpoint behind. FileNotFoundError if ``path`` does not exist.
        """
        src = Path(path)
        if not src.exists():
            raise FileNotFoundError(f"checkpoint {src} does not exist")
        index = len(self._store.checkpoints(self._id))
        dest = _copy_atomically(src, self._task_dir("checkpoints") / f"{index:06d}" / src.name)
        self._store.push_checkpoint(self._id, {"path": str(dest), "iteration": iteration,
                                               "created": time.time()})
        return dest

    def latest_checkpoint(self) -> Path | None:
        """The newest checkpoint of this task, else of the task it continues from, else None.

        A trial that continues another (Hyperband's resume, population-based training) has
        ``continue_from`` on its record; the chain is followed back to the newest checkpoint.
        """
        seen: set[str] = set()
        task_id: str | None = self._id
        while task_id and task_id not in seen:
            seen.add(task_id)
            checkpoints = self._store.checkpoints(task_id)
            if checkpoints:
                return Path(checkpoints[-1]["path"])
            (task_id,) = self._store.get_fields(task_id, "continue_from")
        return None

    def __repr__(self) -> str:
        return f"<Task {self._id} {self.name!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Task) and other._id == self._id

    def __hash__(self) -> int:
        return hash(self._id)


def clone_record(src: TaskRecord | Mapping[str, str], *, name: str | None = None,
                 parent: str | None = None, project: str | None = None,
                 comment: str | None = None, parameters: Mapping[str, Any] | None = None,
                 tags: Iterable[str] | None = None, extra: Mapping[str, str] | None = None,
                 task_id: str | None = None) -> dict[str, str]:
    """The record of a new ``created`` clone of the record ``src`` (nothing is written);
    ``task_id`` chooses the clone's id (default: a fresh one).

    Raises InvalidTaskError for bad parameters, PlaceholderError when the source's command
    references a parameter the clone lacks.
    """
    if not isinstance(src, TaskRecord):
        src = TaskRecord.from_raw(src)
    params = {**src.parameters, **normalize_parameters(parameters)}
    record = Task._base_record(
        project if project is not None else src.project, name or f"{src.name or 'task'} (clone)",
        src.type, src.comment if comment is None else comment,
        [*src.tags, *[t for t in (tags or []) if t not in src.tags]], params, task_id)
    if src.entry_point:
        record["entry_point"] = src.entry_point
    if src.command:
        missing = sorted(placeholders(src.command) - set(params))
        if missing:
            raise PlaceholderError(f"command placeholder(s) {missing} match no parameter")
        record["command"] = codec.dumps(list(src.command))
    if src.working_dir:
        record["working_dir"] = src.working_dir
    for field in SCRIPT_FIELDS:  # a Task.init script's, and its configuration objects
        if src.raw.get(field):
            record[field] = src.raw[field]
    record["parent"] = parent if parent is not None else src.id
    record["source"] = src.id
    record.update(extra or {})
    return record


def _apply_overrides(mutable: MutableMapping[str, Any], prefix: str,
                     values: Mapping[str, Any]) -> None:
    for key, default in list(mutable.items()):
        full = f"{prefix}/{key}"
        if isinstance(default, MutableMapping) and default:
            _apply_overrides(default, full, values)
        elif full in values:
            mutable[key] = _as_type_of(default, values[full])


def _as_type_of(default: Any, value: Any) -> Any:
    """``value`` read back as a date or time when the default is one (JSON holds a date as
    its text, ``str(value)``)."""
    if isinstance(value, str) and isinstance(default, (date, datetime)):
        try:
            return (datetime if isinstance(default, datetime) else date).fromisoformat(value)
        except ValueError:
            raise InvalidTaskError(f"parameter value {value!r} is not a "
                                   f"{type(default).__name__} like the default {default!r}"
                                   ) from None
    return value


def _copy_atomically(src: Path, dest: Path) -> Path:
    """Copy ``src`` (file or directory) to ``dest`` via a temporary name and a rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    if src.is_dir():
        shutil.copytree(src, tmp)
    else:
        shutil.copy2(src, tmp)
    if dest.exists():
        if dest.is_dir():
            shutil.rmtree(dest)
        else:
            dest.unlink()
    os.replace(tmp, dest)
    return dest


def bind_current(task: Task | None) -> None:
    """Make ``task`` what :meth:`Task.current_task` returns in this process (used by workers);
    unbinding a trial also ends a ``Task.init`` session of it."""
    global _current
    if task is None and _current is not None:
        release_trial(_current.id)
    _current = task


__all__ = [
    "Artifact",
    "Logger",
    "Task",
    "bind_current",
    "clone_record",
    "full_name",
    "new_task_id",
    "normalize_parameters",
    "short_name",
]
