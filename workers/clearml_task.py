"""ClearML's ``Task`` workflow on hpqueue records (mixed into :class:`workers.task.Task`).

A script that calls ``Task.init(project_name, task_name)``:

* **run by hand**, records a task: its script (path, interpreter, arguments and working
  directory: the command a worker runs to repeat it), its parameters (``connect``, argparse), its
  scalars and its status. The task is ``in_progress`` while the script runs and ends
  ``completed`` when the process exits (``failed`` after an uncaught exception or a non-zero
  ``sys.exit``, ``stopped`` after Ctrl-C). Such a task is a base task: ``HyperParameterOptimizer``
  clones it and each clone runs the same script on a worker. The code's values are recorded
  (``connect``, argparse): they win over what the task held before.
* **run by a worker** (a clone, or a task sent with :meth:`ClearMLTaskAPI.execute_remotely`),
  returns the task the worker runs: its parameters win over the code's defaults and its status
  is the worker's to set (from the script's exit code).

``reuse_last_task_id=True`` (ClearML's default) reuses the task this machine's last run of the
same project, name and type made (within 24 hours; the list is ``$HPQ_HOME/task_sessions.json``)
unless it has artifacts or children, is archived, or was sent to a worker since: its parameters,
scalars and configuration objects are cleared. ``continue_last_task`` keeps them, and the new
reports continue after the last iteration. ``Task.init`` called again in the same process returns
the same task. ClearML options hpqueue has no use for (``output_uri``,
``auto_connect_frameworks``, ...) are accepted and ignored with one debug line.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import json
import logging
import os
import re
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from . import argparse_capture, codec, reporting
from .errors import (
    AttemptLostError,
    InvalidTaskError,
    NoMatchingTaskError,
    StatusConflictError,
    TaskNotFoundError,
    TrialStopped,
)
from .status import TaskStatus
from .store import Store, get_store

if TYPE_CHECKING:
    from .task import Task

log = logging.getLogger("hpqueue.task")

DEFAULT_SECTION = "General"
#: Record field holding the configuration objects (``connect_configuration``), JSON.
CONFIG_FIELD = "config_objects"
#: Record fields a clone copies besides the command and working directory.
SCRIPT_FIELDS = ("script", "interpreter", CONFIG_FIELD)
#: How long a task stays reusable by ``reuse_last_task_id`` (ClearML's window).
REUSE_WINDOW = 24 * 3600.0
_ANY_STATUS = (TaskStatus.CREATED, TaskStatus.QUEUED, TaskStatus.IN_PROGRESS,
               TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.STOPPED)


class TaskTypes(str, Enum):
    """ClearML's task types (``Task.TaskTypes.optimizer``); stored as their value."""

    training = "training"
    testing = "testing"
    inference = "inference"
    data_processing = "data_processing"
    application = "application"
    monitor = "monitor"
    controller = "controller"
    optimizer = "optimizer"
    service = "service"
    qc = "qc"
    custom = "custom"

    def __str__(self) -> str:
        return self.value


def task_type_value(task_type: TaskTypes | str | None) -> str:
    """The stored type of ``task_type``; ValueError listing the types for an unknown one."""
    if task_type is None:
        return TaskTypes.training.value
    value = task_type.value if isinstance(task_type, TaskTypes) else task_type
    if value not in TaskTypes.__members__:
        raise ValueError(f"task type {task_type!r} is not one of "
                         f"{', '.join(TaskTypes.__members__)}")
    return str(value)


_TaskType = TaskTypes


