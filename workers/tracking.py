"""Polyaxon's tracking API on hpqueue: a Polyaxon training script runs unchanged but for its
import (``from workers import tracking`` in place of ``from polyaxon import tracking``).

Inside a trial (a worker runs the script as a task's command, or calls it), the functions write
to the trial's task:

* :func:`init` -- binds the trial (the task of ``HPQ_TASK_ID``); the other functions call it;
* :func:`log_metrics` / :func:`log_metric` -- each metric ``name`` is the scalar of title
  ``name`` and series ``name`` (a Polyaxon matrix's ``metric: {name: loss}`` is the objective
  ``loss``/``loss``); ``step`` is the iteration (without one, the metric's next iteration:
  0, 1, 2, ...); ``timestamp`` is accepted and not stored;
* :func:`log_outputs` -- numbers are reported as :func:`log_metric` does (a run's last value is
  its output, as Polyaxon's), and every output is kept in the JSON artifact ``outputs``;
* :func:`log_inputs` -- sets the task's parameters (section ``General``);
* :func:`get_outputs_path`, :func:`get_artifacts_path` -- the task's directories (Polyaxon's
  ``run_outputs_path`` and ``run_artifacts_path``);
* :func:`log_tags`, :func:`end` (and :func:`log_succeeded`), :func:`get_run`.

As with ``task.get_logger().report_scalar``, a report made after the trial was asked to stop
raises :class:`~workers.errors.TrialStopped`. Imports stay light (no numpy, no Polyaxon).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from .errors import HpqError
from .task import Task

#: The JSON artifact that keeps a trial's outputs.
_OUTPUTS_ARTIFACT = "outputs"

_lock = threading.Lock()
_run: Task | None = None
_next_step: dict[str, int] = {}
_outputs: dict[str, Any] = {}


class TrackingError(HpqError):
    """The tracking API was used outside an hpqueue trial."""


def init(is_offline: bool | None = None, **kwargs: Any) -> Task:
    """Bind the trial this process runs and return its task.

    Polyaxon's arguments (``project``, ``run_uuid``, ``name``, ...) are accepted and ignored: the
    trial's task is the one the worker runs.

    Raises:
        TrackingError: outside a trial (no task in this process, no ``HPQ_TASK_ID``).
    """
    global _run
    with _lock:
        task = Task.current_task()
        if task is None:
            raise TrackingError("tracking.init(): this process is not an hpqueue trial "
                                "(no current task, HPQ_TASK_ID is unset)")
        if _run is None or _run.id != task.id:
            _run = task
            _next_step.clear()
            _outputs.clear()
        return task


def get_run() -> Task:
    """The trial's task (Polyaxon's ``TRACKING_RUN``); see :func:`init`."""
    return _run if _run is not None and _run == Task.current_task() else init()


def _step(name: str, step: int | None) -> int:
    with _lock:
        if step is None:
            step = _next_step.get(name, 0)
        _next_step[name] = max(_next_step.get(name, 0), int(step) + 1)
        return int(step)


def log_metric(name: str, value: float, step: int | None = None,
               timestamp: Any = None) -> None:
    """Report ``value`` as the scalar ``name``/``name`` at iteration ``step``."""
    get_run().get_logger().report_scalar(name, name, value, _step(name, step))


def log_metrics(step: int | None = None, timestamp: Any = None, **metrics: float) -> None:
    """Report each ``name=value`` as :func:`log_metric` does, at the same ``step``."""
    for name, value in metrics.items():
        log_metric(name, value, step, timestamp)


def log_outputs(reset: bool = False, **outputs: Any) -> None:
    """Keep ``outputs`` in the JSON artifact ``outputs`` (``reset`` forgets earlier ones) and
    report the numbers among them as metrics."""
    run = get_run()
    with _lock:
        if reset:
            _outputs.clear()
        _outputs.update(outputs)
        saved = dict(_outputs)
    run.upload_artifact(_OUTPUTS_ARTIFACT, saved)
    for name, value in outputs.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            log_metric(name, value)


def log_inputs(reset: bool = False, **inputs: Any) -> None:
    """Set ``inputs`` as the task's parameters (``General/<name>``); ``reset`` is accepted (the
    task keeps its other parameters)."""
    get_run().update_parameters(inputs)


def log_tags(tags: str | Iterable[str], reset: bool = False) -> None:
    """Add tags to the task (``reset`` is accepted; the task keeps its other tags)."""
    get_run().add_tags([tags] if isinstance(tags, str) else list(tags))


def get_outputs_path() -> str:
    """The trial's outputs directory (created)."""
    return str(get_run().outputs_path())


def get_artifacts_path() -> str:
    """The trial's directory of files (``$HPQ_ARTIFACTS_DIR/<task id>``)."""
    return str(get_run().artifacts_path)


def end() -> None:
    """Polyaxon ends a run here; an hpqueue trial ends when its command or function returns."""


log_succeeded = end

__all__ = ["TrackingError", "end", "get_artifacts_path", "get_outputs_path", "get_run", "init",
           "log_inputs", "log_metric", "log_metrics", "log_outputs", "log_succeeded",
           "log_tags"]
