"""HyperParameterOptimizer against a real redis-server and real Celery prefork workers.

Workers are started by the test process (the ``local_workers`` fixture), so they outlive a
controller that is killed. Trials live in :mod:`tests.integration.hpo_trials`, the controller
process of the resume test in ``hpo_controller.py``. Tests wait on conditions with timeouts and
steer trials with release files; the only timing assertions are generous bounds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller import (
    DiscreteParameterRange,
    HyperParameterOptimizer,
    LogUniformParameterRange,
    RandomSearch,
    UniformParameterRange,
)
from controller.persistence import OptimizerRepository
from tests.helpers import BOTH_BROKERS, wait_until
from tests.integration.hpo_trials import release_and_kill
from workers import Store, Task, TaskStatus
from workers.store import Event

ROOT = Path(__file__).resolve().parents[2]
CONTROLLER = Path(__file__).resolve().with_name("hpo_controller.py")
PROJECT = "hpo-integration"




def stream(store: Store, parent: str) -> list[Event]:
    """Every event of ``parent``'s children, oldest first."""
    out: list[Event] = []
    cursor = "0-0"
    while True:
        batch = store.read_events(parent, cursor)
        if not batch:
            return out
        out += batch
        cursor = batch[-1].id


def final_events(store: Store, parent: str) -> Counter[str]:
    """Number of final-status events per job id."""
    return Counter(e.task_id for e in stream(store, parent)
                   if e.kind == "status" and e.status is not None and e.status.is_final)


@pytest.fixture(autouse=True)
def _drop_queue_keys(request: pytest.FixtureRequest) -> Iterator[None]:
    """Delete the Celery keys of the test's private queue afterwards."""
    if "queue" not in request.fixturenames or "real_store" not in request.fixturenames:
        yield
        return
    queue = request.getfixturevalue("queue")
    client = request.getfixturevalue("real_store").redis
    yield
    client.delete(*client.scan_iter(match=f"{queue}*"), f"_kombu.binding.{queue}")


