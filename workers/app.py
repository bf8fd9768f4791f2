"""The Celery app that runs trials, configured from the environment.

Start a worker with ``hpq worker -Q default -c 4`` or ``celery -A workers.app worker -Q default``.

Delivery settings (see the README's "Reliability" section): late acks, requeue when a pool process
dies, one message reserved per process, JSON only, and a visibility timeout longer than the longest
allowed trial, so that Celery never redelivers a trial that is still running.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

from celery import Celery

from .config import Settings

TRIAL_TASK = "hpq.run_trial"

app = Celery("hpqueue", include=["workers.runner"])
_configured_url: str | None = None
_lock = threading.Lock()


def configure(settings: Settings, url: str) -> Celery:
    """Point the app at ``url`` with hpqueue's delivery settings; returns the app."""
    global _configured_url
    vt = settings.visibility_timeout
    app.conf.update(
        broker_url=url,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": vt},
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.max_trial_seconds,
        task_time_limit=settings.max_trial_seconds + settings.stop_grace + 60,
        task_default_queue="default",
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
    )
    _configured_url = url
    return app


def ensure_configured() -> Celery:
    """Configure the app for the process's store (starting local mode if needed) once."""
    if _configured_url is None:
        with _lock:
            if _configured_url is None:
                from .store import get_store

                store = get_store()
                configure(store.settings, store.url or "")
    return app


def send_trial(task_id: str, queue: str, parent: str | None = None, *,
               producer: Any = None) -> None:
    """Send one trial of ``task_id`` to the workers of ``queue``.

    ``parent`` (the record's parent) saves the worker a read; ``producer`` publishes through a
    given kombu producer (e.g. inside ``producer.batch()``).
    """
    ensure_configured().send_task(TRIAL_TASK, args=[task_id],
                                  kwargs={"parent": parent} if parent else None, queue=queue,
                                  producer=producer)


_settings = Settings.from_env()
if _settings.redis_url:
    configure(_settings, _settings.redis_url)


def send_trials(task_ids: Sequence[str], queue: str, parent: str | None = None) -> None:
    """Send the trials of ``task_ids`` (children of ``parent``) in one round trip where kombu
    can batch publications (kombu >= 5.7), else one after the other."""
    with ensure_configured().producer_or_acquire() as producer:
        batch = getattr(producer, "batch", None)
        with batch() if batch is not None else contextlib.nullcontext():
            for task_id in task_ids:
                send_trial(task_id, queue, parent, producer=producer)
