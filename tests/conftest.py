"""Shared fixtures: a fakeredis store for unit tests; a real redis-server and real Celery workers
for integration tests.

Integration tests use ``HPQ_TEST_REDIS_URL`` if set, else start their own ``redis-server`` on a
free port. Each test gets its own key namespace and its own Celery queue, and deletes only the
keys of its namespace: a database it did not create is never flushed.

A test parametrized with ``broker`` (indirectly: ``"redis"`` or ``"rabbitmq"``) runs its workers
on that Celery broker; RabbitMQ is ``HPQ_TEST_AMQP_URL`` (default: the local one, guest/guest),
and the test's queue and exchange are deleted from it afterwards. Without a RabbitMQ these tests
are skipped, unless ``HPQ_TEST_REQUIRE_RABBITMQ`` is set (CI), which makes them fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pytest

from tests.helpers import running_workers
from workers import Store, set_store
from workers.config import Settings
from workers.procs import start_redis_server

ROOT = Path(__file__).resolve().parent.parent


def _settings(namespace: str, tmp_path: Path, **overrides: object) -> Settings:
    base = Settings(redis_url=None, namespace=namespace, home=tmp_path / "home",
                    artifacts_dir=tmp_path / "artifacts")
    return Settings(**{**base.__dict__, **overrides})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A Store on a private fakeredis server, installed as the process default."""
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    st = Store(client, "t", _settings("t", tmp_path, heartbeat_grace=5.0))
    set_store(st)
    yield st
    set_store(None)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real Redis: HPQ_TEST_REDIS_URL, or a redis-server started for this session."""
    if os.environ.get("HPQ_TEST_REDIS_URL"):
        yield os.environ["HPQ_TEST_REDIS_URL"]
        return
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server on PATH and HPQ_TEST_REDIS_URL unset")
    with start_redis_server(tmp_path_factory.mktemp("redis"),
                            config={"save": "", "appendonly": "no"}) as server:
        yield server.url


DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """URL of a RabbitMQ that answers (HPQ_TEST_AMQP_URL or the local one); else skip."""
    from kombu import Connection

    url = os.environ.get("HPQ_TEST_AMQP_URL") or DEFAULT_AMQP_URL
    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - any failure means: no broker for this test
        reason = (f"no RabbitMQ answers at {Connection(url).as_uri()} ({exc}); start "
                  "rabbitmq-server or set HPQ_TEST_AMQP_URL")
        if os.environ.get("HPQ_TEST_REQUIRE_RABBITMQ"):  # CI: a missing broker is a failure
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture
def broker(request: pytest.FixtureRequest) -> str:
    """The Celery broker of the test's workers: "redis" (the store's) unless parametrized."""
    name = getattr(request, "param", "redis")
    assert name in ("redis", "rabbitmq"), name
    return name


@pytest.fixture
def real_env(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broker: str,
             request: pytest.FixtureRequest) -> dict[str, str]:
    """Environment for one integration test: its own namespace, short heartbeat timings, and
    HPQ_BROKER_URL when the test runs on RabbitMQ."""
    env = {
        "HPQ_REDIS_URL": redis_url,
        "HPQ_NAMESPACE": f"test{uuid.uuid4().hex[:10]}",
        "HPQ_HOME": str(tmp_path / "home"),
        "HPQ_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "HPQ_HEARTBEAT_INTERVAL": "0.2",
        "HPQ_HEARTBEAT_GRACE": "2",
        "HPQ_STOP_GRACE": "3",
        # the tests audit every event of an ended optimization (tests/helpers.py)
        "HPQ_TRIM_EVENTS": "0",
    }
    if broker == "rabbitmq":
        env["HPQ_BROKER_URL"] = request.getfixturevalue("amqp_url")
    else:
        monkeypatch.delenv("HPQ_BROKER_URL", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return env


@pytest.fixture
def real_store(real_env: dict[str, str]) -> Iterator[Store]:
    """A Store on the real Redis (own namespace), installed as default; Celery pointed at it."""
    from workers import app as app_module

    settings = Settings.from_env()
    st = Store.connect(real_env["HPQ_REDIS_URL"], settings)
    set_store(st)
    app_module.configure(settings, real_env["HPQ_REDIS_URL"])
    yield st
    set_store(None)
    keys = list(st.redis.scan_iter(match=f"{settings.namespace}:*", count=1000))
    for i in range(0, len(keys), 500):
        st.redis.delete(*keys[i:i + 500])


@pytest.fixture
def queue(broker: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A Celery queue name private to the test (deleted from RabbitMQ afterwards)."""
    name = f"q{uuid.uuid4().hex[:10]}"
    yield name
    if broker == "rabbitmq":
        delete_amqp_queue(request.getfixturevalue("amqp_url"), name)


def delete_amqp_queue(url: str, name: str) -> None:
    """Delete the queue ``name`` and its exchange (Celery declares one per queue) on ``url``."""
    from kombu import Connection

    with Connection(url, connect_timeout=3) as conn:
        channel = conn.channel()
        channel.queue_delete(name)
        channel.exchange_delete(name)


@pytest.fixture
def local_workers(real_store: Store, queue: str) -> Iterator[object]:
    """Two real Celery prefork worker processes consuming the test's queue."""
    assert real_store.url is not None
    with running_workers(real_store.url, queue, 2) as workers:
        yield workers


@pytest.fixture(autouse=True)
def _queue_cleanup_and_worker_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    """Afterwards, print the tail of the workers' logs (pytest shows it when the test failed)
    and delete the Celery keys of the test's private queue."""
    if "queue" not in request.fixturenames or "real_store" not in request.fixturenames:
        yield
        return
    queue = request.getfixturevalue("queue")
    store = request.getfixturevalue("real_store")
    yield
    for log in sorted((store.settings.home / "logs").glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()[-60:]
        print(f"----- {log.name} (last {len(lines)} lines)", *lines, sep="\n")
    store.redis.delete(*store.redis.scan_iter(match=f"{queue}*"), f"_kombu.binding.{queue}")
