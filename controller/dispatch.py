"""How the optimizer's loop reaches the trials it launched: send, stop, archive.

The :class:`~controller.driver.Driver` gets a :class:`Dispatcher`; it never imports a transport.
:class:`CeleryDispatcher` is the default (trial messages through Celery);
:class:`InProcessDispatcher` runs every trial on a thread of this process with the real
:class:`~workers.runner.TrialRunner` -- the same claim, heartbeat, reports and finish as a worker,
without Celery -- for tests, notebooks and measuring the controller alone.

Pass one to ``HyperParameterOptimizer(..., dispatcher=...)``, or install a process-wide default
with :func:`set_dispatcher` (as :func:`workers.set_store` does for the store).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from queue import SimpleQueue
from typing import Protocol

from workers.app import PUBLISH_ERRORS, TrialLabel, send_trials
from workers.connection import retry_for
from workers.errors import TaskNotFoundError
from workers.store import Store
from workers.sweep import live_workers


class Dispatcher(Protocol):
    """The loop's side effects on trials (each may be called from the loop's threads)."""

    def send(self, task_ids: Sequence[str], queue: str, parent: str | None = None,
             labels: Mapping[str, TrialLabel] | None = None) -> None:
        """Have the trials of ``task_ids`` (queued children of ``parent``) run from ``queue``;
        ``labels`` (by task id) name them where the transport can show it (Flower)."""

    def stop(self, task_id: str, parent: str | None, reason: str) -> None:
        """Ask a trial to stop (at once while queued, cooperatively while it runs)."""

    def archive(self, task_id: str, archived: bool) -> None:
        """Set or clear the archived flag of a finished trial."""

    def consumed(self, queue: str) -> bool:
        """Whether anything live takes trials from ``queue`` now (the loop warns when queued
        trials wait on a queue nothing consumes)."""


class StoreDispatcher:
    """Stops and archive flags go through the store, whatever runs the trials."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def stop(self, task_id: str, parent: str | None, reason: str) -> None:
        self.store.request_stop(task_id, parent, reason)

    def archive(self, task_id: str, archived: bool) -> None:
        try:
            self.store.set_fields(task_id, {"archived": "1" if archived else "0"})
        except TaskNotFoundError:  # deleted, or lost with the last writes before a restart
            pass


class CeleryDispatcher(StoreDispatcher):
    """Trial messages to Celery workers (one round trip per batch where kombu can batch)."""

    def send(self, task_ids: Sequence[str], queue: str, parent: str | None = None,
             labels: Mapping[str, TrialLabel] | None = None) -> None:
        """Publish the messages; during a Redis outage, try again for up to
        ``HPQ_REDIS_OUTAGE_SECONDS`` (a message published twice is harmless: a trial runs only
        from ``queued``, once)."""
        retry_for(self.store.settings.outage_seconds, "sending trial messages",
                  lambda: send_trials(task_ids, queue, parent, labels), errors=PUBLISH_ERRORS)

    def consumed(self, queue: str) -> bool:
        """A worker that registered within the last few sweep periods lists ``queue``."""
        return any(queue in queues for queues in live_workers(self.store).values())


class InProcessDispatcher(StoreDispatcher):
    """Runs the trials it is sent on threads of this process (the queue name is not used).

    ``threads=None`` starts each trial at once on a thread of its own (the optimizer's
    concurrency bounds how many run); ``threads=n`` runs them in the order sent on ``n`` threads,
    as a worker with ``n`` processes does. Trials running at the same time share ``sys.stdout``:
    the output tail saved on their records is exact only with ``threads=1``.
    """

    def __init__(self, store: Store, threads: int | None = None) -> None:
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):
            raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
        super().__init__(store)
        self.threads = threads
        self._waiting: SimpleQueue[str | None] = SimpleQueue()
        self._pool: list[threading.Thread] = []
        self._unfinished = 0
        self._idle = threading.Condition()

    def send(self, task_ids: Sequence[str], queue: str, parent: str | None = None,
             labels: Mapping[str, TrialLabel] | None = None) -> None:
        for task_id in task_ids:
            self.run_trial(task_id)

    def consumed(self, queue: str) -> bool:
        """This process runs what it is sent."""
        return True

    def run_trial(self, task_id: str) -> None:
        """Run the trial of ``task_id``: now on a new thread, or once a pool thread is free."""
        with self._idle:
            self._unfinished += 1
            if self.threads is None:
                self._start(self._run, task_id)
                return
            self._waiting.put(task_id)
            if not self._pool:
                self._pool = [self._start(self._drain) for _ in range(self.threads)]

    def close(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the trials sent so far to end, then let the pool's
        threads end; True if every trial has ended."""
        with self._idle:
            ended = self._idle.wait_for(lambda: self._unfinished == 0, timeout)
            pool, self._pool = self._pool, []
        for _ in pool:
            self._waiting.put(None)
        return ended

    @staticmethod
    def _start(target: Callable[..., None], *args: str) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name="hpq-in-process-trial",
                                  daemon=True)
        thread.start()
        return thread

    def _drain(self) -> None:
        while (task_id := self._waiting.get()) is not None:
            self._run(task_id)

    def _run(self, task_id: str) -> None:
        from workers.runner import TrialRunner  # (a Celery controller never needs it)

        try:
            # built in the thread that runs the trial: a stop interrupts that thread
            TrialRunner(self.store, task_id).run()
        finally:
            with self._idle:
                self._unfinished -= 1
                self._idle.notify_all()


_default: Dispatcher | None = None


def set_dispatcher(dispatcher: Dispatcher | None) -> None:
    """Install the process's default dispatcher (None: back to Celery)."""
    global _default
    _default = dispatcher


def get_dispatcher(store: Store) -> Dispatcher:
    """The process's default dispatcher: the one installed, else Celery on ``store``."""
    return _default if _default is not None else CeleryDispatcher(store)