# ------------------------------------------------------------------ (a) the user's script
@pytest.mark.integration
@pytest.mark.timeout(120)
@BOTH_BROKERS
def test_users_script_runs_end_to_end(real_store: Store, queue: str, local_workers: Any,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    base = Task.create("examples", "train", entry_point="examples.train:main",
                       parameters={"General/lr": 0.1, "General/dropout": 0.25,
                                   "General/epochs": 4, "General/sleep": 0.05})
    completed: list[tuple[str, Any, Any, dict, str]] = []

    def job_complete_callback(job_id: str, objective_value: float, objective_iteration: int,
                              job_parameters: dict, top_performance_job_id: str) -> None:
        completed.append((job_id, objective_value, objective_iteration, job_parameters,
                          top_performance_job_id))
        print("Job completed!", job_id, objective_value, objective_iteration, job_parameters)
        if job_id == top_performance_job_id:
            print(f"WOOT WOOT we broke the record! Objective reached {objective_value}")

    an_optimizer = HyperParameterOptimizer(
        base_task_id=base.id,
        hyper_parameters=[
            LogUniformParameterRange("General/lr", min_value=-3, max_value=0, step_size=0.25),
            DiscreteParameterRange("General/dropout", values=[0.1, 0.3, 0.5]),
        ],
        objective_metric_title="validation",
        objective_metric_series="loss",
        objective_metric_sign="min",
        max_number_of_concurrent_tasks=2,
        optimizer_class=RandomSearch,
        execution_queue=queue,
        spawn_project=None,
        save_top_k_tasks_only=3,
        time_limit_per_job=1.0,
        pool_period_min=0.2,
        total_max_jobs=6,
        min_iteration_per_job=1,
        max_iteration_per_job=30,
    )
    an_optimizer.set_report_period(0.05)
    an_optimizer.set_time_limit(in_minutes=1.5)
    an_optimizer.start(job_complete_callback=job_complete_callback)
    tops: list[list[str]] = []
    while not an_optimizer.reached_time_limit() and an_optimizer.is_active():
        tops.append([t.id for t in an_optimizer.get_top_experiments(top_k=3)])
        time.sleep(0.2)
    an_optimizer.wait()
    top_exp = an_optimizer.get_top_experiments(top_k=3)
    an_optimizer.stop()

    assert an_optimizer.end_reason == "total_max_jobs reached"
    assert not an_optimizer.reached_time_limit()
    children = Task.get_tasks(parent=an_optimizer.id)
    assert len(children) == 6
    assert all(t.status is TaskStatus.COMPLETED for t in children)
    assert sorted(c[0] for c in completed) == sorted(t.id for t in children)
    assert all(isinstance(c[1], float) and c[2] == 3 for c in completed)
    # the top 3 by the final loss, best first; the others archived
    losses = {t.id: t.get_last_scalar_metrics()["validation"]["loss"]["last"] for t in children}
    best3 = sorted(losses, key=losses.get)[:3]
    assert [t.id for t in top_exp] == best3
    assert {t.id for t in children if not t.archived} == set(best3)
    assert any(tops) and all(len(t) <= 3 for t in tops)
    record = Task.get_task(an_optimizer.id)
    assert record.status is TaskStatus.COMPLETED and record.task_type == "optimizer"
    assert record.artifacts["summary"].get()["jobs"] == 6
    assert "WOOT WOOT" in capsys.readouterr().out
    assert max(Counter(final_events(real_store, an_optimizer.id)).values()) == 1


# --------------------------------------------------------------- (b) resume after SIGKILL
def _callbacks(workdir: Path) -> list[dict[str, Any]]:
    path = workdir / "callbacks.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _runs(workdir: Path) -> list[tuple[str, str, str]]:
    """(x, task id, attempt) of every trial start."""
    return [tuple(p.name.split("-", 1)[1].split("-")) for p in workdir.glob("ran-*")]


def _controller(*args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, str(CONTROLLER), *args], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


@pytest.mark.integration
@pytest.mark.timeout(150)
def test_resume_after_sigkill_of_the_controller(real_store: Store, queue: str,
                                                local_workers: Any, tmp_path: Path) -> None:
    workdir = tmp_path / "gates"
    workdir.mkdir()
    log = tmp_path / "controller.log"
    base = Task.create(PROJECT, "gated", entry_point="tests.integration.hpo_trials:gated",
                       parameters={"General/x": 0.5, "General/gate_dir": str(workdir)})

    def release(x: str) -> None:
        (workdir / f"release-{x}").write_text("")

    first = _controller("create", base.id, queue, str(workdir), log=log)
    with release_and_kill(workdir) as procs:
        procs.append(first)
        opt_id = wait_until(lambda: (workdir / "optimizer_id").exists()
                            and (workdir / "optimizer_id").read_text(), 60,
                            "the optimizer's id", ).strip()

        def by_x() -> dict[str, Task]:
            return {f"{t.get_parameter('x'):g}": t for t in Task.get_tasks(parent=opt_id)}

        # two jobs finish under the first controller, two more start running
        wait_until(lambda: {x for x, _, _ in _runs(workdir)} >= {"0.5", "0.4"}, 60,
                   "the first two jobs to start")
        release("0.5")
        release("0.4")
        wait_until(lambda: len(_callbacks(workdir)) == 2, 60, "two callbacks")
        wait_until(lambda: {x for x, _, _ in _runs(workdir)} == {"0.5", "0.4", "0.3", "0.2"},
                   60, "jobs 0.3 and 0.2 to run")
        wait_until(lambda: all(by_x()[x].get_last_scalar_metrics() for x in ("0.3", "0.2")),
                   30, "the running jobs to report")
        before_kill = by_x()
        assert {x: t.status for x, t in before_kill.items()} == {
            "0.5": TaskStatus.COMPLETED, "0.4": TaskStatus.COMPLETED,
            "0.3": TaskStatus.IN_PROGRESS, "0.2": TaskStatus.IN_PROGRESS}

        def notified(job_id: str) -> bool:
            jobs = OptimizerRepository(real_store).load(opt_id).jobs
            return any(j.id == job_id and j.notified for j in jobs)

        # the callback fires at least once: a kill after it returned and before its
        # "notified" flag was saved would repeat it. Kill outside that window.
        wait_until(lambda: notified(before_kill["0.5"].id) and notified(before_kill["0.4"].id),
                   30, "the callbacks to be saved as done")

        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
        killed_pid = first.pid
        assert Task.get_task(opt_id).status is TaskStatus.IN_PROGRESS

        # a running job ends while no controller runs; the workers are unaffected
        release("0.3")
        wait_until(lambda: before_kill["0.3"].status is TaskStatus.COMPLETED, 60,
                   "job 0.3 to end without a controller")

        second = _controller("resume", opt_id, str(workdir), log=log)
        procs.append(second)
        # the killed controller's lease expires, then the resumed one launches the fifth job
        wait_until(lambda: len(Task.get_tasks(parent=opt_id)) == 5, 60, "the fifth job")
        (workdir / "release-all").write_text("")
        assert second.wait(timeout=60) == 0, log.read_text()

    assert (workdir / f"ended-{second.pid}").read_text() == "total_max_jobs reached"
    children = Task.get_tasks(parent=opt_id)
    xs = sorted(f"{t.get_parameter('x'):g}" for t in children)
    assert xs == ["0.1", "0.2", "0.3", "0.4", "0.5"]  # <= total_max_jobs; no config twice
    assert all(t.status is TaskStatus.COMPLETED for t in children)
    # every job ran once: one trial start, one attempt, one final-status event
    runs = Counter(task_id for _, task_id, _ in _runs(workdir))
    assert runs == Counter({t.id: 1 for t in children})
    assert all(t.attempts == 1 for t in children)
    assert final_events(real_store, opt_id) == Counter({t.id: 1 for t in children})
    # finished jobs were not re-run; the running ones were re-attached and finished
    assert before_kill["0.2"].completed > before_kill["0.3"].completed
    # callbacks: once per job that ended with its objective (one job = one line), whichever
    # controller saw it end
    lines = _callbacks(workdir)
    per_job = Counter(line["job"] for line in lines)
    assert per_job == Counter({t.id: 1 for t in children}), lines
    fired_by = {f"{line['params']['General/x']:g}": line["pid"] for line in lines}
    assert fired_by["0.5"] == fired_by["0.4"] == killed_pid
    assert fired_by["0.3"] == fired_by["0.2"] == fired_by["0.1"] == second.pid
    assert all(line["value"] == line["params"]["General/x"] for line in lines)
    record = Task.get_task(opt_id)
    assert record.status is TaskStatus.COMPLETED
    assert record.artifacts["summary"].get()["jobs"] == 5


# ------------------------------------------------------------ (c) time limit on real workers
@pytest.mark.integration
@pytest.mark.timeout(120)
def test_time_limit_stops_long_trials_on_real_workers(real_store: Store, queue: str,
                                                      local_workers: Any) -> None:
    base = Task.create(PROJECT, "long", entry_point="tests.integration.hpo_trials:"
                       "report_until_stopped", parameters={"General/x": 0.5})
    calls: list[str] = []
    opt = HyperParameterOptimizer(
        base.id, [UniformParameterRange("General/x", 0.0, 1.0)], "val", "loss", "min",
        max_number_of_concurrent_tasks=3, execution_queue=queue, pool_period_min=0.01)
    opt.set_time_limit(in_minutes=0.1)  # 6 s after start()
    started = time.time()
    opt.start(job_complete_callback=lambda job_id, *_: calls.append(job_id))
    # two workers: two jobs run, the third stays queued
    wait_until(lambda: sum(t.status is TaskStatus.IN_PROGRESS
                           for t in Task.get_tasks(parent=opt.id)) == 2, 60, "two running jobs")
    assert opt.wait(timeout=1.5), "the optimizer did not end after its time limit"
    assert time.time() - started >= 6 - 0.1
    assert opt.end_reason == "time limit reached" and opt.reached_time_limit()
    children = Task.get_tasks(parent=opt.id)
    assert len(children) == 3
    assert all(t.status is TaskStatus.STOPPED for t in children)
    assert sum(t.started is not None for t in children) == 2
    # the running ones were stopped promptly, long before their own bound (60 s)
    assert all(t.completed - started < 40 for t in children)
    record = Task.get_task(opt.id)
    assert record.status is TaskStatus.COMPLETED
    assert record.status_reason == "time limit reached"
    summary = record.artifacts["summary"].get()
    assert summary["reason"] == "time limit reached" and len(summary["top"]) == 2
    assert sorted(calls) == sorted(t.id for t in children if t.started is not None)