# ============================================================= the process's task
class _Session:
    """The task ``Task.init`` returned in this process, and (for a task run by hand) the hooks
    that give it its final status when the process ends."""

    def __init__(self, task: Task, *, remote: bool) -> None:
        self.task = task
        self.remote = remote
        self.exit_code: Any = None
        self.error: BaseException | None = None
        self.error_text = ""
        self._hooked = False
        self._previous_excepthook: Callable[..., Any] = sys.excepthook
        self._previous_exit: Callable[..., NoReturn] = sys.exit

    # -------------------------------------------------------------- exit hooks
    def hook(self) -> None:
        """Watch for an uncaught exception and ``sys.exit``, and finish the task at exit."""
        self._previous_excepthook = sys.excepthook
        self._previous_exit = sys.exit
        sys.excepthook = self._excepthook
        sys.exit = self._exit  # type: ignore[assignment]
        atexit.register(self.finish)
        self._hooked = True

    def unhook(self) -> None:
        """Undo :meth:`hook` (the task is no longer this process's to finish)."""
        if not self._hooked:
            return
        if sys.excepthook == self._excepthook:
            sys.excepthook = self._previous_excepthook
        if sys.exit == self._exit:
            sys.exit = self._previous_exit  # type: ignore[assignment]
        atexit.unregister(self.finish)
        self._hooked = False

    def _excepthook(self, kind: type[BaseException], exc: BaseException,
                    tb: TracebackType | None) -> None:
        self.error = exc
        self.error_text = "".join(traceback.format_exception(kind, exc, tb))
        self._previous_excepthook(kind, exc, tb)

    def _exit(self, code: Any = None) -> NoReturn:
        self.exit_code = code
        self._previous_exit(code)

    def finish(self) -> None:
        """Give a task run by hand its final status (at exit; only while it is in progress)."""
        self.unhook()
        status, reason, fields = TaskStatus.COMPLETED, "", {}
        if isinstance(self.error, KeyboardInterrupt):
            status, reason = TaskStatus.STOPPED, "KeyboardInterrupt"
        elif self.error is not None:
            status = TaskStatus.FAILED
            reason = f"{type(self.error).__name__}: {self.error}"
            fields = {"error": reason, "traceback": self.error_text[-20000:]}
        elif self.exit_code not in (None, 0):
            status, reason = TaskStatus.FAILED, f"exit code {self.exit_code}"
            fields = {"error": f"SystemExit: {self.exit_code}"}
        try:
            task = self.task
            task._store.transition(task.id, task.parent, [TaskStatus.IN_PROGRESS], status,
                                   reason=reason, fields=fields)
        except Exception as exc:  # noqa: BLE001 - at exit Redis may be gone: say so, never raise
            log.warning("task %s: final status not written: %s", self.task.id, exc)


_session: _Session | None = None
_lock = threading.RLock()


def main_task() -> Task | None:
    """The task ``Task.init`` returned in this process (None before, or after ``close()``)."""
    return _session.task if _session is not None else None


def _is_main(task: Task, *, remote: bool | None = None) -> bool:
    s = _session
    return s is not None and s.task.id == task.id and (remote is None or s.remote == remote)


def init_task(cls: type[Task], project_name: str | None, task_name: str | None,
              task_type: TaskTypes | str | None, tags: Sequence[str] | None,
              reuse_last_task_id: bool | str, continue_last_task: bool | str | int,
              auto_connect_arg_parser: bool | Mapping[str, bool],
              options: Mapping[str, Any]) -> Task:
    """``Task.init`` (see the module docstring)."""
    global _session
    if options:
        log.debug("Task.init: ignoring ClearML option(s) %s", ", ".join(sorted(options)))
    kind = task_type_value(task_type)
    include = argparse_capture.include_filter(auto_connect_arg_parser)
    with _lock:
        current = cls.current_task()
        if _session is not None and (current is None or current.id == _session.task.id):
            _check_same(_session.task, project_name, task_name)
            return _session.task
        if current is not None:  # a worker runs this script (or function) as a trial
            session = _Session(current, remote=True)
            if os.environ.get("HPQ_TASK_ID") == current.id and current.attempt_token:
                _watch_attempt(current)
                _quiet_stops()
        else:
            task = _local_task(cls, project_name, task_name, kind, tags, reuse_last_task_id,
                               continue_last_task)
            session = _Session(task, remote=False)
            session.hook()
            from .task import bind_current

            bind_current(task)
        session.task._code_wins = not session.remote
        _session = session
        argparse_capture.bind(argparse_capture.ArgsBinding(
            session.task, remote=session.remote, include=include) if include else None)
        return session.task


