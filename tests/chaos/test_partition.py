"""A network partition across hosts: four hosts built from network namespaces (Redis on ``redis``,
Celery workers on ``a`` and ``b``, the controller -- this test's process -- on ``ctl``), joined
by a bridge in a private /24 (tests/chaos/netns.py). Host ``a`` is cut off from everything
while it runs trials, for longer than the heartbeat grace, then healed.

Its trials must be declared lost and run again on ``b``; the cut-off attempts (zombies) must
have their late writes refused once the network is back; every trial is accounted once and no
worker process exits. Skipped where network namespaces cannot be built (not root, no ``ip``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.chaos import netns
from tests.chaos.accounting import assert_accounted_once, completed_children, optimizer
from tests.chaos.conftest import AOF_CONFIG, Workers, environment
from tests.helpers import wait_until
from workers import Store, Task, TaskStatus
from workers.procs import start_redis_server

pytestmark = pytest.mark.chaos

#: Seconds without a heartbeat after which an attempt is declared dead.
GRACE = 3.0


@pytest.fixture
def network() -> Iterator[netns.Network]:
    reason = netns.unavailable()
    if reason:
        pytest.skip(f"no network namespaces: {reason}")
    network = netns.Network(["redis", "a", "b", "ctl"])
    try:
        yield network
    finally:
        network.remove()


@pytest.fixture
def chaos_env(network: netns.Network, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Redis on host ``redis``; the test itself (the controller) on host ``ctl`` until its end.
    (Redis refuses clients from other hosts in protected mode, on when it has no password.)"""
    with network.inside("redis"):
        server = start_redis_server(tmp_path / "redis", host=network.addresses["redis"],
                                    config={**AOF_CONFIG, "protected-mode": "no"})
    try:
        with network.inside("ctl"):
            yield environment(server.url, tmp_path, monkeypatch, HPQ_HEARTBEAT_GRACE=str(GRACE))
    finally:
        server.stop()


def pool_pids(worker: psutil.Process) -> set[int]:
    return {p.pid for p in worker.children(recursive=True)}


@pytest.mark.timeout(120)
def test_worker_host_cut_off_from_redis(network: netns.Network, chaos_store: Store,
                                        chaos_workers: Workers, queue: str,
                                        tmp_path: Path) -> None:
    with network.inside("a"):
        (on_a,) = chaos_workers.start(queue, concurrency=2)
    with network.inside("b"):
        (on_b,) = chaos_workers.start(queue, concurrency=2)
    notes = tmp_path / "notes"
    notes.mkdir()
    total = 16
    opt = optimizer(chaos_store, queue, total, pause=0.4, trial="noted_steps",
                    parameters={"notes": str(notes)})
    opt.start()
    a_pids = {str(pid) for pid in pool_pids(psutil.Process(on_a.proc.pid))}

    def running_on_a() -> list[Task]:
        return [t for t in Task.get_tasks(parent=opt.id)
                if t.status is TaskStatus.IN_PROGRESS
                and t.record.get("worker", "").rpartition(":")[2] in a_pids]

    def just_started(trial: Task) -> bool:
        """Not past its first report: it still has most of its 1.2 s to run."""
        return len(trial.get_reported_scalars().get("val", {}).get("loss", {}).get("x", [])) < 2

    wait_until(lambda: completed_children(opt.id) >= 2, 60, "2 completed jobs")
    wait_until(lambda: [t for t in running_on_a() if just_started(t)], 30,
               "a trial starting on host a")
    network.cut("a")
    cut_at = time.monotonic()
    cut_off = running_on_a()  # what Redis holds now: host a can no longer change it
    try:
        assert cut_off, "host a's trials ended before the cut"
        # declared dead after the grace, run again on b
        wait_until(lambda: all(t.attempts >= 2 for t in cut_off), 30,
                   "the cut-off trials to be run again elsewhere", poll=0.1)
        assert time.monotonic() - cut_at > GRACE
    finally:
        network.heal("a")

    assert opt.wait(timeout=1.5), "the optimization did not finish after the partition"
    assert opt.end_reason == "total_max_jobs reached", opt.end_reason
    assert_accounted_once(chaos_store, opt.id, total)
    for trial in cut_off:
        # the zombie learns once the network is back that it lost the trial
        note = notes / f"{trial.id}.1"
        wait_until(note.exists, 30, f"attempt 1 of {trial.id} to note its end")
        assert note.read_text() == "interrupted, late report refused"
        history = trial.get_reported_scalars()["val"]["loss"]
        assert 99 not in history["x"] and 999.0 not in history["y"], history
    assert chaos_workers.dead() == []
    assert pool_pids(psutil.Process(on_b.proc.pid))
