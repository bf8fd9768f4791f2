"""Finding dead attempts, and the small supervisor thread each worker runs.

A running attempt refreshes its heartbeat every ``HPQ_HEARTBEAT_INTERVAL`` seconds. When a whole
worker dies (SIGKILL, lost machine), Celery would redeliver its messages only after the visibility
timeout (longer than a trial). Instead, :func:`sweep_stale` -- run by every worker's supervisor and
by the optimizer's loop -- declares attempts whose heartbeat is older than
``HPQ_HEARTBEAT_GRACE`` dead, and re-sends the trials that have attempts left. Several sweepers
may race: the compare-and-set lets exactly one of them win and re-send.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import cast

from celery import signals

from .connection import retry_for
from .status import TaskStatus
from .store import Store, get_store

log = logging.getLogger("hpqueue.sweep")


def sweep_stale(store: Store, now: float | None = None,
                send: Callable[..., None] | None = None) -> list[tuple[str, TaskStatus]]:
    """Declare dead every attempt whose heartbeat is older than the grace period.

    Trials with attempts left go back to ``queued`` and are re-sent with ``send(task_id, queue)``
    (default: Celery; ``parent`` is passed as a keyword). Returns ``(task_id, new status)`` for
    each attempt this call ended.
    """
    if send is None:
        send = functools.partial(_send_trial, store)
    now = time.time() if now is None else now
    grace = store.settings.heartbeat_grace
    if store.outage is not None and now < store.outage.recovered_at + grace:
        # this process could not reach Redis until recently, nor could the workers, probably:
        # their heartbeats get the grace period again, counted from the end of the outage
        return []
    stale_before = now - grace
    ended = []
    for task_id, _ in store.stale_attempts(stale_before):
        try:
            attempt, parent, queue = store.get_fields(task_id, "attempt", "parent", "queue")
        except KeyError:
            store.redis.zrem(store.keys.heartbeats, task_id)
            continue
        new = store.declare_dead(task_id, parent or None, attempt or "", reason="heartbeat lost",
                                 stale_before=stale_before, now=now)
        if new is None:
            continue
        log.warning("trial %s: heartbeat lost -> %s", task_id, new)
        if new is TaskStatus.QUEUED:
            send(task_id, queue or "default", parent=parent or None)
        ended.append((task_id, new))
    return ended


def _send_trial(store: Store, task_id: str, queue: str, parent: str | None = None) -> None:
    """Celery's send, tried again during a Redis outage (the trial is queued: it must not be
    left without a message)."""
    from .app import PUBLISH_ERRORS, send_trial

    retry_for(store.settings.outage_seconds, f"re-sending trial {task_id}",
              lambda: send_trial(task_id, queue, parent=parent), errors=PUBLISH_ERRORS)


class Supervisor(threading.Thread):
    """Runs in a worker's main process: sweeps dead attempts and registers the worker.

    With ``HPQ_PARENT_PID`` set (local mode), it also shuts the worker down when that process
    is gone, so local workers never outlive the script that started them.
    """

    def __init__(self, hostname: str, queues: list[str]) -> None:
        super().__init__(name="hpq-supervisor", daemon=True)
        self.hostname = hostname
        self.queues = queues
        parent = os.environ.get("HPQ_PARENT_PID")
        self.parent_pid = int(parent) if parent and parent.isdigit() else None

    def run(self) -> None:
        store = get_store()
        period = max(1.0, min(store.settings.heartbeat_grace / 3, 10.0))
        key = store.keys.worker(self.hostname)
        while True:
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                log.warning("parent process %s is gone; shutting down", self.parent_pid)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            try:
                store.redis.set(key, ",".join(self.queues), ex=int(period * 3) + 1)
                sweep_stale(store)
            except Exception as exc:  # noqa: BLE001 - never let the supervisor die on a Redis blip
                log.warning("sweep failed: %s", exc)
            time.sleep(period if self.parent_pid is None else min(period, 1.0))


def live_workers(store: Store) -> dict[str, list[str]]:
    """Workers that registered within the last few sweep periods: ``{hostname: [queues]}``."""
    prefix = store.keys.worker("")
    names = list(store.redis.scan_iter(match=prefix + "*", count=1000))
    values = cast(list[str | None], store.redis.mget(names)) if names else []
    return {n[len(prefix):]: (v or "").split(",") for n, v in zip(names, values) if v is not None}


@signals.worker_ready.connect
def _start_supervisor(sender: object = None, **_: object) -> None:
    consumer = getattr(sender, "consumer", None) or sender
    queues = []
    try:
        queues = sorted(q.name for q in consumer.task_consumer.queues)  # type: ignore[union-attr]
    except AttributeError:
        pass
    hostname = getattr(sender, "hostname", None) or socket.gethostname()
    Supervisor(str(hostname), queues).start()
