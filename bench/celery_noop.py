"""The raw-Celery baseline of the overhead benchmark: a trivial task on hpqueue's own Celery app.

The benchmark's worker imports this module with ``celery worker -I bench.celery_noop``, so raw
tasks and hpqueue trials run in the very same worker processes, with the same app configuration
(late acks, prefetch 1, JSON) and the same Redis. Like the trivial trial, the task makes one Redis
write (an INCR, the analogue of reporting one scalar); the last task also pushes its completion
time, which the benchmark waits for with BLPOP.
"""

from __future__ import annotations

import time

from workers.app import app

NOOP_TASK = "hpq.bench.noop"


@app.task(name=NOOP_TASK)
def noop(counter_key: str, total: int, done_key: str) -> None:
    from workers.store import get_store

    client = get_store().redis
    if client.incr(counter_key) == total:
        client.rpush(done_key, repr(time.time()))