def _quiet_stops() -> None:
    """In a script a worker runs as a command: a stop (TrialStopped out of ``report_scalar``)
    that ends the script prints one line, not a traceback (the worker records the stop)."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if isinstance(exc, (TrialStopped, AttemptLostError)):
            print(f"hpqueue: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        else:
            previous(kind, exc, tb)

    sys.excepthook = hook


def _watch_attempt(task: Task) -> None:
    """In a script a worker runs as a command: end the process once its worker is gone (the
    process was reparented) or its attempt was declared dead, so that a lost controller never
    goes on beside the attempt that replaces it."""
    parent = os.getppid()
    period = max(0.2, task._store.settings.heartbeat_interval)

    def watch() -> None:
        while True:
            time.sleep(period)
            if os.getppid() != parent:
                reason = "its worker is gone"
            else:
                try:
                    (attempt,) = task._store.get_fields(task.id, "attempt")
                except Exception as exc:  # noqa: BLE001 - a Redis blip: the next look decides
                    log.debug("task %s: attempt not read: %s", task.id, exc)
                    continue
                if attempt == task.attempt_token:
                    continue
                reason = "its attempt was declared dead"
            log.warning("task %s: %s; this process ends", task.id, reason)
            os._exit(70)

    threading.Thread(target=watch, name="hpq-attempt-watch", daemon=True).start()


def end_session(task: Task, status: TaskStatus | None, reason: str = "") -> bool:
    """Release ``task`` if it is this process's ``Task.init`` task: by hand, give it ``status``
    (None: the at-exit rule) with ``reason`` now instead of at exit. Returns whether it was."""
    global _session
    with _lock:
        s = _session
        if s is None or s.task.id != task.id:
            return False
        _session = None
        argparse_capture.bind(None)
        if s.remote:
            return True
        if status is None:
            s.finish()
        else:
            s.unhook()
            task._store.transition(task.id, task.parent, [TaskStatus.IN_PROGRESS], status,
                                   reason=reason)
        from .task import bind_current

        bind_current(None)
        return True


def _check_same(task: Task, project: str | None, name: str | None) -> None:
    if (project is not None and project != task.project) or (name is not None
                                                               and name != task.name):
        log.warning("Task.init was already called in this process: returning task %s (%s/%s), "
                    "not a new %s/%s (close() it first for a new one)", task.id, task.project,
                    task.name, project, name)


# ================================================================ local tasks
def _local_task(cls: type[Task], project: str | None, name: str | None, kind: str,
                tags: Sequence[str] | None, reuse: bool | str, cont: bool | str | int) -> Task:
    store = get_store()
    script = script_info()
    project = project if project is not None else _default_project(script)
    name = name or Path(script.get("script") or "untitled").stem
    if isinstance(cont, str):
        reuse, cont = cont, True
    key = _session_key(store, project, name, kind)
    reuse_id = reuse if isinstance(reuse, str) and reuse else None
    if reuse_id is None and reuse is True:
        last = _last_used(store, key)
        if last is not None and _reusable(store, last, project, name, kind):
            reuse_id = last
    now = time.time()
    if reuse_id is not None:
        task = _restart(cls, store, reuse_id, script, tags, keep=cont is not False)
        word = "continuing" if cont is not False else "reusing"
    else:
        record = cls._base_record(project, name, kind, "", tags, {})
        record.update(script)
        record["origin"] = "init"
        store.create(record)
        store.transition(record["id"], None, [TaskStatus.CREATED], TaskStatus.IN_PROGRESS,
                         fields={"started": repr(now)})
        task = cls(record["id"], store=store)
        word = "created new"
    if cont is not False and not isinstance(cont, bool):
        task._iteration_offset = int(cont)
    elif cont is True:
        task._iteration_offset = 1 + int(max(
            (s.get("iteration", -1) for series in task.get_last_scalar_metrics().values()
             for s in series.values()), default=-1))
    _remember(store, key, task.id)
    print(f"hpqueue Task: {word} task id={task.id} ({project}/{name})", flush=True)
    return task


def _restart(cls: type[Task], store: Store, task_id: str, script: Mapping[str, str],
             tags: Sequence[str] | None, *, keep: bool) -> Task:
    """Run ``task_id`` again by hand: in progress, with this run's script; its outputs cleared
    unless ``keep`` (``continue_last_task``)."""
    task = cls(task_id, store=store)
    fields = {**script, "origin": "init", "status_reason": "", "stop": "", "completed": "",
              "started": repr(time.time())}
    if not keep:
        fields.update({"parameters": "{}", CONFIG_FIELD: "{}", "error": "", "traceback": "",
                       "output": ""})
        store.redis.delete(store.keys.metrics(task_id), store.keys.history(task_id))
    store.set_fields(task_id, fields)
    won, prev = store.transition(task_id, task.parent, _ANY_STATUS[:1] + _ANY_STATUS[2:],
                                 TaskStatus.IN_PROGRESS)
    if not won:
        raise StatusConflictError(f"task {task_id} is {prev}: it cannot be run by hand now")
    if tags:
        task.add_tags(tags)
    return task.reload()


def _reusable(store: Store, task_id: str, project: str, name: str, kind: str) -> bool:
    """ClearML's rule: the same project/name/type, never sent to a worker, not archived, no
    artifacts; and (hpqueue) no children, whose results a reset would orphan."""
    try:
        rec = store.record(task_id)
    except TaskNotFoundError:
        return False
    return (rec.project == project and rec.name == name and rec.type == kind
            and rec.raw.get("origin") == "init" and not rec.archived
            and rec.status is not TaskStatus.QUEUED and not store.artifacts(task_id)
            and not store.find(parent=task_id))


def _session_file(store: Store) -> Path:
    return store.settings.home / "task_sessions.json"


def _session_key(store: Store, project: str, name: str, kind: str) -> str:
    return json.dumps([store.url or "", store.keys.ns, project, name, kind])


def _load_sessions(store: Store) -> dict[str, Any]:
    try:
        data = json.loads(_session_file(store).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _last_used(store: Store, key: str) -> str | None:
    entry = _load_sessions(store).get(key)
    if not isinstance(entry, dict) or time.time() - float(entry.get("time", 0)) > REUSE_WINDOW:
        return None
    return str(entry.get("id")) or None


def _remember(store: Store, key: str, task_id: str) -> None:
    now = time.time()
    sessions = {k: v for k, v in _load_sessions(store).items()
                if isinstance(v, dict) and now - float(v.get("time", 0)) <= REUSE_WINDOW}
    sessions[key] = {"id": task_id, "time": now}
    path = _session_file(store)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(sessions))
        os.replace(tmp, path)
    except OSError as exc:  # reuse is a convenience: never fail Task.init for it
        log.debug("task sessions not saved to %s: %s", path, exc)


def script_info() -> dict[str, str]:
    """What a worker needs to run this process's script again: ``command`` (interpreter, script
    or ``-m module``, arguments), ``script``, ``interpreter`` and ``working_dir``; only the
    working directory in an interactive session (nothing to run)."""
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    info = {"working_dir": os.getcwd()}
    if not file:
        return info
    spec = getattr(main, "__spec__", None)
    path = os.path.abspath(file)
    target = ["-m", spec.name] if spec is not None and spec.name != "__main__" else [path]
    info.update({"script": path, "interpreter": sys.executable,
                 "command": codec.dumps([sys.executable, *target, *sys.argv[1:]])})
    return info


def _default_project(script: Mapping[str, str]) -> str:
    """ClearML's default project: the name of the script's git repository, else 'Untitled'."""
    here = Path(script.get("script") or script["working_dir"]).resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder.name
    return "Untitled"


def script_command(record: Mapping[str, str], argv: list[str]) -> list[str]:
    """The command of a ``Task.init`` task as this worker runs it.

    Raises FileNotFoundError naming the script when it is not on this machine. An interpreter
    this machine lacks is replaced by the worker's own.
    """
    script = record.get("script")
    if not script:
        return argv
    if not os.path.isfile(script):
        raise FileNotFoundError(
            f"script {script} of task {record.get('id', '?')} not found on worker "
            f"{socket.gethostname()} (recorded by Task.init in {record.get('working_dir')}); "
            "put the code at the same path on every worker")
    if argv and argv[0] == record.get("interpreter") and not os.path.exists(argv[0]):
        return [sys.executable, *argv[1:]]
    return argv


# ===================================================================== searches
def find_task_id(store: Store, project_name: str | None, task_name: str | None) -> str:
    """The id of the latest task (by last update) of a project named exactly ``task_name``; a
    non-archived one if there is any. NoMatchingTaskError names both when none matches."""
    if project_name is None and task_name is None:
        raise ValueError("Task.get_task needs task_id, or project_name and/or task_name")
    ids = store.find(project=project_name)
    found = [(not rec.archived, rec.last_update or rec.created, i)
             for i, rec in zip(ids, store.records(ids))
             if rec is not None and (task_name is None or rec.name == task_name)]
    if not found:
        raise NoMatchingTaskError(project_name, task_name)
    return max(found)[2]


def name_matches(pattern: str | None) -> Callable[[str], bool]:
    """ClearML's ``task_name`` filter of ``get_tasks``: a regular expression searched in the
    name (``^...$`` for an exact match)."""
    if pattern is None:
        return lambda name: True
    regex = re.compile(pattern)
    return lambda name: regex.search(name) is not None


# ======================================================================= connect
def connect_object(task: Task, obj: Any, section: str) -> Any:
    """``task.connect`` of an argparse parser (section ``Args``), a Namespace, a class or an
    instance (its public attributes of basic types, in ``section``); returns ``obj`` with the
    task's values where they win (a trial).

    Raises InvalidTaskError for anything else.
    """
    if isinstance(obj, argparse.ArgumentParser):
        namespace = argparse_capture.parsed_namespace(obj)
        if namespace is None:
            namespace = argparse.Namespace(**{a.dest: a.default for a in obj._actions
                                              if a.dest != argparse.SUPPRESS})
        argparse_capture.ArgsBinding(task, remote=not task._code_wins,
                                     include=lambda dest: True).connect(obj, namespace)
        return obj
    if obj is None or isinstance(obj, (str, bytes, int, float, bool, list, tuple, set)):
        raise InvalidTaskError(f"connect() takes a dict, an argparse parser or Namespace, a "
                               f"class or an object; got {type(obj).__name__}")
    attrs = _public_attributes(obj)
    values = task.connect(dict(attrs), section)
    for key, value in values.items():
        if attrs[key] != value:
            setattr(obj, key, value)
    return obj


def _public_attributes(obj: Any) -> dict[str, Any]:
    """ClearML's ``_connect_object``: public attributes of basic, JSON-able types (a class's
    across its MRO, an instance's own)."""
    sources = [vars(c) for c in reversed(obj.__mro__)] if isinstance(obj, type) else [vars(obj)]
    out: dict[str, Any] = {}
    for namespace in sources:
        for key, value in namespace.items():
            if key.startswith("_") or not isinstance(
                    value, (int, float, str, bool, list, tuple, dict, type(None))):
                continue
            try:
                codec.dumps(value)
            except InvalidTaskError:
                continue
            out[key] = value
    return out


