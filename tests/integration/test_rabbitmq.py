"""RabbitMQ's consumer timeout against a trial that runs longer, on a private RabbitMQ node.

RabbitMQ closes the channel of a delivery left unacknowledged past ``consumer_timeout`` (30 min
by default). hpqueue acknowledges a trial's message when the trial ends, so a long trial would
trip it. Servers from 3.12 honour the ``x-consumer-timeout`` argument hpqueue declares every
execution queue with; on older ones the channel is closed, the worker reconnects (instead of
stopping) and the redelivered message is a duplicate that writes nothing. Either way the trial
runs once. The timeout is lowered to 2 s on a node of the test's own: the shared broker's
settings are not touched. The faults that apply to any broker (killed pool process, killed
worker, duplicate delivery) run on RabbitMQ in test_workers.py (``@BOTH_BROKERS``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import wait_until
from tests.integration.rabbitmq_node import Node, server_script, start_node
from tests.integration.worker_support import (
    has_scalar,
    make_clone,
    start_workers,
    statuses_of,
)
from workers import Store, TaskStatus
from workers.config import CONSUMER_TIMEOUT_MS

CONSUMER_TIMEOUT = 2.0
#: How often the node looks for timed-out deliveries (RabbitMQ's default: every minute).
TICK = 0.5
#: Servers that honour a queue's x-consumer-timeout.
QUEUE_TIMEOUT_SINCE = (3, 12)

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]


@pytest.fixture(scope="module")
def short_timeout_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A private node whose consumer timeout is 2 s, checked every 0.5 s."""
    if server_script() is None:
        pytest.skip("no rabbitmq-server installed to start a private node with")
    node = start_node(tmp_path_factory.mktemp("rabbitmq"),
                      f"consumer_timeout = {int(CONSUMER_TIMEOUT * 1000)}",
                      advanced=f"[{{rabbit, [{{channel_tick_interval, {int(TICK * 1000)}}}]}}].")
    yield node
    node.stop()


@pytest.fixture
def store_on_node(short_timeout_node: Node, real_env: dict[str, str],
                  monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Store:
    """The real Redis store, with Celery's broker on the private node."""
    monkeypatch.setenv("HPQ_BROKER_URL", short_timeout_node.url)
    return request.getfixturevalue("real_store")


def queue_arguments(node: Node, queue: str) -> Any:
    """The arguments ``queue`` was declared with (``rabbitmqctl list_queues``)."""
    rows = json.loads(node.ctl("list_queues", "name", "arguments", "--formatter", "json"))
    args = next(row["arguments"] for row in rows if row["name"] == queue)
    # a mapping, or (RabbitMQ 3.10) a list of [name, type, value] triples
    return args if isinstance(args, dict) else {a[0]: a[-1] for a in args}


@pytest.mark.timeout(120)
def test_trial_outlives_the_consumer_timeout(store_on_node: Store, short_timeout_node: Node,
                                             queue: str, tmp_path: Path) -> None:
    version = short_timeout_node.version()
    release = tmp_path / "release"
    clone = make_clone("hold", parameters={"General/release": str(release)})
    with start_workers(store_on_node, queue, concurrency=2) as workers:
        clone.enqueue(queue)
        wait_until(lambda: has_scalar(clone, "train", "loss", 0), 60, "the trial to start")
        before = clone.record
        started = time.monotonic()
        if version >= QUEUE_TIMEOUT_SINCE:
            # the queue's own timeout (30 days) wins over the server's 2 s
            wait_until(lambda: time.monotonic() - started > 3 * CONSUMER_TIMEOUT + 2 * TICK, 30,
                       "the trial to outlive the server's consumer timeout", poll=0.1)
        else:
            # the server closes the channel; the worker reconnects and gets the message again
            wait_until(lambda: "delivery acknowledgement on channel" in
                       workers.log_path.read_text(), 60,
                       "RabbitMQ to close the channel of the unacknowledged trial")
        # a later trial on the queue ends after the (redelivered) message was handled by the
        # free pool process: the worker still consumes, and the duplicate wrote nothing
        sentinel = make_clone("quick")
        sentinel.enqueue(queue)
        assert sentinel.wait_for_status(timeout=60) is TaskStatus.COMPLETED
        assert workers.proc.poll() is None
        during = clone.record
        assert during["status"] == "in_progress"
        for field in ("attempt", "attempts", "worker", "started"):
            assert during[field] == before[field], field
        if version >= QUEUE_TIMEOUT_SINCE:
            assert "timed out" not in workers.log_path.read_text()
        release.touch()
        assert clone.wait_for_status(timeout=60) is TaskStatus.COMPLETED, clone.record
        workers.stop(timeout=30)
    assert workers.proc.returncode == 0  # a warm shutdown, not a crash on the channel error
    assert clone.attempts == 1 and clone.output == "released\n"
    assert statuses_of(store_on_node, clone) == ["queued", "in_progress", "completed"]
    assert clone.get_reported_scalars()["train"]["loss"] == {"x": [0, 1], "y": [1.0, 0.5]}
    assert queue_arguments(short_timeout_node, queue) == {"x-consumer-timeout":
                                                          CONSUMER_TIMEOUT_MS}
