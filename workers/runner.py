"""The Celery task that runs one trial: claim -> heartbeat -> run -> finish.

Guarantees (each backed by a compare-and-set in :mod:`workers.store`):

* A trial runs only from ``queued``; a queued trial whose stop was requested ends ``stopped``
  without starting.
* A second delivery while another attempt runs writes nothing: it watches the other attempt's
  heartbeat and leaves as soon as it moves. If the heartbeat stops (the pool process was killed),
  it declares that attempt dead and runs the trial itself (up to ``HPQ_MAX_ATTEMPTS`` attempts).
* An attempt that was declared dead can no longer write: its reports and its final status are
  refused, and it is interrupted.
* The trial ends ``completed``, ``failed`` (exception, message and traceback kept) or ``stopped``,
  with the tail of its stdout/stderr on the record.
* The Celery task of a failed trial ends in failure (:class:`~workers.errors.TrialFailed`, raised
  after the record is finished), so that Celery's events and monitors (Flower) show it FAILURE;
  its message is acknowledged (late acks acknowledge failures too) and never retried.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from typing import Any

import redis
from celery import signals
from celery.exceptions import Reject, SoftTimeLimitExceeded

from . import (
    codec,
    sweep,  # noqa: F401  (connects the worker supervisor)
)
from .app import TRIAL_TASK, app, send_trial
from .clearml_task import script_command
from .config import KILL_DELAY, OUTPUT_TAIL_BYTES, REQUEUE_PAUSE
from .entrypoints import load_entry_point, render_command
from .errors import (
    AttemptLostError,
    HpqError,
    InvalidTaskError,
    TaskNotFoundError,
    TrialFailed,
    TrialStopped,
)
from .outcomes import Claim, ClaimOutcome
from .record import TaskRecord
from .status import TaskStatus
from .store import Store, get_store
from .task import Task, bind_current

log = logging.getLogger("hpqueue.worker")


@app.task(name=TRIAL_TASK, throws=(TrialFailed,))
def run_trial(task_id: str, parent: str | None = None) -> str:
    """Celery entry: run the trial of ``task_id`` (whose parent the sender may name, saving a
    read); returns how it ended (for logs only), or raises :class:`TrialFailed` when the trial
    failed (an expected error: Celery logs it without a traceback).

    When Redis cannot be reached the message is rejected and requeued (after a pause), never
    acknowledged: the trial is not lost. A claim made before the error is recovered as a dead
    attempt (its heartbeat stops).
    """
    try:
        runner = TrialRunner(get_store(), task_id, parent)
        outcome = runner.run()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        log.warning("trial %s: Redis unavailable (%s); message requeued", task_id, exc)
        time.sleep(REQUEUE_PAUSE)
        raise Reject(exc, requeue=True) from exc
    if outcome == TaskStatus.FAILED.value:
        raise TrialFailed(f"trial {task_id} failed: {runner.reason}")
    return outcome


class OutputTail(io.TextIOBase):
    """A text stream that forwards to ``sink`` and keeps the last ``limit`` characters."""

    def __init__(self, sink: Any, limit: int = OUTPUT_TAIL_BYTES) -> None:
        self._sink = sink
        self._chunks: deque[str] = deque()
        self._size = 0
        self._limit = limit
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._chunks.append(text)
            self._size += len(text)
            while self._size > self._limit and len(self._chunks) > 1:
                self._size -= len(self._chunks.popleft())
        if self._sink is not None:
            with contextlib.suppress(Exception):
                self._sink.write(text)
        return len(text)

    def flush(self) -> None:
        if self._sink is not None:
            with contextlib.suppress(Exception):
                self._sink.flush()

    def tail(self) -> str:
        with self._lock:
            return "".join(self._chunks)[-self._limit:]


class _Heartbeat:
    """Refreshes the attempt's heartbeat; interrupts the trial if it must end.

    Beaten by the process's one heartbeat thread (:class:`_Beater`): starting a thread per
    trial cost about as much as the rest of a trivial trial.
    """

    def __init__(self, runner: TrialRunner, task: Task) -> None:
        self.runner = runner
        self.task = task
        self.done = threading.Event()
        self.lost = False
        self.stop_seen: float | None = None
        self.interrupted: float | None = None
        self.interval = runner.store.settings.heartbeat_interval
        self.due = 0.0

    def start(self) -> None:
        self.due = time.monotonic() + self.interval
        _beater().add(self)

    def beat(self) -> bool:
        """One heartbeat; False once this attempt needs no more."""
        r = self.runner
        try:
            alive, stop = r.store.heartbeat(r.task_id, r.token)
        except Exception as exc:  # noqa: BLE001 - a Redis blip: the grace period covers it
            log.warning("heartbeat of %s failed: %s", r.task_id, exc)
            return True
        if self.done.is_set():
            return False
        if not alive:
            self.lost = True
            self.task.learnt(lost=True)
            r.interrupt(AttemptLostError)
            return False
        if stop:
            self.task.learnt(stop=stop)
            # the trial sees the stop at its next report; one that does not end within the
            # stop grace is interrupted (an exception in a callable's thread, SIGTERM to a
            # command), and KILL_DELAY seconds later killed
            now = time.monotonic()
            if self.stop_seen is None:
                self.stop_seen = now
            elif self.interrupted is None:
                if now - self.stop_seen > r.store.settings.stop_grace:
                    r.interrupt(TrialStopped)
                    self.interrupted = now
            elif now - self.interrupted > KILL_DELAY:
                self.interrupted = now
                return r.kill(stop)
        return True


class _Beater(threading.Thread):
    """The process's heartbeat thread: beats every running attempt every its interval."""

    def __init__(self) -> None:
        super().__init__(name="hpq-heartbeat", daemon=True)
        self._beats: list[_Heartbeat] = []
        self._cond = threading.Condition()

    def add(self, beat: _Heartbeat) -> None:
        with self._cond:
            # beats are due in order of arrival (one interval after their start): the thread
            # needs waking only when it has nothing to wait for
            idle = not any(not b.done.is_set() for b in self._beats)
            self._beats.append(beat)
            if idle:
                self._cond.notify()

    def run(self) -> None:
        while True:
            with self._cond:
                self._beats = [b for b in self._beats if not b.done.is_set()]
                now = time.monotonic()
                due = [b for b in self._beats if b.due <= now]
                if not due:
                    wait = min((b.due for b in self._beats), default=now + 3600.0) - now
                    self._cond.wait(wait)
                    continue
            for b in due:
                try:
                    if b.done.is_set() or not b.beat():
                        b.done.set()  # no more beats (the runner sets it too when it ends)
                except Exception:  # the thread beats every attempt: never die
                    log.exception("heartbeat of %s failed", b.runner.task_id)
                b.due = time.monotonic() + b.interval