def parameters_as_text(value: Any) -> str:
    """A parameter as ClearML stores it (text; ``''`` for None)."""
    return "" if value is None else value if isinstance(value, str) else str(value)


def nested(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"A/b/c": v}`` -> ``{"A": {"b": {"c": v}}}`` (ClearML's
    ``naive_nested_from_flat_dictionary``)."""
    out: dict[str, Any] = {}
    for key in sorted(flat):
        *outer, last = key.split("/")
        node = out
        for part in outer:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                child = node[part] = {"": child}
            node = child
        node[last] = flat[key]
    return out


def hybridmethod(on_instance: Callable[..., Any], on_class: Callable[..., Any]) -> Any:
    """A method that works on an instance (``task.enqueue("q")``) and on the class, ClearML's
    form (``Task.enqueue(task, queue_name="q")``)."""

    class _Hybrid:
        def __get__(self, obj: Any, owner: type) -> Callable[..., Any]:
            if obj is None:
                return functools.partial(on_class, owner)
            return functools.partial(on_instance, obj)

    return _Hybrid()


# ===================================================================== the mixin
class ClearMLTaskAPI:
    """ClearML's ``Task`` methods that :class:`workers.task.Task` gets from this module."""

    TaskTypes = TaskTypes

    _store: Store
    _code_wins: bool
    _iteration_offset: int

    @classmethod
    def init(cls, project_name: str | None = None, task_name: str | None = None,
             task_type: _TaskType | str | None = _TaskType.training,
             tags: Sequence[str] | None = None, reuse_last_task_id: bool | str = True,
             continue_last_task: bool | str | int = False,
             auto_connect_arg_parser: bool | Mapping[str, bool] = True,
             **options: Any) -> Task:
        """The task of this process (see :mod:`workers.clearml_task`).

        Raises ValueError for an unknown ``task_type``; TaskNotFoundError for a
        ``reuse_last_task_id``/``continue_last_task`` id that does not exist.
        """
        return init_task(cls, project_name, task_name, task_type, tags,  # type: ignore[arg-type]
                         reuse_last_task_id, continue_last_task, auto_connect_arg_parser,
                         options)

    def is_main_task(self: Task) -> bool:  # type: ignore[misc]
        """True for the task ``Task.init`` returned in this process."""
        return _is_main(self)

    def get_project_name(self: Task) -> str:  # type: ignore[misc]
        return self.project

    # ---------------------------------------------------------- remote execution
    def execute_remotely(self: Task, queue_name: str | None = None,  # type: ignore[misc]
                         clone: bool = False, exit_process: bool = True) -> Task | None:
        """Send this script to a worker of ``queue_name`` and (by default) end this process.

        In the script run by a worker it does nothing (returns None). On the task ``Task.init``
        returned: with ``clone=False`` the task itself is queued (the process must exit:
        ``exit_process=False`` is a ValueError), with ``clone=True`` a clone is; without a
        ``queue_name`` the task goes back to ``created`` and the process exits. On any other
        task it enqueues the task (or a clone). Logs a warning, and still enqueues, when no live
        worker consumes the queue.
        """
        from .task import Task

        if _is_main(self, remote=True):
            return None
        if not _is_main(self):
            log.warning("execute_remotely is for the task Task.init returned; enqueueing task "
                        "%s on %r instead", self.id, queue_name)
            if not queue_name:
                raise ValueError("execute_remotely of a task other than Task.init's needs "
                                 "queue_name")
            target = Task.clone(source_task=self) if clone else self
            warn_if_no_worker(self._store, queue_name)
            target.enqueue(queue_name)
            return target
        if not clone and not exit_process:
            raise ValueError("execute_remotely(clone=False) sends this very task to a worker: "
                             "this process must exit (exit_process=True)")
        if queue_name:
            warn_if_no_worker(self._store, queue_name)
        if clone:
            target = Task.clone(source_task=self)
            if queue_name:
                target.enqueue(queue_name)
        else:
            target = self
            _hand_over(self, queue_name)
        if exit_process:
            leave_process(0)
        return target

    # ------------------------------------------------------------ configuration
    def connect_configuration(self: Task, configuration: Any,  # type: ignore[misc]
                              name: str | None = None,
                              description: str | None = None) -> Any:
        """Store a configuration object (a dict/list, or a file's text) as ``name`` (default
        ``General``) and return it; in a trial, the trial's stored object wins: a dict is
        updated in place, a file is written to a temporary file whose path is returned.

        Raises FileNotFoundError for a path that does not exist, InvalidTaskError for another
        type or a value JSON cannot hold.
        """
        section = name or DEFAULT_SECTION
        stored = self.get_configuration_objects().get(section)
        if isinstance(configuration, (dict, list)):
            if not self._code_wins and stored is not None and stored["type"] == "dictionary":
                value = stored["value"]
                if isinstance(configuration, dict) and isinstance(value, dict):
                    configuration.clear()
                    configuration.update(value)
                    return configuration
                return value
            self._set_configuration_object(section, {"type": "dictionary",
                                                     "value": configuration,
                                                     "description": description or ""})
            return configuration
        if isinstance(configuration, (str, Path)):
            if not self._code_wins and stored is not None and stored["type"] == "file":
                suffix = Path(stored.get("file_name") or "config").suffix
                fd, tmp = tempfile.mkstemp(prefix="hpq_config_", suffix=suffix)
                with os.fdopen(fd, "w") as f:
                    f.write(stored["value"])
                return Path(tmp) if isinstance(configuration, Path) else tmp
            path = Path(configuration)
            if not path.is_file():
                raise FileNotFoundError(f"configuration file {path} does not exist")
            self._set_configuration_object(section, {"type": "file", "value": path.read_text(),
                                                     "file_name": path.name,
                                                     "description": description or ""})
            return configuration
        raise InvalidTaskError(f"connect_configuration takes a dict, a list or a file path, got "
                               f"{type(configuration).__name__}")

    def get_configuration_objects(self: Task) -> dict[str, Any]:  # type: ignore[misc]
        """``{name: {"type": "dictionary"|"file", "value": ..., "description": ...}}``."""
        return codec.loads(self.record.get(CONFIG_FIELD), {})

    def get_configuration_object_as_dict(self: Task, name: str  # type: ignore[misc]
                                         ) -> Any:
        """The stored dict/list of configuration object ``name`` (None if there is none)."""
        stored = self.get_configuration_objects().get(name)
        return stored["value"] if stored and stored["type"] == "dictionary" else None

    def _set_configuration_object(self: Task, name: str,  # type: ignore[misc]
                                  entry: Mapping[str, Any]) -> None:
        objects = {**self.get_configuration_objects(), name: dict(entry)}
        self._store.set_fields(self.id, {CONFIG_FIELD: codec.dumps(
            objects, f"configuration object {name!r}")})

    # --------------------------------------------------------------- parameters
    def get_parameters_as_dict(self: Task, cast: bool = False  # type: ignore[misc]
                               ) -> dict[str, Any]:
        """The parameters nested by section (``{"General": {"lr": ...}}``); as text (ClearML's
        default) unless ``cast``."""
        params = self.get_parameters()
        if not cast:
            params = {k: parameters_as_text(v) for k, v in params.items()}
        return nested(params)

    def set_parameter(self: Task, name: str, value: Any,  # type: ignore[misc]
                      description: str | None = None, value_type: Any = None) -> None:
        """Set one parameter (``"lr"`` means ``"General/lr"``); a value JSON cannot hold is
        stored as its text."""
        self.update_parameters(argparse_capture.json_values({name: value}))

    # ------------------------------------------------------------------ status
    def mark_completed(self: Task, ignore_errors: bool = True,  # type: ignore[misc]
                       status_message: str | None = None, force: bool = False) -> None:
        """Mark the task completed. For this process's ``Task.init`` task that also ends the
        process (ClearML's behaviour; a trial ends completed); see :func:`set_final_status`."""
        if _is_main(self):
            if not _is_main(self, remote=True):
                end_session(self, TaskStatus.COMPLETED)
            leave_process(0)
        set_final_status(self, TaskStatus.COMPLETED, status_message or "marked completed",
                         force=force, ignore_errors=ignore_errors)

    def mark_failed(self: Task, ignore_errors: bool = True,  # type: ignore[misc]
                    status_reason: str | None = None, status_message: str | None = None,
                    force: bool = False) -> None:
        """Mark the task failed with ``status_reason`` (stored as its error too)."""
        reason = status_reason or status_message or "marked failed"
        set_final_status(self, TaskStatus.FAILED, reason, force=force,
                         ignore_errors=ignore_errors, fields={"error": reason})

    def close(self: Task) -> None:  # type: ignore[misc]
        """End this process's ``Task.init`` task now: run by hand it is completed (unless already
        final), its exit hooks are removed, and ``Task.init`` may make a new task; other tasks
        have nothing to close."""
        end_session(self, None)


