"""The Celery app that runs trials, configured from the environment.

Start a worker with ``hpq worker -Q default -c 4`` or ``celery -A workers.app worker -Q default``.

Delivery settings (see the README's "Reliability" section): late acks, requeue when a pool process
dies, one message reserved per process, JSON only, and a visibility timeout longer than the longest
allowed trial, so that Celery never redelivers a trial that is still running.

The broker is the store's Redis unless ``HPQ_BROKER_URL`` names another one. With RabbitMQ
(``amqp://``) the same settings hold, and in addition: publisher confirms (a trial message the
broker did not accept raises in the sender), durable queues declared with a long
``x-consumer-timeout`` (:data:`~workers.config.CONSUMER_TIMEOUT_MS`) so that RabbitMQ >= 3.12 does
not cancel the consumer of a long trial, and running trials are kept when the broker connection
drops (the message RabbitMQ then redelivers is a duplicate that the runner recognises).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from celery import Celery, signals
from celery.app.amqp import AMQP, Queues
from celery.utils.saferepr import saferepr
from kombu import Queue
from kombu import exceptions as kombu_errors

from . import gpus
from .config import CONSUMER_TIMEOUT_MS, Settings, is_amqp
from .connection import CONNECTION_ERRORS, broker_settings, publish_retry_policy

TRIAL_TASK = "hpq.run_trial"
#: Longest text of a trial's arguments shown by monitors (Celery's default for ``kwargsrepr``).
REPR_MAX = 1024
#: What publishing a message raises while Redis cannot be reached (kombu >= 5.7 raises
#: BatchPublishError when a batch fails halfway: sending it again is safe for trials).
PUBLISH_ERRORS: tuple[type[BaseException], ...] = (
    *CONNECTION_ERRORS, kombu_errors.OperationalError,
    getattr(kombu_errors, "BatchPublishError", kombu_errors.OperationalError))


class _Queues(Queues):
    """Celery's table of queues, every one declared with ``arguments`` (may be empty)."""

    def __init__(self, *args: Any, arguments: dict[str, Any], **kwargs: Any) -> None:
        self.arguments = arguments
        super().__init__(*args, **kwargs)

    def __setitem__(self, name: str, queue: Queue) -> None:
        if self.arguments:
            declared: Any = queue  # kombu's Queue is untyped here
            declared.queue_arguments = {**self.arguments, **(declared.queue_arguments or {})}
        super().__setitem__(name, queue)


class _AMQP(AMQP):
    """Celery's messaging layer, with the queue arguments of :func:`queue_arguments`."""

    def queues_cls(self, *args: Any, **kwargs: Any) -> Queues:  # type: ignore[override]
        return _Queues(*args, arguments=queue_arguments(self.app.conf.broker_url), **kwargs)


def queue_arguments(broker_url: str | None) -> dict[str, Any]:
    """The arguments hpqueue declares every execution queue with on ``broker_url``."""
    return {"x-consumer-timeout": CONSUMER_TIMEOUT_MS} if is_amqp(broker_url) else {}


app = Celery("hpqueue", include=["workers.runner"], amqp=_AMQP)


@signals.worker_init.connect
def _gpu_slot_table(**_: Any) -> None:
    """GPU slots (hpq worker --gpus): the table, in the worker's main process."""
    gpus.init_worker()


@signals.worker_process_init.connect
def _gpu_slot(**_: Any) -> None:
    """GPU slots: each pool process takes one as it starts."""
    gpus.init_pool_process()
_configured_url: str | None = None
_lock = threading.Lock()


def configure(settings: Settings, url: str) -> Celery:
    """Point the app at its broker (``settings.broker_url``, else the store's ``url``) with
    hpqueue's delivery settings; returns the app."""
    global _configured_url
    broker = settings.broker_url or url
    if app.conf.broker_url != broker:
        _forget_broker()
    amqp = is_amqp(broker)
    # a Redis broker's URL may be rediss:// (TLS options in its query) or sentinel://
    connection = {} if amqp else broker_settings(broker, sentinel_master=settings.sentinel_master)
    broker_url = connection.pop("broker_url", broker)
    transport = ({"confirm_publish": True} if amqp else
                 {"visibility_timeout": settings.visibility_timeout,
                  **connection.pop("broker_transport_options")})
    app.conf.update(
        broker_url=broker_url,
        # set every time: a process that used a rediss:// broker before must not keep its TLS
        # options for the next broker (an amqp:// one fails on them)
        broker_use_ssl=connection.pop("broker_use_ssl", False),
        **connection,
        broker_connection_retry_on_startup=True,
        broker_transport_options=transport,
        # A Redis restart could kill a worker in the remote-control (pidbox) reader: its pub/sub
        # connection fails while Redis is down, the consumer then closes the broker connection,
        # and restoring the unacked messages on a channel whose transport was already detached
        # raises AttributeError ('NoneType' object has no attribute 'hostname'), which Celery
        # treats as fatal. hpqueue needs no remote control (stops go through Redis, workers
        # register in Redis); the cost: `celery inspect`/`celery control` and Flower's worker
        # pages get no answer from hpqueue's workers.
        worker_enable_remote_control=False,
        # publishing a trial rides out a broker outage as the store does
        task_publish_retry_policy=publish_retry_policy(settings.outage_seconds),
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        # a failed trial's task raises TrialFailed: acknowledged, never redelivered
        task_acks_on_failure_or_timeout=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.max_trial_seconds,
        task_time_limit=settings.max_trial_seconds + settings.stop_grace + 60,
        task_default_queue="default",
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        # a lost broker connection (RabbitMQ requeues the messages of a closed channel) must not
        # cancel running trials: their redelivered messages are handled as duplicates
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # RabbitMQ closes the channel of a delivery unacknowledged past its consumer timeout (a
        # server setting before RabbitMQ 3.12): reconnect instead of stopping the worker
        broker_channel_error_retry=True,
    )
    _configured_url = url
    return app


