"""Early, clear errors instead of silent hangs: a Redis older than 6.2 is refused, naming its
version and the minimum; local workers that die end the run, naming their log."""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from controller import DiscreteParameterRange, HyperParameterOptimizer
from tests.chaos.conftest import RedisUnderTest
from tests.helpers import wait_until
from workers import RedisUnavailableError, Store, Task, TaskStatus

pytestmark = pytest.mark.chaos


@contextmanager
def version_rewriting_proxy(target_port: int, real: bytes, shown: bytes) -> Iterator[int]:
    """A TCP proxy to a local Redis that shows ``shown`` in place of ``real`` (same length, so
    that the reply's framing stays valid) in what the server says: an old server, in effect."""
    assert len(real) == len(shown)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def pipe(src: socket.socket, dst: socket.socket, rewrite: bool) -> None:
        with src, dst:
            while data := src.recv(65536):
                dst.sendall(data.replace(real, shown) if rewrite else data)

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            server = socket.create_connection(("127.0.0.1", target_port))
            for args in ((client, server, False), (server, client, True)):
                threading.Thread(target=pipe, args=args, daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@pytest.mark.timeout(60)
def test_a_redis_older_than_6_2_is_refused_with_its_version(chaos_redis: RedisUnderTest,
                                                            chaos_env: dict[str, str]) -> None:
    version = chaos_redis.admin().info("server")["redis_version"]
    old = "6.0." + "9" * (len(version) - 4)  # as long as the real one
    with version_rewriting_proxy(chaos_redis.port, f"redis_version:{version}".encode(),
                                 f"redis_version:{old}".encode()) as port:
        url = f"redis://:s3cret@127.0.0.1:{port}/0"
        with pytest.raises(RedisUnavailableError) as err:
            Store.connect(url)
    message = str(err.value)
    assert f"its version is {old}; hpqueue needs Redis 6.2 or newer" in message
    assert f"redis://:**@127.0.0.1:{port}/0" in message and "s3cret" not in message


@pytest.mark.timeout(90)
def test_local_workers_that_die_end_the_run_naming_their_log(
        chaos_store: Store, queue: str) -> None:
    base = Task.create("chaos", "hold", entry_point="tests.integration.trials:hold",
                       parameters={"General/release": "/nonexistent/never"})
    opt = HyperParameterOptimizer(
        base.id, [DiscreteParameterRange("General/release", ["/nonexistent/a", "/b", "/c"])],
        "train", "loss", "min", max_number_of_concurrent_tasks=2, execution_queue=queue,
        pool_period_min=0.005, store=chaos_store)
    opt.start_locally(num_workers=1)
    workers = opt._local_workers
    try:
        workers.wait_ready(timeout=60)
        wait_until(lambda: any(t.status is TaskStatus.IN_PROGRESS
                               for t in Task.get_tasks(parent=opt.id)), 60, "a running trial")
        os.killpg(workers.proc.pid, signal.SIGKILL)  # the worker and its pool process
        assert opt.wait(timeout=1), "the run did not end when its workers died"
    finally:
        workers.stop(timeout=5)
    assert opt.end_reason == (f"the local workers exited (code {-signal.SIGKILL}); "
                              f"their log: {workers.log_path}")
    record = Task.get_task(opt.id)
    assert record.status is TaskStatus.FAILED and record.status_reason == opt.end_reason
    # nothing left behind: the queued trials were stopped, the running one too once its
    # heartbeat went stale
    assert {t.status for t in Task.get_tasks(parent=opt.id)} == {TaskStatus.STOPPED}
