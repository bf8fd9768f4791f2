"""workers/procs.py: free ports, redis-server start-up and stop, the Celery worker command line.

The server tests start real ``redis-server`` processes (skipped without the binary); the worker
test starts a real ``celery`` process that fails on a bad argument.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import pytest
import redis

from workers import Store
from workers.errors import HpqError
from workers.procs import (
    CELERY_WORKER_DEFAULTS,
    WorkerProcess,
    celery_worker_argv,
    free_port,
    start_redis_server,
    start_server,
)

needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None,
                                 reason="no redis-server on PATH")


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
    assert 0 < port < 65536


def test_worker_argv_has_the_defaults_once_and_extra_arguments_last() -> None:
    argv = celery_worker_argv(["a", "b"], concurrency=2, pool="prefork", hostname="w@h",
                              loglevel="warning", extra=["--without-gossip", "-I", "m"])
    assert argv[0] == sys.executable
    assert argv[1:] == ["-m", "celery", "-A", "workers.app", "worker", "-Q", "a,b",
                        "-l", "warning", "-c", "2", "-P", "prefork", "-n", "w@h",
                        "--without-mingle", "--without-gossip", "-I", "m"]
    assert celery_worker_argv()[-2:] == list(CELERY_WORKER_DEFAULTS)
    assert celery_worker_argv("q")[6:10] == ["-Q", "q", "-l", "info"]


@needs_redis
@pytest.mark.timeout(30)
def test_redis_server_gets_its_config_answers_and_stops(tmp_path: Path) -> None:
    server = start_redis_server(tmp_path / "data", config={
        "appendonly": True, "save": "", "maxmemory-policy": "noeviction"})
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert client.info("server")["process_id"] == server.pid
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("dir")["dir"] == str(tmp_path / "data")
        assert (tmp_path / "data" / "redis.log").is_file()
    finally:
        client.close()
        server.stop()
    assert server.proc.returncode == 0  # SIGTERM: a clean shutdown
    with pytest.raises(redis.ConnectionError), redis.Redis.from_url(server.url) as gone:
        gone.ping()


@needs_redis
@pytest.mark.timeout(60)
def test_a_taken_port_is_retried_or_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    with start_redis_server(tmp_path / "first") as first:
        # the port it chose is taken by then: another server answers PING there, but is not ours
        ports = iter([first.port, free_port()])
        monkeypatch.setattr("workers.procs.free_port", lambda host: next(ports))
        with start_redis_server(tmp_path / "second") as second:
            assert second.port != first.port
            with redis.Redis.from_url(second.url) as client:
                assert client.info("server")["process_id"] == second.pid

        with pytest.raises(HpqError) as err:
            start_redis_server(tmp_path / "third", port=first.port)
        text = str(err.value)
        assert text.startswith("redis-server exited with code 1 before answering at "
                               f"{first.url}")
        assert "Address already in use" in text and "redis.log ends with" in text


@needs_redis
@pytest.mark.timeout(30)
def test_bad_server_configuration_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="config may not set dir, port"):
        start_redis_server(tmp_path, config={"port": 1, "dir": "/"})
    with pytest.raises(HpqError, match="no 'no-such-server' executable"):
        start_redis_server(tmp_path, binary="no-such-server")
    with pytest.raises(HpqError) as err:
        start_redis_server(tmp_path, config={"no-such-directive": "x"})
    assert "exited with code 1" in str(err.value) and "no-such-directive" in str(err.value)


@pytest.mark.timeout(30)
def test_a_server_that_never_answers_is_stopped_after_the_timeout() -> None:
    with pytest.raises(HpqError, match=r"did not answer PING at redis://127\.0\.0\.1:\d+/0 "
                                       r"within 0\.5s"):
        start_server(lambda port: [sys.executable, "-c", "import time; time.sleep(60)"],
                     timeout=0.5)


@pytest.mark.timeout(60)
def test_a_worker_that_cannot_start_is_reported_with_its_log(store: Store, tmp_path: Path
                                                             ) -> None:
    worker = WorkerProcess("q", hostname="bad@test", log_path=tmp_path / "worker.log",
                           env=dict(os.environ), extra=["--no-such-option"])
    try:
        with pytest.raises(HpqError) as err:
            worker.wait_ready(store, timeout=50)
    finally:
        worker.stop(timeout=5)
    assert "the Celery worker bad@test exited with code 2" in str(err.value)
    assert "no-such-option" in str(err.value)