def set_final_status(task: Task, status: TaskStatus, reason: str, *, force: bool,
                     ignore_errors: bool, fields: Mapping[str, str] | None = None) -> None:
    """Move ``task`` to a final ``status``: from created, queued or in progress (any status
    with ``force``). A worker running it loses its claim (its writes are refused from then on).

    Raises StatusConflictError when the move is not allowed, unless ``ignore_errors``.
    """
    allowed = _ANY_STATUS if force else _ANY_STATUS[:3]
    if task._reports is not None:  # the trial's reports come before its final status
        task._reports.flush()
    won, prev = task._store.transition(task.id, task.parent, allowed, status, reason=reason,
                                       fields=fields)
    if not won and not ignore_errors:
        if not prev:
            raise TaskNotFoundError(task.id)
        raise StatusConflictError(f"task {task.id} is {prev}; use force=True to mark it "
                                  f"{status.value}")


def enqueue_task(cls: type[Task], task: Task | str, queue_name: str | None = None,
                 queue_id: str | None = None, force: bool = False) -> dict[str, Any]:
    """ClearML's ``Task.enqueue(task, queue_name=)``: queue a created task (or, with ``force``, a
    finished one, which goes back to created first) on a Celery queue."""
    target = task if isinstance(task, cls) else cls.get_task(task)  # type: ignore[arg-type]
    queue = queue_name or queue_id
    if not queue:
        raise ValueError("Task.enqueue needs queue_name")
    if force:
        target._store.transition(target.id, target.parent,
                                 [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.STOPPED],
                                 TaskStatus.CREATED, reason="enqueued again")
    target.enqueue(queue)
    return {"queued": 1, "updated": 1, "fields": {"status": TaskStatus.QUEUED.value,
                                                  "execution.queue": queue}}


