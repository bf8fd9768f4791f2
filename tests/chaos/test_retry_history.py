"""A retried trial starts a clean history: the reports of the attempt that died are set apart
(readable for debugging) and count nowhere -- not in the task's metrics, not in its history,
not in the optimizer's job table, its ranking or its callback."""

from __future__ import annotations

import pytest

from controller import DiscreteParameterRange, HyperParameterOptimizer
from controller.persistence import OptimizerRepository
from tests.chaos.accounting import Callbacks
from tests.chaos.conftest import Workers
from workers import Store, Task, TaskStatus

pytestmark = pytest.mark.chaos


@pytest.mark.timeout(90)
def test_a_retried_attempt_starts_a_clean_history(chaos_store: Store, chaos_workers: Workers,
                                                  queue: str) -> None:
    chaos_workers.start(queue, concurrency=1)
    base = Task.create("chaos", "dies", entry_point="tests.chaos.trials:dies_after_reporting",
                       parameters={"General/x": 1})
    callbacks = Callbacks()
    values: list[float] = []
    opt = HyperParameterOptimizer(
        base.id, [DiscreteParameterRange("General/x", [1])], "val", "loss", "min",
        max_number_of_concurrent_tasks=1, execution_queue=queue, total_max_jobs=1,
        pool_period_min=0.005, store=chaos_store)
    opt.start(job_complete_callback=lambda job_id, value, *rest: (
        values.append(value), callbacks(job_id, value, *rest)))
    assert opt.wait(timeout=1)

    (job,) = Task.get_tasks(parent=opt.id)
    assert job.status is TaskStatus.COMPLETED and job.attempts == 2
    this_attempt = {"x": [0, 1, 2], "y": [1.0, 0.9, 0.8]}
    assert job.get_reported_scalars() == {"val": {"loss": this_attempt}}
    loss = job.get_last_scalar_metrics()["val"]["loss"]
    assert (loss["last"], loss["min"], loss["max"]) == (0.8, 0.8, 1.0)
    # the dead attempt's reports, kept apart
    assert chaos_store.history(job.id, attempt=1) == {
        "val": {"loss": {"x": [0, 1, 2], "y": [0.001, 0.002, 0.003]}}}
    # the optimizer ranks and reports attempt 2's values only
    assert callbacks.calls == [job.id] and values == [0.8]
    (row,) = OptimizerRepository(chaos_store).load(opt.id).jobs
    assert (row.stats[0].last, row.stats[0].min, row.stats[0].max) == (0.8, 0.8, 1.0)
    (best,) = opt.get_top_experiments_details(1)
    assert best["metrics"]["val/loss"]["value"] == 0.8
    assert best["metrics"]["val/loss"]["min_value"] == 0.8
