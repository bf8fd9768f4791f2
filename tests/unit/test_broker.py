"""HPQ_BROKER_URL: Celery's broker apart from the store, and the settings each broker gets.

Nothing here connects to a broker (kombu connects lazily); the same settings against a real
RabbitMQ are in tests/integration (``@BOTH_BROKERS`` and test_rabbitmq.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from workers import app as app_module
from workers.config import CONSUMER_TIMEOUT_MS, Settings, is_amqp

AMQP = "amqp://user:secret@rabbit:5672/hpq"
REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def restore_app() -> Iterator[None]:
    """Leave the Celery app as it was (pointed at nothing, or at the test session's Redis)."""
    before = app_module.app.conf.broker_url
    yield
    app_module.configure(Settings(redis_url=None), before or REDIS)


def test_broker_defaults_to_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPQ_REDIS_URL", REDIS)
    monkeypatch.delenv("HPQ_BROKER_URL", raising=False)
    assert Settings.from_env().broker_url is None
    monkeypatch.setenv("HPQ_BROKER_URL", AMQP)
    settings = Settings.from_env()
    assert settings.broker_url == AMQP and settings.redis_url == REDIS


@pytest.mark.parametrize("url", ["http://rabbit:15672", "rabbit:5672", "memory://"])
def test_a_url_that_is_no_supported_broker_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                     url: str) -> None:
    monkeypatch.setenv("HPQ_BROKER_URL", url.replace("rabbit", "u:secret@rabbit"))
    with pytest.raises(ValueError, match="HPQ_BROKER_URL must start with one of") as info:
        Settings.from_env()
    assert "amqp://" in str(info.value) and "redis://" in str(info.value)
    assert "secret" not in str(info.value)  # the password is not echoed


def test_is_amqp() -> None:
    assert is_amqp(AMQP) and is_amqp("amqps://h//") and is_amqp("pyamqp://h//")
    assert not is_amqp(REDIS) and not is_amqp(None)


def test_rabbitmq_broker_settings(restore_app: None) -> None:
    settings = Settings(redis_url=REDIS, broker_url=AMQP)
    app = app_module.configure(settings, REDIS)
    conf = app.conf
    assert conf.broker_url == AMQP
    # the guarantees of the Redis broker hold: late acks, requeue on a lost pool process,
    # one message reserved per process
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    # and RabbitMQ's: publisher confirms, a reconnect (not a stop) on a channel error such as
    # a consumer timeout, running trials kept across a reconnect
    assert conf.broker_transport_options == {"confirm_publish": True}
    assert conf.broker_channel_error_retry
    assert not conf.worker_cancel_long_running_tasks_on_connection_loss
    # every execution queue, the default one and those named at run time, is declared with
    # RabbitMQ's per-queue consumer timeout
    queues = app.amqp.queues
    assert queues["trials-gpu"].queue_arguments == {"x-consumer-timeout": CONSUMER_TIMEOUT_MS}
    assert app.amqp.default_queue.queue_arguments == {"x-consumer-timeout": CONSUMER_TIMEOUT_MS}
    assert queues["trials-gpu"].durable


def test_redis_broker_keeps_its_visibility_timeout(restore_app: None) -> None:
    settings = Settings(redis_url=REDIS)
    app = app_module.configure(settings, REDIS)
    assert app.conf.broker_url == REDIS
    assert app.conf.broker_transport_options == {
        "visibility_timeout": settings.visibility_timeout}
    assert not app.amqp.queues["trials-gpu"].queue_arguments


def test_switching_broker_forgets_the_old_one(restore_app: None) -> None:
    app = app_module.configure(Settings(redis_url=REDIS), REDIS)
    redis_queues = app.amqp.queues
    assert app.pool.connection.transport_cls == "redis"
    app_module.configure(Settings(redis_url=REDIS, broker_url=AMQP), REDIS)
    assert app.amqp.queues is not redis_queues
    assert app.pool.connection.transport_cls == "amqp"
    assert app.amqp.queues["q"].queue_arguments == {"x-consumer-timeout": CONSUMER_TIMEOUT_MS}