def _hand_over(task: Task, queue_name: str | None) -> None:
    """Give this process's task to the workers of ``queue_name`` (or back to ``created``)."""
    global _session
    from .app import send_trial
    from .task import bind_current

    with _lock:
        if _session is not None and _session.task.id == task.id:
            _session.unhook()
            _session = None
            argparse_capture.bind(None)
            bind_current(None)
    allowed = [TaskStatus.CREATED, TaskStatus.IN_PROGRESS, TaskStatus.STOPPED,
               TaskStatus.FAILED, TaskStatus.COMPLETED]
    if not queue_name:
        task._store.transition(task.id, task.parent, allowed, TaskStatus.CREATED,
                               reason="left for remote execution", fields={"origin": "remote"})
        return
    won, prev = task._store.transition(task.id, task.parent, allowed, TaskStatus.QUEUED,
                                       reason="execute_remotely",
                                       fields={"queue": queue_name, "origin": "remote"})
    if not won:
        raise StatusConflictError(f"task {task.id} is {prev}: it cannot be queued")
    send_trial(task.id, queue_name, task.parent)
    print(f"hpqueue Task: task id={task.id} queued on {queue_name!r}; this process leaves",
          flush=True)


def warn_if_no_worker(store: Store, queue: str) -> bool:
    """Log a warning when no live worker consumes ``queue``; returns whether one does."""
    from .sweep import live_workers

    try:
        busy = any(queue in queues for queues in live_workers(store).values())
    except Exception as exc:  # noqa: BLE001 - a check for the user's benefit only
        log.debug("live workers not read: %s", exc)
        return True
    if not busy:
        log.warning("no live worker consumes queue %r: the task waits there until one starts "
                    "(hpq worker -Q %s)", queue, queue)
    return busy


