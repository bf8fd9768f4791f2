"""Write-behind scalar reports of running trials, pipelined on a connection of their own.

Inside a trial (a task handle with an attempt token), ``report_scalar`` returns as soon as the
point is checked and its atomic report script is sent: the reply is read later, without a second
thread (which would take the GIL from the training). Each process has one report connection per
store (:class:`ReportPipe`); replies are read at the next report when they are already there, and
waited for when the trial's reports must be written. Nothing else changes:

* Redis runs the reports in the order they were made, so the controller sees them in order, and
  before the trial's final status: the runner waits for the trial's replies
  (:meth:`ReportQueue.flush`) before it finishes the trial; a process drains its pipes when it
  exits;
* what a reply says reaches the trial at its next report (so does what the attempt's heartbeat or
  a ``should_stop()`` learnt meanwhile): a requested stop raises
  :class:`~workers.errors.TrialStopped` (after sending that report, as a synchronous report
  raises after storing it), a lost attempt :class:`~workers.errors.AttemptLostError`, a deleted
  record :class:`~workers.errors.TaskNotFoundError`, and an error writing (Redis unreachable past
  the outage budget) is raised as it was;
* a report checks its title, series, iteration and value before it is sent, so bad input still
  raises at the call;
* a lost connection is made again (within ``HPQ_REDIS_OUTAGE_SECONDS``) and every report whose
  reply was not read is sent again: a point stored twice is a duplicate the script ignores. After
  a server restart that lost its script cache (NOSCRIPT), the scripts are loaded again and the
  refused reports sent again, in order.

Reads of the trial's own scalars (``get_last_scalar_metrics``, ``get_reported_scalars``),
requests to the optimizer and ``Logger.flush()`` wait for the replies first.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.exceptions import NoScriptError

from .connection import CONNECTION_ERRORS
from .errors import AttemptLostError, TaskNotFoundError
from .outcomes import Reported, ReportStatus

if TYPE_CHECKING:
    from redis.connection import ConnectionInterface

    from .store import Store

#: Seconds a process waits at exit for its reports' replies.
EXIT_FLUSH_SECONDS = 30.0


def lost_attempt(task_id: str) -> AttemptLostError:
    """The error a trial gets once its attempt was declared dead."""
    return AttemptLostError(f"task {task_id}: this attempt no longer owns the record")


@dataclass(frozen=True)
class ReportCall:
    """One report, checked and ready to run: the report script's keys and arguments."""

    keys: list[str]
    args: list[Any]


class ReportQueue:
    """The reports of one attempt (one per trial handle) whose replies are still to be read,
    and what the replies said."""

    def __init__(self, task_id: str, pipe: ReportPipe) -> None:
        self.task_id = task_id
        self.pipe = pipe
        self.pending = 0
        #: the stop reason a reply returned or the worker learnt ('' when none was requested)
        self.stop = ""
        self._failure: BaseException | None = None

    def put(self, call: ReportCall) -> None:
        """Send ``call`` (a report of this attempt); its reply is read later."""
        self.pipe.send(self, call)

    def learnt(self, *, stop: str = "", failure: BaseException | None = None) -> None:
        """What the worker learnt of this attempt outside a reply (a heartbeat, a stop check):
        the next report raises it as if a reply had said it."""
        self.stop = stop or self.stop
        if failure is not None and self._failure is None:
            self._failure = failure

    def raise_failure(self) -> None:
        """Raise what made a report fail (a lost attempt, a missing record, a Redis error)."""
        if self._failure is not None:
            raise self._failure

    def flush(self, timeout: float | None = None) -> bool:
        """Read the replies of every report sent so far; False if ``timeout`` seconds passed
        first. Does not raise what the replies said (see :meth:`raise_failure`)."""
        return self.pipe.read_until(lambda: self.pending == 0, timeout)

    def answered(self, reply: Any) -> None:
        """Note the reply (or the error) of one of this attempt's reports."""
        self.pending -= 1
        if isinstance(reply, BaseException):
            self.learnt(failure=reply)
            return
        reported = Reported(ReportStatus(reply[0]), reply[1])
        self.learnt(stop=reported.stop,
                    failure=lost_attempt(self.task_id) if reported.status is ReportStatus.LOST
                    else TaskNotFoundError(self.task_id)
                    if reported.status is ReportStatus.MISSING else None)