_beater_thread: _Beater | None = None
_beater_lock = threading.Lock()


def _beater() -> _Beater:
    global _beater_thread
    with _beater_lock:
        if _beater_thread is None or not _beater_thread.is_alive():
            _beater_thread = _Beater()
            _beater_thread.start()
        return _beater_thread


#: True in a Celery pool process (which may be killed: Celery replaces it).
_in_pool_process = False


@signals.worker_process_init.connect
def _pool_process_started(**_: Any) -> None:
    global _in_pool_process
    _in_pool_process = True


def _after_fork_in_child() -> None:  # a forked pool process starts its own thread when needed
    global _beater_thread, _beater_lock
    _beater_thread = None
    _beater_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


class TrialRunner:
    """Runs one delivery of a trial. Construct per delivery; call :meth:`run` once."""

    def __init__(self, store: Store, task_id: str, parent: str | None = None) -> None:
        self.store = store
        self.task_id = task_id
        self.token = uuid.uuid4().hex
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        #: the record's parent as the message says (None: read it first)
        self.parent = parent
        self._thread_id = threading.get_ident()
        self._proc: subprocess.Popen[str] | None = None
        self._killed = ""  # why a command was killed
        self._output = OutputTail(sys.__stdout__)
        # a callable trial can be interrupted only while it runs (never the code after it)
        self._interrupt_lock = threading.Lock()
        self._interruptible = True
        #: why the trial ended as it did ('' when it completed or was not run)
        self.reason = ""

    # ----------------------------------------------------------------- claiming
    def run(self) -> str:
        """Claim, run and finish the trial; returns the outcome.

        Raises only Redis connection errors (the caller requeues the message).
        """
        try:
            if self.parent is None:
                self.parent = self.store.record(self.task_id).parent
            claim = self._claim()
            if claim.outcome is ClaimOutcome.PARENT:  # the message named another parent
                self.parent = claim.parent  # trust the record
                claim = self._claim()
        except HpqError as exc:
            log.error("trial %s: %s", self.task_id, exc)
            return ClaimOutcome.MISSING.value
        if claim.outcome is not ClaimOutcome.CLAIMED:
            log.info("trial %s not run: %s %s", self.task_id, claim.outcome, claim.status or "")
            return claim.outcome.value
        assert claim.record is not None
        return self._execute(claim.record)

    def _claim(self) -> Claim:
        claim = self.store.claim(self.task_id, self.parent, self.token, self.worker)
        if claim.outcome is ClaimOutcome.BUSY and claim.attempt == self.token:
            # this very claim, made by a call whose reply was lost and that was retried
            record = self.store.record(self.task_id)
            return Claim(ClaimOutcome.CLAIMED, attempts=record.attempts, record=record)
        while claim.outcome is ClaimOutcome.BUSY:
            if not self._other_attempt_is_dead(claim):
                return claim  # a live attempt owns it: this delivery is a duplicate
            claim = self.store.claim(self.task_id, self.parent, self.token, self.worker)
        return claim

    def _other_attempt_is_dead(self, claim: Claim) -> bool:
        """Watch another attempt; True once it was declared dead (and the record requeued)."""
        settings = self.store.settings
        host, _, pid = claim.worker.rpartition(":")
        deadline = time.time() + settings.heartbeat_grace + settings.heartbeat_interval
        while True:
            now = time.time()
            if self.store.outage is not None:  # heartbeats resume after an outage: wait again
                deadline = max(deadline, self.store.outage.recovered_at
                               + settings.heartbeat_grace + settings.heartbeat_interval)
            force = host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))
            if force or now > deadline:
                stale_before = now + 1 if force else now - settings.heartbeat_grace
                new = self.store.declare_dead(self.task_id, self.parent, claim.attempt,
                                              reason="worker lost", stale_before=stale_before)
                if new:
                    log.warning("trial %s: attempt on %s declared dead -> %s",
                                self.task_id, claim.worker, new)
                return new is TaskStatus.QUEUED or self._requeued_by_other()
            time.sleep(min(settings.heartbeat_interval / 2, 0.5))
            status, attempt, heartbeat = self.store.get_fields(
                self.task_id, "status", "attempt", "heartbeat")
            if status != TaskStatus.IN_PROGRESS or attempt != claim.attempt:
                return status == TaskStatus.QUEUED
            if float(heartbeat or 0) != claim.heartbeat:
                return False  # the other attempt is alive

    def _requeued_by_other(self) -> bool:
        return self.store.status(self.task_id) == TaskStatus.QUEUED

    # ---------------------------------------------------------------- executing
    def _execute(self, rec: TaskRecord) -> str:
        task = Task(self.task_id, store=self.store, record=rec, token=self.token)
        heartbeat = _Heartbeat(self, task)
        output = self._output
        status: TaskStatus | None = TaskStatus.COMPLETED
        reason, fields = "", {}
        heartbeat.start()
        bind_current(task)
        try:
            if rec.command:
                status, reason = self._run_command(task, rec, output)
            else:
                fields = self._run_callable(task, rec, output)
        except TrialStopped as exc:
            status, reason = TaskStatus.STOPPED, self._stop_reason() or str(exc)
        except AttemptLostError:
            status = None  # a zombie: the record is no longer ours
        except SoftTimeLimitExceeded:
            status, reason = TaskStatus.FAILED, "time limit exceeded"
            fields = {"error": "SoftTimeLimitExceeded: trial ran past HPQ_MAX_TRIAL_SECONDS"}
        except SystemExit as exc:
            signum = _shutdown_signal(exc)
            if signum is None or self._stop_reason():
                status, reason, fields = self._outcome_of(exc)
            else:  # this process is being shut down: another worker takes the trial over
                heartbeat.done.set()
                self._give_back(signum)
                raise
        except BaseException as exc:  # noqa: BLE001 - user code may raise anything
            status, reason, fields = self._outcome_of(exc)
        finally:
            heartbeat.done.set()
            bind_current(None)
        if status is not None and not self._reports_written(task):
            status = None
        if status is None or heartbeat.lost:
            log.warning("trial %s: attempt lost its claim; nothing written", self.task_id)
            return "lost"
        fields["output"] = output.tail()
        self.reason = reason
        if not self.store.finish(self.task_id, self.parent, self.token, status, reason=reason,
                                 fields=fields):
            log.warning("trial %s: finish refused (attempt superseded)", self.task_id)
            return "lost"
        return status.value

    @staticmethod
    def _reports_written(task: Task) -> bool:
        """Read the replies of the trial's write-behind reports (they come before its final
        status); False if one said this attempt was lost or the record is gone."""
        try:
            task.flush()
        except (AttemptLostError, TaskNotFoundError):
            return False
        return True

    def _outcome_of(self, exc: BaseException) -> tuple[TaskStatus, str, dict[str, str]]:
        """How a trial that raised ``exc`` ends: failed (the error and its traceback kept),
        stopped (an exit while a stop was requested), completed (``sys.exit(0)``)."""
        status, reason = TaskStatus.FAILED, f"{type(exc).__name__}: {exc}"
        fields = {"error": reason,
                  "traceback": "".join(traceback.format_exception(exc))[-OUTPUT_TAIL_BYTES:]}
        if isinstance(exc, (KeyboardInterrupt, SystemExit)) and self._stop_reason():
            return TaskStatus.STOPPED, self._stop_reason(), {}
        if isinstance(exc, SystemExit) and exc.code in (None, 0):
            return TaskStatus.COMPLETED, "", {}  # e.g. mark_completed()
        return status, reason, fields

    def _give_back(self, signum: int) -> None:
        """This pool process is being shut down (a cold shutdown, or a SIGTERM sent to every
        process of the worker): end this attempt at once as a lost one -- the trial goes back to
        ``queued`` (or ``failed`` when it was the last attempt allowed) -- and send its message
        again, so that another worker runs it now rather than after the heartbeat grace. A
        command's process group is killed first. Best effort: if Redis cannot be reached, the
        sweep requeues the attempt once its heartbeat is stale."""
        name = signal.Signals(signum).name if signum in signal.valid_signals() else str(signum)
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        try:
            new = self.store.declare_dead(
                self.task_id, self.parent, self.token, stale_before=time.time() + 1,
                reason=f"worker shut down ({name}) while the trial ran")
            log.warning("trial %s: worker shutting down (%s) -> %s", self.task_id, name,
                        new.value if new else "not ours any more")
            if new is TaskStatus.QUEUED:
                (queue,) = self.store.get_fields(self.task_id, "queue")
                send_trial(self.task_id, queue or "default", self.parent)
        except Exception:
            log.exception("trial %s: could not requeue it at shutdown", self.task_id)

    def _run_callable(self, task: Task, rec: TaskRecord, output: OutputTail) -> dict[str, str]:
        try:
            if rec.entry_point is None:
                raise InvalidTaskError(f"task {self.task_id} has neither an entry point nor a "
                                       "command")
            func = load_entry_point(rec.entry_point, rec.working_dir)
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                result = func(task)
        finally:
            self._end_interrupts()
        if result is None:
            return {}
        try:
            return {"result": codec.dumps(result)}
        except HpqError:
            return {"result": codec.dumps(repr(result))}

    def _run_command(self, task: Task, rec: TaskRecord, output: OutputTail
                     ) -> tuple[TaskStatus, str]:
        argv = script_command(rec.raw, render_command(rec.command or (), rec.parameters,
                                                      task.template_context()))
        env = {**os.environ, "HPQ_TASK_ID": self.task_id, "HPQ_TASK_ATTEMPT": self.token,
               "HPQ_NAMESPACE": self.store.keys.ns, "PYTHONUNBUFFERED": "1"}
        if self.store.url:
            env["HPQ_REDIS_URL"] = self.store.url
        self._proc = subprocess.Popen(
            argv, cwd=rec.working_dir, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            output.write(line)
        code = self._proc.wait()
        if code == 0:
            return TaskStatus.COMPLETED, ""
        if self._stop_reason():
            killed = f"; {self._killed}" if self._killed else ""
            return TaskStatus.STOPPED, self._stop_reason() + killed
        raise RuntimeError(f"command {argv!r} exited with code {code}")

    # -------------------------------------------------------------- interrupting
    def _stop_reason(self) -> str:
        (stop,) = self.store.get_fields(self.task_id, "stop")
        return stop or ""

    def interrupt(self, exc_type: type[BaseException]) -> None:
        """End the trial now: SIGTERM to a command's process group, or raise ``exc_type`` in a
        callable's thread."""
        if self._proc is not None:
            if self._proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._proc.pid, signal.SIGTERM)
            return
        with self._interrupt_lock:
            if self._interruptible:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread_id),
                                                           ctypes.py_object(exc_type))

    def kill(self, stop: str) -> bool:
        """End a trial that ignored its stop and its interrupt (from the heartbeat thread).

        A command's process group gets SIGKILL (the runner then ends it ``stopped``). A callable
        in a Celery pool process is ended ``stopped`` here, then its process is killed (Celery
        replaces it; the message, requeued as a lost worker's, finds the trial done). A callable
        elsewhere (a thread of the controller's process) cannot be killed: it is ended
        ``stopped`` as abandoned and left to return by itself (its writes are refused). Returns
        False when the heartbeat has nothing more to do.
        """
        grace = self.store.settings.stop_grace
        if self._proc is not None:
            if self._proc.poll() is None:
                self._killed = f"killed: it did not stop within HPQ_STOP_GRACE ({grace:g}s)"
                log.warning("trial %s: %s", self.task_id, self._killed)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
            return True
        how = "killed" if _in_pool_process else "abandoned (this process cannot be killed)"
        reason = f"{stop}; {how}: it did not stop within HPQ_STOP_GRACE ({grace:g}s)"
        log.warning("trial %s: %s", self.task_id, reason)
        ended = self.store.finish(self.task_id, self.parent, self.token, TaskStatus.STOPPED,
                                  reason=reason, fields={"output": self._output.tail()})
        if ended and _in_pool_process:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return False

    def _end_interrupts(self) -> None:
        """In the trial's thread, once the callable returned or raised: no interrupt may reach
        the code that follows (the finish, or the worker's next task). An interrupt already on
        its way is dropped: the callable has ended anyway."""
        while True:
            try:
                with self._interrupt_lock:
                    self._interruptible = False
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread_id),
                                                           None)
                return
            except (TrialStopped, AttemptLostError):
                continue


def _shutdown_signal(exc: SystemExit) -> int | None:
    """The signal number if ``exc`` was raised by the pool process's own terminate-signal
    handler (billiard's: ``sys.exit(-(256 - signum))``), None for a trial's own exit."""
    try:
        from billiard.common import terminate_handler_fired
    except ImportError:  # an older billiard: its handler's exit code is the only sign
        fired = isinstance(exc.code, int) and -255 < exc.code < -200
    else:
        fired = terminate_handler_fired()
    if not fired or not isinstance(exc.code, int) or exc.code >= 0:
        return None
    return 256 + exc.code


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` runs on this host (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