def _forget_broker() -> None:
    """Stop using the connections and queue declarations made for a previous broker (kombu
    keeps its pools per broker: they are reused if that broker comes back)."""
    app._pool = None
    app.__dict__.pop("amqp", None)  # a cached property: rebuilt on next use


def ensure_configured() -> Celery:
    """Configure the app for the process's store (starting local mode if needed) once."""
    if _configured_url is None:
        with _lock:
            if _configured_url is None:
                from .store import get_store

                store = get_store()
                configure(store.settings, store.url or "")
    return app


@dataclass(frozen=True)
class TrialLabel:
    """How a trial's Celery task shows in monitors such as Flower: ``name`` in place of the
    task's name (Celery's ``shadow``: also in the worker's log lines), ``details`` beside its
    arguments (its ``kwargsrepr``). The task itself is unchanged."""

    name: str
    details: Mapping[str, Any] = field(default_factory=dict)


def send_trial(task_id: str, queue: str, parent: str | None = None, *,
               label: TrialLabel | None = None, producer: Any = None) -> None:
    """Send one trial of ``task_id`` to the workers of ``queue``.

    ``parent`` (the record's parent) saves the worker a read; ``label`` names the trial in
    monitors; ``producer`` publishes through a given kombu producer (e.g. inside
    ``producer.batch()``).
    """
    kwargs = {"parent": parent} if parent else {}
    shown: dict[str, str] = {"argsrepr": shown_repr([task_id])}
    if label is not None:
        shown.update(shadow=label.name, kwargsrepr=shown_repr({**kwargs, **label.details}))
    ensure_configured().send_task(TRIAL_TASK, args=[task_id], kwargs=kwargs or None,
                                  queue=queue, producer=producer, **shown)


def shown_repr(value: Any) -> str:
    """Celery's ``saferepr(value, REPR_MAX)`` (what monitors show of a task's arguments).

    A trial's arguments are usually flat (ids, numbers, plain strings, a parameters dict): for
    them the text is ``repr(value)``, the same and ten times cheaper; anything else, or a text
    longer than :data:`REPR_MAX`, goes through ``saferepr``."""
    if _plain(value, 1):
        text = repr(value)
        if len(text) <= REPR_MAX:
            return text
    return saferepr(value, REPR_MAX)


def _plain(value: Any, level: int) -> bool:
    """True if ``saferepr`` shows ``value`` (at nesting ``level``, 1 = top) exactly as ``repr``:
    None, bools, numbers, strings with no quote, backslash or unprintable character, and dicts
    (string keys) or lists of those down to Celery's default ``task_repr_maxlevels`` (3)."""
    if value is None or type(value) in (bool, int, float):
        return True
    if type(value) is str:
        return value.isprintable() and "'" not in value and "\\" not in value
    if level > 3 or type(value) not in (dict, list):
        return False
    if type(value) is dict:
        return all(_plain(k, level) and type(k) is str and _plain(v, level + 1)
                   for k, v in value.items())
    return all(_plain(v, level + 1) for v in value)


_settings = Settings.from_env()
if _settings.redis_url:
    configure(_settings, _settings.redis_url)


def send_trials(task_ids: Sequence[str], queue: str, parent: str | None = None,
                labels: Mapping[str, TrialLabel] | None = None) -> None:
    """Send the trials of ``task_ids`` (children of ``parent``; ``labels`` by task id) in one
    round trip where kombu can batch publications (kombu >= 5.7), else one after the other."""
    labels = labels or {}
    with ensure_configured().producer_or_acquire() as producer:
        batch = getattr(producer, "batch", None)
        with batch() if batch is not None else contextlib.nullcontext():
            for task_id in task_ids:
                send_trial(task_id, queue, parent, label=labels.get(task_id), producer=producer)
