"""The optimizer's daemon thread: Redis events in, scheduler decisions out.

One pass of the loop:

1. read new events of the optimizer's children with a blocking ``XREAD`` from the saved cursor
   (it returns as soon as a trial reports or changes status, so the loop reacts in milliseconds);
2. feed them to the :class:`~controller.loop.Scheduler`, run housekeeping when due (time limits,
   budgets, the dead-worker sweep, the lease), and ask it for new jobs;
3. persist in one transaction (:meth:`OptimizerRepository.save_pass`): the new jobs' records,
   changed job-table rows, the strategy's and scheduler's state and the cursor -- so a controller
   killed at any point resumes consistently;
4. carry out the side effects through its :class:`~controller.dispatch.Dispatcher`: send new
   jobs, stop jobs, archive/restore; run the callbacks; log the scheduler's warnings.

Exactly one controller drives an optimizer at a time (a lease in Redis, renewed by the loop).
:meth:`Driver.request_detach` ends a session without ending the optimization (its jobs go on):
the pass is saved and the lease released, so that a resume takes over at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from workers.app import TrialLabel
from workers.connection import CONNECTION_ERRORS, mask_text
from workers.messages import MESSAGE_KIND
from workers.record import TaskRecord
from workers.status import TaskStatus
from workers.store import Event, Store
from workers.sweep import sweep_stale
from workers.task import clone_record

from .dispatch import Dispatcher
from .jobs import Job
from .loop import Outcome, Reply, Scheduler
from .persistence import (
    BestPoint,
    OptimizerRepository,
    Resources,
    SavedState,
    SchedulerState,
    Timing,
)

log = logging.getLogger("hpqueue.optimizer")

LEASE_TTL = 10.0
#: Seconds trials may wait queued with no live worker on their queue before the loop warns.
NO_WORKER_WARNING = 5.0
#: Lease owner prefix of a controller run as an attempt of its optimizer task.
ATTEMPT_OWNER = "attempt:"
Callback = Callable[[str, Any, Any, dict, str | None], None]
#: ``job_failed_callback(job_id, reason, job_parameters)``
FailureCallback = Callable[[str, str, dict], None]


@dataclass(frozen=True)
class Reloaded:
    """The optimization as saved, rebuilt: a fresh scheduler (its strategy restored), the saved
    event cursor, and why it already ended (None if it goes on)."""

    scheduler: Scheduler
    cursor: str
    ended: str | None = None


#: Rebuilds the optimization from what is saved in Redis (the facade's; see :class:`Driver`).
Reload = Callable[[], Reloaded]


class LeaseHeldError(RuntimeError):
    """Another live controller drives this optimizer."""


class StaleState(Exception):
    """The loop's state may no longer match Redis's (an outage came between them): it must be
    re-read before anything of it is written."""


@dataclass
class DriverConfig:
    """What the driver needs beyond the scheduler."""

    opt_id: str
    base_record: TaskRecord
    queue: str
    project: str
    housekeeping_seconds: float
    report_seconds: float
    naming: Callable[[str, dict[str, Any]], str] | None = None


class Driver:
    """Runs one session of an optimization (one controller process: the loop's thread, and a
    sender thread that publishes the trial messages)."""

    def __init__(self, store: Store, scheduler: Scheduler, config: DriverConfig, *,
                 dispatcher: Dispatcher, callback: Callback | None = None,
                 failure_callback: FailureCallback | None = None,
                 deadline: Callable[[], float | None] = lambda: None,
                 clock: Callable[[], float] = time.time, lock: threading.RLock | None = None,
                 cursor: str = "0-0", attempt: str = "", reload: Reload | None = None,
                 health: Callable[[], str | None] | None = None) -> None:
        self.store = store
        # the loop's own saves go through a client that never retries: after an outage they
        # fail rather than write what the loop held onto data that may have lost writes
        self.saved = OptimizerRepository(store, writer=store.unretried_client())
        self.dispatcher = dispatcher
        self.scheduler = scheduler
        self.config = config
        self.callback = callback
        self.failure_callback = failure_callback
        self.deadline = deadline
        self.clock = clock
        self.lock = lock or threading.RLock()
        self.cursor = cursor
        self.reload = reload
        #: run at housekeeping: a text says why the optimization cannot go on (its local
        #: workers exited, say); it then ends, failed, with that reason
        self.health = health
        #: why the optimization failed (set by ``health``), None otherwise
        self.failure: str | None = None
        self._session_started = clock()
        # a controller run as a trial of its optimizer task (execute_remotely) owns the lease as
        # that attempt: once the attempt is declared dead, the next one may take the lease over
        self.owner = f"{ATTEMPT_OWNER}{attempt}" if attempt else f"{uuid.uuid4().hex}"
        self.stop_reason: str | None = None
        self.end_reason: str | None = None
        self.error: BaseException | None = None
        #: the session ended by :meth:`request_detach` (the optimization goes on)
        self.detached = False
        self._detach = False
        #: Redis stayed unreachable past ``HPQ_REDIS_OUTAGE_SECONDS``: the loop gave up (the
        #: saved state is left as it was; ``resume`` continues from it).
        self.gave_up = False
        #: The optimization had already ended when this controller took the lease.
        self.already_ended = False
        self._synced_outages = self._outages()
        self._dirty: set[str] = set()
        self._best: list[BestPoint] = []
        self._best_id: str | None = None
        self._next_housekeeping = 0.0
        self._next_sweep = 0.0
        self._next_consumer_check = 0.0
        self._warned_no_worker = False
        self._next_report = 0.0
        self._ending_since: float | None = None
        self._timing: Timing | None = None
        self._budget: dict[str, Any] | None = None
        self._resources: Resources | None = None
        # jobs persisted and waiting for their message: the sender thread sends them while
        # the loop reads on (a Celery publish is a round trip the loop need not wait for)
        self._outbox: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._sender: threading.Thread | None = None
        self._send_error: BaseException | None = None

    # ------------------------------------------------------------------ control
    def request_stop(self, reason: str = "stopped by user") -> None:
        """Ask the loop to end: every job is stopped, then the loop finishes (wakes it now)."""
        self.stop_reason = reason
        self.store.post_control(self.config.opt_id, "stop")

    def request_detach(self) -> None:
        """Ask the loop to end this session and leave the optimization as it is (queued and
        running jobs go on): it saves its pass, releases the lease and returns (wakes it now).
        Callbacks still due run in the session that resumes it."""
        self._detach = True
        self.store.post_control(self.config.opt_id, "wake")

    def run(self) -> None:
        """Thread target: drive the optimization until it is over."""
        try:
            self._take_lease()
            # another controller may have driven it since this one loaded it: start afresh
            if self._resync() is not None:
                return
            self._redo_side_effects()
            self._sender = threading.Thread(target=self._send_loop, daemon=True,
                                            name=f"hpq-sender-{self.config.opt_id}")
            self._sender.start()
            self._loop()
        except BaseException as exc:  # noqa: BLE001 - report, then let the facade see it
            self.error = exc
            log.error("optimizer %s loop failed: %s\n%s", self.config.opt_id, exc,
                      traceback.format_exc())
        finally:
            self._stop_sender()
            with contextlib.suppress(Exception):  # the lease expires by itself
                self.saved.release_lease(self.config.opt_id, self.owner)

    def _loop(self) -> None:
        """Run passes until the optimization is over. Redis errors are retried by the store's
        client for up to ``HPQ_REDIS_OUTAGE_SECONDS``; after an outage the loop re-reads its
        saved state and cursor (what it held in memory may be ahead of, or no longer match,
        what Redis kept) and resends the messages of queued jobs; past the budget it gives up
        with an end reason that says so."""
        while True:
            try:
                try:
                    if self._step():
                        return
                except StaleState:
                    self.store.redis.ping()  # (retried until Redis answers, or the budget ends)
                if self._outages() != self._synced_outages:
                    self._resync(after_outage=True)
            except CONNECTION_ERRORS as exc:
                budget = self.store.settings.outage_seconds
                self.gave_up = True
                self.end_reason = (f"Redis unreachable for more than {budget:g}s "
                                   f"({mask_text(str(exc), self.store.url)}); "
                                   f"resume with: hpq resume {self.config.opt_id}")
                log.error("optimizer %s: %s", self.config.opt_id, self.end_reason)
                return

    def _outages(self) -> int:
        """Outages of the store's client that ended so far."""
        return self.store.outage.outages if self.store.outage is not None else 0

    def _writable(self) -> None:
        """Raise StaleState if an outage ended since the state was last re-read."""
        if self._outages() != self._synced_outages:
            raise StaleState

    def _write(self, save: Callable[[], Any]) -> Any:
        """Run one save of the loop's state, unless an outage made the state stale; a save that
        fails on a connection error leaves it stale too (StaleState: re-read it)."""
        self._writable()
        try:
            return save()
        except CONNECTION_ERRORS as exc:
            log.warning("optimizer %s: saving failed (%s); it will re-read its saved state",
                        self.config.opt_id, mask_text(str(exc), self.store.url))
            self._synced_outages = -1  # whatever happens next, re-read before writing
            raise StaleState from exc

    def _resync(self, *, after_outage: bool = False) -> str | None:
        """Replace the scheduler and cursor by what is saved (see :data:`Reload`); after an
        outage, also redo the side effects that may have been lost and resend the messages of
        every queued job (a message or a claim may have been lost with the writes of the
        last second; a duplicate message is harmless). Returns why the optimization already
        ended (and ends this session), or None."""
        self._synced_outages = self._outages()  # (read first: an outage during it counts)
        if self.reload is None:
            return None
        if after_outage:
            log.warning("optimizer %s: Redis connection restored; re-reading the saved state",
                        self.config.opt_id)
        fresh = self.reload()
        with self.lock:
            self.scheduler = fresh.scheduler
            self.cursor = fresh.cursor
            self._dirty.clear()
            self._best = []
            self._best_id = fresh.scheduler.leaderboard.best()
            self._ending_since = None
        if fresh.ended is not None:
            self.end_reason = fresh.ended
            self.already_ended = True
            log.info("optimizer %s has already ended (%s)", self.config.opt_id, fresh.ended)
            return fresh.ended
        if after_outage:
            self._redo_side_effects(resend_queued=True)
        return None

    # ---------------------------------------------------------------- one pass
    def _step(self) -> bool:
        """One pass of the loop; True when the optimization is over."""
        if self._send_error is not None:
            raise self._send_error
        now = self.clock()
        block_ms = max(1, int((self._next_housekeeping - now) * 1000))
        events = self.store.read_events(self.config.opt_id, self.cursor, block_ms=block_ms)
        now = self.clock()
        with self.lock:
            out = Outcome()
            for event in events:
                self.cursor = event.id
                out.extend(self._apply_event(event, now))
            if self._detach:
                return self._detach_now(out)
            if self.stop_reason and not self.scheduler.ending:
                self.scheduler.end(self.stop_reason, out)
            housekeeping = now >= self._next_housekeeping
            if housekeeping:
                out.extend(self.scheduler.housekeeping(now, self.deadline()))
            new_jobs = self.scheduler.launch(now, lambda: uuid.uuid4().hex)
            self._track_best(out, now)
            if self.callback is None:
                # nothing to call: the notified flags go out with this pass's rows
                self._mark_notified(note.job_id for note in out.notify)
                out.notify.clear()
            if self.failure_callback is None:
                self._mark_notified(out.failed)
                out.failed.clear()
            done = self.scheduler.done
            if done is None and self.scheduler.ending:
                done = self._drain_timeout(now)
            self.end_reason = done
            dirty = out.dirty | {j.id for j in new_jobs}
            # A pass with nothing to carry out is saved later: after a crash its events are
            # read again from the saved cursor. Saved before any side effect, at housekeeping
            # (so the job table lags by a housekeeping period at most) and at the end.
            writes = None
            if (new_jobs or out.stops or out.archives or out.notify or out.failed
                    or out.replies or done is not None or housekeeping):
                writes = self._collect_writes(dirty, out.replies)
            else:
                self._dirty |= dirty
        if writes is not None:
            self._persist(new_jobs, *writes)
        self._enqueue(new_jobs)
        self._carry_out(out)
        if housekeeping:
            self._housekeeping(now)
        return done is not None

    def _mark_notified(self, job_ids: Iterable[str]) -> None:
        """Set the notified flag of jobs that need no callback (call under the lock); the
        flags are saved with the pass's rows."""
        for job_id in job_ids:
            self.scheduler.jobs[job_id].notified = True
            self._dirty.add(job_id)

    def _detach_now(self, out: Outcome) -> bool:
        """End the session (called under the lock): save the pass, carry out its stops and
        archive flags; its callbacks are left to the next session (their flags stay unset)."""
        out.notify.clear()
        out.failed.clear()
        writes = self._collect_writes(out.dirty, out.replies)
        self.detached = True
        self._persist([], *writes)
        self._carry_out(out)
        return True

    def _apply_event(self, event: Event, now: float) -> Outcome:
        if event.kind == "status":
            status = event.status
            assert status is not None
            # when the event happened (its stream id), not when it is read: a resumed
            # controller catching up must not count its downtime as run time (or miss it)
            return self.scheduler.on_status(event.task_id, status, _event_time(event, now),
                                            event.fields.get("reason", ""))
        if event.kind == "scalar":
            value = event.value
            iteration = event.iteration
            assert value is not None and iteration is not None
            return self.scheduler.on_scalar(event.task_id, event.fields["title"],
                                            event.fields["series"], iteration, value,
                                            event.stats)
        if (event.kind == "control" and event.fields.get("command") == "stop"
                and _event_time(event, now) >= self._session_started):
            # a stop posted by another process (the dashboard): as request_stop(). One posted
            # before this session (an earlier session's stop it did not read) is history.
            self.stop_reason = self.stop_reason or "stopped by user"
        if event.kind == MESSAGE_KIND:
            try:
                body = json.loads(event.fields.get("body", ""))
            except ValueError:
                log.warning("optimizer %s: unreadable request from %s ignored",
                            self.config.opt_id, event.task_id)
                return Outcome()
            return self.scheduler.on_message(event.task_id, body if isinstance(body, dict)
                                             else {})
        return Outcome()

    def _drain_timeout(self, now: float) -> str | None:
        """End anyway when stopped jobs do not finish within the workers' grace periods."""
        if self._ending_since is None:
            self._ending_since = now
        settings = self.store.settings
        if now - self._ending_since > settings.stop_grace + settings.heartbeat_grace + 10:
            log.warning("optimizer %s: jobs still active after stop: %s", self.config.opt_id,
                        sorted(self.scheduler.active))
            return self.scheduler.ending
        return None

    def _track_best(self, out: Outcome, now: float) -> None:
        best = self.scheduler.leaderboard.best()
        if best is not None and best != self._best_id:
            self._best_id = best
            job = self.scheduler.jobs[best]
            self._best.append(BestPoint(now, best, job.index,
                                        self.scheduler.leaderboard.values(best)))

    # -------------------------------------------------------------- persistence
    def state(self) -> SavedState:
        """The optimizer's saved state (call under the lock)."""
        return SavedState(cursor=self.cursor, saved_at=self.clock(),
                          strategy=self.scheduler.strategy.state_dict(),
                          scheduler=SchedulerState.of(self.scheduler), timing=self._timing,
                          budget=self._budget, resources=self._resources)

    def set_timing(self, timing: Timing) -> None:
        """The optimization's clock, saved with the state (elapsed time, time limit)."""
        with self.lock:
            self._timing = timing

    def _collect_writes(self, dirty: set[str], replies: list[Reply]
                        ) -> tuple[SavedState, list[Job], list[BestPoint], list[Reply]]:
        """What this pass saves (call under the lock): the state, the changed rows, the new best
        points, and the replies to the jobs' requests (saved with the state they depend on:
        :mod:`workers.messages`). The rows are encoded outside the lock, on the loop's thread,
        which is the only one that changes a job besides its ``sent`` flag (rewritten with the
        next pass)."""
        jobs = self.scheduler.jobs
        # (a job the sender marked sent may have gone with a resync: its row is not saved)
        rows = [jobs[jid] for jid in dirty | self._dirty if jid in jobs]
        self._dirty.clear()
        best, self._best = self._best, []
        return self.state(), rows, best, replies

    def _persist(self, new_jobs: list[Job], state: SavedState, rows: list[Job],
                 best: list[BestPoint], replies: list[Reply]) -> None:
        records = [self._job_record(job) for job in new_jobs]
        saved = self._write(lambda: self.saved.save_pass(
            self.config.opt_id, state, jobs=rows, best=best, new_records=records,
            queue=self.config.queue, replies=[(r.job_id, r.body) for r in replies]))
        # Skip this pass's own created -> queued events when nothing came before them (they
        # only echo what the pass wrote, and a read of them would cost the loop a wake-up and a
        # round trip). A resume reads them again: no-ops.
        self.cursor = saved.cursor_after(self.cursor)

    def _job_record(self, job: Job) -> dict[str, str]:
        base = self.config.base_record
        params = job.parameters
        base_name = base.name or "task"
        name = (self.config.naming(base_name, params) if self.config.naming
                else f"{base_name}: " + " ".join(
                    f"{k}={v}" for k, v in sorted(params.items())))
        extra = {"continue_from": job.continue_from} if job.continue_from else {}
        return clone_record(base, name=name, parent=self.config.opt_id,
                            project=self.config.project,
                            comment="\n".join(f"{k}={v}" for k, v in sorted(params.items())),
                            parameters=params,
                            tags=["optimization", f"opt: {self.config.opt_id}"],
                            extra={**extra, "created": repr(job.created_at)}, task_id=job.id)

    # ------------------------------------------------------------ side effects
    def _enqueue(self, jobs: list[Job]) -> None:
        sender = self._sender
        if sender is not None and sender.is_alive():
            for job in jobs:  # _persist wrote them queued
                self._outbox.put(job)
        else:
            self._send(jobs)

    def _send_loop(self) -> None:
        """Sender thread: send the persisted jobs' messages in order, each waiting group in one
        round trip. A failure ends it and the loop (unsent jobs are sent again on resume: their
        ``sent`` flag stays false)."""
        while True:
            jobs = [self._outbox.get()]
            while not self._outbox.empty() and jobs[-1] is not None:
                jobs.append(self._outbox.get())
            last = jobs[-1] is None
            try:
                self._send([j for j in jobs if j is not None])
            except BaseException as exc:  # noqa: BLE001 - the loop raises it
                self._send_error = exc
                # (if this fails too, the loop sees the error at its next pass)
                with contextlib.suppress(Exception):
                    self.store.post_control(self.config.opt_id, "wake")
                return
            if last:
                return

    def _stop_sender(self) -> None:
        """Send what is left, then end the sender thread."""
        if self._sender is not None and self._sender.is_alive():
            self._outbox.put(None)
            self._sender.join(timeout=60)

    def _send(self, jobs: list[Job]) -> None:
        """Send the trial messages of ``jobs`` (persisted as queued) and mark them sent."""
        if not jobs:
            return
        self.dispatcher.send([j.id for j in jobs], self.config.queue, self.config.opt_id,
                             {j.id: self._label(j) for j in jobs})
        with self.lock:
            for job in jobs:
                job.sent = True
                self._dirty.add(job.id)

    def _carry_out(self, out: Outcome) -> None:
        opt = self.config.opt_id
        for warning in out.warnings:
            log.warning("optimizer %s: %s", opt, warning)
        for stop in out.stops:
            self.dispatcher.stop(stop.job_id, opt, stop.reason)
        for change in out.archives:
            self.dispatcher.archive(change.job_id, change.archived)
        if out.notify:
            self._notify(*(note.job_id for note in out.notify),
                         best={note.job_id: note.best for note in out.notify})
        if out.failed:
            self._notify_failed(*out.failed)

    def _notify(self, *job_ids: str, best: dict[str, str | None] | None = None) -> None:
        """Run the completion callback of each job (once), then save their ``notified`` flags.
        ``best``: the best job when each ended (default: the best job now)."""
        def call(job: Job) -> Callable[[], None] | None:
            values = job.objective_values(self.scheduler.objective)
            if self.callback is None or values is None:
                return None
            callback, single = self.callback, len(values) == 1
            iterations = job.objective_iterations()
            top = (best or {}).get(job.id) or self.scheduler.leaderboard.best()
            return partial(callback, job.id, values[0] if single else values,
                           iterations[0] if single else iterations, dict(job.parameters), top)

        self._once(job_ids, call, "job_complete_callback")

    def _notify_failed(self, *job_ids: str) -> None:
        """Run the failure callback of each failed job (once), then save their flags."""
        def call(job: Job) -> Callable[[], None] | None:
            if self.failure_callback is None:
                return None
            return partial(self.failure_callback, job.id, job.reason, dict(job.parameters))

        self._once(job_ids, call, "job_failed_callback")

    def _once(self, job_ids: Iterable[str], prepare: Callable[[Job], Callable[[], None] | None],
              name: str) -> None:
        """For each job not notified yet: ``prepare(job)`` under the lock, then its call
        outside it (a callback that raises is logged); then the ``notified`` flags are set and
        saved in one write."""
        rows = []
        for job_id in job_ids:
            with self.lock:
                job = self.scheduler.jobs[job_id]
                if job.notified:
                    continue
                call = prepare(job)
            if call is not None:
                try:
                    call()
                except Exception:  # a user callback never stops the optimizer
                    log.exception("%s raised for job %s", name, job_id)
            with self.lock:
                job.notified = True
            rows.append(job)
        # one write for the pass, not one per job
        self._write(lambda: self.saved.save_rows(self.config.opt_id, rows))

    def _housekeeping(self, now: float) -> None:
        settings = self.store.settings
        self._next_housekeeping = now + self.config.housekeeping_seconds
        if not self.saved.renew_lease(self.config.opt_id, self.owner, LEASE_TTL):
            raise LeaseHeldError(f"optimizer {self.config.opt_id}: another controller took over")
        if self.health is not None and self.failure is None:
            self._check_health()
        if now >= self._next_report:
            self._next_report = now + self.config.report_seconds
            with self.lock:
                sched = self.scheduler
                self._budget = sched.budget.to_dict(sched.created, sched.iterations_used,
                                                    sched.compute_seconds(now))
                running = sum(j.status == TaskStatus.IN_PROGRESS for j in sched.active.values())
                self._resources = Resources(running, len(sched.active) - running, now)
        if now >= self._next_sweep:
            self._next_sweep = now + max(1.0, settings.heartbeat_grace / 3)
            sweep_stale(self.store, now, send=self._resend)
        if now >= self._next_consumer_check:
            self._next_consumer_check = now + NO_WORKER_WARNING
            self._check_consumers(now)

    def _check_health(self) -> None:
        """End the optimization, failed, when ``health`` says it cannot go on."""
        assert self.health is not None
        problem = self.health()
        if not problem:
            return
        self.failure = problem
        log.error("optimizer %s: %s", self.config.opt_id, problem)
        with self.lock:
            out = self.scheduler.end(problem)
            self._dirty |= out.dirty
        self._carry_out(out)

    def _check_consumers(self, now: float) -> None:
        """Warn once when trials have waited queued for ``NO_WORKER_WARNING`` seconds and no
        live worker consumes the execution queue (and again after one came and went)."""
        with self.lock:
            waiting = any(j.status != TaskStatus.IN_PROGRESS and j.sent
                          and now - j.created_at >= NO_WORKER_WARNING
                          for j in self.scheduler.active.values())
        if not waiting or self.dispatcher.consumed(self.config.queue):
            self._warned_no_worker = False
            return
        if not self._warned_no_worker:
            self._warned_no_worker = True
            log.warning("optimizer %s: trials are waiting on queue %r and no live worker "
                        "consumes it; start one with: hpq worker -Q %s", self.config.opt_id,
                        self.config.queue, self.config.queue)

    def _resend(self, task_id: str, queue: str, parent: str | None = None) -> None:
        """Send again a trial whose dead attempt the sweep put back in the queue."""
        with self.lock:
            job = self.scheduler.jobs.get(task_id)
        self.dispatcher.send([task_id], queue, parent,
                             {task_id: self._label(job)} if job is not None else None)

    def _label(self, job: Job) -> TrialLabel:
        """How the job's Celery task shows in Flower: ``trial #3 of optimizer <id>``, with its
        job id, optimizer id and parameters beside its arguments."""
        opt = self.config.opt_id
        return TrialLabel(f"hpq trial #{job.index} of optimizer {opt}",
                          {"job": job.id, "optimizer": opt, "parameters": job.parameters})

    # ------------------------------------------------------------------ resume
    def _take_lease(self) -> None:
        deadline = time.monotonic() + LEASE_TTL + 2
        while not self.saved.acquire_lease(self.config.opt_id, self.owner, LEASE_TTL):
            holder = self.saved.lease_holder(self.config.opt_id)
            if holder is not None and self._dead_attempt(holder):
                log.warning("optimizer %s: taking the lease of dead attempt %s",
                            self.config.opt_id, holder[len(ATTEMPT_OWNER):])
                self.saved.release_lease(self.config.opt_id, holder)
                continue
            if time.monotonic() > deadline:
                raise LeaseHeldError(f"optimizer {self.config.opt_id} is driven by another live "
                                     "controller")
            time.sleep(0.2)

    def _dead_attempt(self, holder: str) -> bool:
        """True if ``holder`` is an attempt of the optimizer task that is no longer its current
        one (the sweep declared it dead and a new attempt runs)."""
        if not holder.startswith(ATTEMPT_OWNER) or not self.owner.startswith(ATTEMPT_OWNER):
            return False
        (current,) = self.store.get_fields(self.config.opt_id, "attempt")
        return holder != self.owner and current != holder[len(ATTEMPT_OWNER):]

    def _redo_side_effects(self, *, resend_queued: bool = False) -> None:
        """After a resume: redo what a crash between persisting a pass and carrying it out may
        have lost -- stop requests, archive flags and callbacks of ended jobs -- then resend the
        messages of queued jobs that may never have been sent (with ``resend_queued``, of every
        queued job).

        A callback fires at least once: only a crash after it returned and before its
        ``notified`` flag was written makes it fire again here.
        """
        sched = self.scheduler
        opt = self.config.opt_id
        with self.lock:
            stops = [(j.id, j.reason) for j in sched.active.values() if j.reason]
            finished = [j for j in sched.jobs.values() if j.status.is_final]
            unnotified = [j.id for j in sorted(finished, key=lambda j: j.index)
                          if not j.notified and j.status in (TaskStatus.COMPLETED,
                                                             TaskStatus.STOPPED)
                          and j.objective_values(sched.objective) is not None]
            failed = [j.id for j in sorted(finished, key=lambda j: j.index)
                      if not j.notified and j.status == TaskStatus.FAILED]
        for job_id, reason in stops:
            self.dispatcher.stop(job_id, opt, reason)
        if sched.save_top_k is not None and finished:
            records = self.store.records(j.id for j in finished)
            for job, rec in zip(finished, records):
                if rec is not None and rec.archived != job.archived:
                    self.dispatcher.archive(job.id, job.archived)
        for job_id in unnotified:
            self._notify(job_id)
        self._notify_failed(*failed)
        with self.lock:
            pending = [j for j in self.scheduler.active.values() if resend_queued or not j.sent]
        if not pending:
            return
        records = self.store.records(j.id for j in pending)
        self._send([job for job, rec in zip(pending, records)
                    if rec is not None and rec.status is TaskStatus.QUEUED])


def _event_time(event: Event, now: float) -> float:
    """The time of an event: the milliseconds of its stream id (never later than ``now``)."""
    try:
        return min(now, int(event.id.split("-", 1)[0]) / 1000.0)
    except ValueError:
        return now

