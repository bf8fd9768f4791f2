"""Write-behind scalar reports of running trials.

Inside a trial (a task handle with an attempt token), ``report_scalar`` returns as soon as the
point is checked and queued: one thread per process (the *writer*) stores queued points in the
order they were reported, each with the store's atomic report script. The trial does not wait for
Redis between epochs (about a millisecond per report on a loaded machine), and nothing else
changes:

* the controller sees the points in order, and before the trial's final status: the runner
  waits for the trial's queue to drain (:meth:`ReportQueue.flush`) before it finishes the trial;
  a command's process drains its queues when it exits;
* what a write answers reaches the trial at its next report (so does what the attempt's
  heartbeat or a ``should_stop()`` learnt meanwhile): a requested stop raises
  :class:`~workers.errors.TrialStopped` (after queueing that report, as a synchronous report
  raises after storing it), a lost attempt :class:`~workers.errors.AttemptLostError`, a deleted
  record :class:`~workers.errors.TaskNotFoundError`, and an error writing (Redis unreachable
  past the outage budget) is raised as it was;
* a report checks its title, series, iteration and value before it is queued, so bad input
  still raises at the call.

Reads of the trial's own scalars (``get_last_scalar_metrics``, ``get_reported_scalars``),
requests to the optimizer and ``Logger.flush()`` wait for the queue first.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from queue import SimpleQueue

from .errors import AttemptLostError, TaskNotFoundError
from .outcomes import Reported, ReportStatus

#: Seconds a process waits at exit for its queued reports to be written.
EXIT_FLUSH_SECONDS = 30.0


def lost_attempt(task_id: str) -> AttemptLostError:
    """The error a trial gets once its attempt was declared dead."""
    return AttemptLostError(f"task {task_id}: this attempt no longer owns the record")


class ReportQueue:
    """The queued reports of one attempt (one per trial handle), and what their writes said."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self._cond = threading.Condition()
        self._pending = 0
        #: the stop reason the last write returned ('' when none was requested)
        self.stop = ""
        self._failure: BaseException | None = None

    def put(self, write: Callable[[], Reported]) -> None:
        """Queue ``write`` (a report of this attempt) for the process's writer thread."""
        with self._cond:
            self._pending += 1
        _writer().submit(self, write)

    def learnt(self, *, stop: str = "", failure: BaseException | None = None) -> None:
        """What the worker learnt of this attempt outside a write (a heartbeat, a stop check):
        the next report raises it as if a write had answered it."""
        with self._cond:
            self.stop = stop or self.stop
            if failure is not None and self._failure is None:
                self._failure = failure

    def raise_failure(self) -> None:
        """Raise what made a write fail (a lost attempt, a missing record, a Redis error)."""
        with self._cond:
            failure = self._failure
        if failure is not None:
            raise failure

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued report is written; False if ``timeout`` seconds passed
        first. Does not raise what the writes answered (see :meth:`raise_failure`)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def _done(self, write: Callable[[], Reported]) -> None:
        try:
            reported = write()
        except Exception as exc:  # noqa: BLE001 - raised in the trial at its next report
            failure: BaseException | None = exc
            stop = self.stop
        else:
            failure = (lost_attempt(self.task_id) if reported.status is ReportStatus.LOST
                       else TaskNotFoundError(self.task_id)
                       if reported.status is ReportStatus.MISSING else None)
            stop = reported.stop
        self.learnt(stop=stop, failure=failure)
        with self._cond:
            self._pending -= 1
            if self._pending == 0:
                self._cond.notify_all()


class _Writer(threading.Thread):
    """The process's writer thread: runs queued writes one after another, in order."""

    def __init__(self) -> None:
        super().__init__(name="hpq-report-writer", daemon=True)
        self._items: SimpleQueue[tuple[ReportQueue, Callable[[], Reported]]] = SimpleQueue()
        self._cond = threading.Condition()
        self._pending = 0

    def submit(self, queue: ReportQueue, write: Callable[[], Reported]) -> None:
        with self._cond:
            self._pending += 1
        self._items.put((queue, write))

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every submitted write; True if none is left."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def run(self) -> None:
        while True:
            queue, write = self._items.get()
            try:
                queue._done(write)
            finally:
                with self._cond:
                    self._pending -= 1
                    if self._pending == 0:
                        self._cond.notify_all()


_writer_thread: _Writer | None = None
_writer_lock = threading.Lock()


def _writer() -> _Writer:
    global _writer_thread
    with _writer_lock:
        if _writer_thread is None or not _writer_thread.is_alive():
            _writer_thread = _Writer()
            _writer_thread.start()
        return _writer_thread


def drain(timeout: float = EXIT_FLUSH_SECONDS) -> bool:
    """Wait up to ``timeout`` seconds for every report this process queued to be written
    (run at exit, so that a command's last reports are stored before its trial finishes)."""
    writer = _writer_thread
    return writer is None or not writer.is_alive() or writer.drain(timeout)


def _after_fork_in_child() -> None:  # a forked process starts its own writer when it reports
    global _writer_thread, _writer_lock
    _writer_thread = None
    _writer_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(drain)