def leave_process(code: int) -> NoReturn:
    """End this process with ``code`` (SystemExit in the main thread, else at once)."""
    sys.stdout.flush()
    sys.stderr.flush()
    if threading.current_thread() is threading.main_thread():
        raise SystemExit(code)
    reporting.drain()  # os._exit skips the exit hooks that write the last reports
    os._exit(code)


def release_trial(task_id: str) -> None:
    """The worker finished running trial ``task_id`` in this process: a ``Task.init`` session
    of that trial ends with it (so that its argparse binding does not outlive it)."""
    global _session
    with _lock:
        if _session is not None and _session.remote and _session.task.id == task_id:
            _session = None
            argparse_capture.bind(None)


def forget_session() -> None:
    """Drop this process's ``Task.init`` task without finishing it, and the parses remembered
    for it (for tests)."""
    global _session
    with _lock:
        if _session is not None:
            _session.unhook()
        _session = None
        argparse_capture.bind(None)
        argparse_capture.forget_parsed()


__all__ = [
    "CONFIG_FIELD",
    "SCRIPT_FIELDS",
    "ClearMLTaskAPI",
    "TaskTypes",
    "connect_object",
    "enqueue_task",
    "find_task_id",
    "hybridmethod",
    "main_task",
    "name_matches",
    "script_command",
    "script_info",
    "set_final_status",
    "warn_if_no_worker",
]
