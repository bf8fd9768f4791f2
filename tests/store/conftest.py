"""The store contract suite runs every test on both engines: fakeredis and a real redis-server.

The ``store`` fixture (which replaces the fakeredis-only one of ``tests/conftest.py`` in this
directory) is parametrised over the engines, as Optuna runs its storage tests against every
``TEST_DB_URL``: a Lua script that behaves differently under fakeredis's Lua and Redis's fails
here, not only end to end. The real engine is the session's redis-server (``redis_url``, started
on a free port, or ``HPQ_TEST_REDIS_URL``); each test gets its own key namespace and deletes only
its own keys. Without a redis-server binary the real engine's tests are skipped, saying so.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pytest

from tests.helpers import SAMPLE_ENTRY, queue_it
from workers import Store, Task, set_store
from workers.config import Settings

ENGINES = ("fakeredis", "redis-server")


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A Store on one engine in a namespace of its own, installed as the process default."""
    namespace = f"st{uuid.uuid4().hex[:10]}"
    settings = Settings(redis_url=None, namespace=namespace, home=tmp_path / "home",
                        artifacts_dir=tmp_path / "artifacts", heartbeat_grace=5.0)
    if request.param == "fakeredis":
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
        st = Store(client, namespace, settings)
    else:
        st = Store.connect(request.getfixturevalue("redis_url"), settings)
    set_store(st)
    yield st
    set_store(None)
    if request.param != "fakeredis":
        keys = list(st.redis.scan_iter(match=f"{namespace}:*", count=1000))
        for i in range(0, len(keys), 500):
            st.redis.delete(*keys[i:i + 500])
        st.redis.close()


@pytest.fixture
def clone(store: Store) -> Task:
    """A created clone of a base task (its parent)."""
    base = Task.create(project="p", name="b", entry_point=SAMPLE_ENTRY)
    return Task.clone(base)


@pytest.fixture
def running(store: Store) -> tuple[Task, str]:
    """A clone in progress, and the handle its trial would get (and the clone's parent)."""
    base = Task.create(project="p", name="b", entry_point=SAMPLE_ENTRY)
    clone = Task.clone(base)
    queue_it(store, clone)
    assert store.claim(clone.id, clone.parent, "tok", "host:1").outcome == "claimed"
    return Task(clone.id, token="tok"), base.id
