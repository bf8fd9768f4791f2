"""HyperParameterOptimizer against a real redis-server and real Celery prefork workers.

Workers are started by the test process (the ``local_workers`` fixture), so they outlive a
controller that is killed. Trials live in :mod:`tests.integration.hpo_trials`. Tests wait on
conditions with timeouts and steer trials with release files; the only timing assertions are
generous bounds. (A killed controller and resume: ``tests/chaos/test_controller.py``.)
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from controller import (
    DiscreteParameterRange,
    HyperParameterOptimizer,
    LogUniformParameterRange,
    RandomSearch,
    UniformParameterRange,
)
from tests.helpers import BOTH_BROKERS, final_events, wait_until
from workers import Store, Task, TaskStatus

PROJECT = "hpo-integration"


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