class ReportPipe:
    """This process's report connection to one store: scripts sent in order, replies read in
    order. Safe to share between threads (one lock)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pid = os.getpid()
        self._lock = threading.RLock()
        self._conn: ConnectionInterface | None = None
        #: (queue, command) of every report sent whose reply was not read yet, oldest first
        self._sent: deque[tuple[ReportQueue, tuple[Any, ...]]] = deque()
        _pipes.add(self)

    def send(self, queue: ReportQueue, call: ReportCall) -> None:
        """Send one report of ``queue``'s attempt; replies already there are read first."""
        command = ("EVALSHA", self.store.report_sha, len(call.keys), *call.keys, *call.args)
        with self._lock:
            self._read(block=False)
            queue.pending += 1
            self._sent.append((queue, command))
            try:
                self._connection().send_command(*command, check_health=False)
            except CONNECTION_ERRORS:
                self._resend()

    def read_until(self, done: Callable[[], bool], timeout: float | None = None) -> bool:
        """Read replies until ``done()``; False if ``timeout`` seconds passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while not done():
                if not self._sent:  # (nothing due can change it)
                    return done()
                if deadline is not None and time.monotonic() > deadline:
                    return False
                self._read(block=True)
            return True

    def drain(self, timeout: float) -> bool:
        """Read every reply due; False if ``timeout`` seconds passed first."""
        return self.read_until(lambda: not self._sent, timeout)

    # ------------------------------------------------------------------ inside
    def _connection(self) -> ConnectionInterface:
        if self._conn is None:
            conn = self.store.redis.connection_pool.make_connection()
            conn.connect()
            self._conn = conn
        return self._conn

    def _read(self, *, block: bool) -> None:
        """Read the replies that are there (``block``: at least one, if any is due)."""
        while self._sent:
            try:
                conn = self._connection()
                if not block and not conn.can_read(timeout=0):
                    return
                reply: Any = conn.read_response()
            except NoScriptError:
                self._reload_scripts()
                continue
            except CONNECTION_ERRORS:
                self._resend()
                continue
            except Exception as exc:  # noqa: BLE001 - the script's error: raised in the trial
                reply = exc
            queue, _ = self._sent.popleft()
            queue.answered(reply)
            block = False

    def _resend(self) -> None:
        """Make the connection again and send every report whose reply was not read (within
        the store's outage budget; then the error is raised)."""
        def again() -> None:
            if self._conn is not None:
                self._conn.disconnect()
            self._conn = None
            conn = self._connection()
            for _, command in self._sent:
                conn.send_command(*command, check_health=False)

        retry = self.store.outage
        if retry is None:
            again()
        else:
            retry.call_with_retry(again, lambda _error: None)

    def _reload_scripts(self) -> None:
        """The server lost its script cache: read the other replies due (each a NOSCRIPT too,
        or a reply of a report sent before), load the scripts, send the refused ones again."""
        refused = [self._sent.popleft()]
        conn = self._connection()
        while self._sent:
            try:
                reply: Any = conn.read_response()
            except NoScriptError:
                refused.append(self._sent.popleft())
                continue
            except CONNECTION_ERRORS:
                break  # everything still due is sent again below, after the refused ones
            except Exception as exc:  # noqa: BLE001
                reply = exc
            queue, _ = self._sent.popleft()
            queue.answered(reply)
        self.store.load_scripts()
        self._sent = deque(refused + list(self._sent))
        self._resend()


_pipes: weakref.WeakSet[ReportPipe] = weakref.WeakSet()


def drain(timeout: float = EXIT_FLUSH_SECONDS) -> bool:
    """Wait up to ``timeout`` seconds for the replies of every report this process sent (run at
    exit, so that a command's last reports are stored before its trial finishes)."""
    deadline = time.monotonic() + timeout
    return all(pipe.drain(max(0.0, deadline - time.monotonic()))
               for pipe in list(_pipes) if pipe.pid == os.getpid())


atexit.register(drain)
