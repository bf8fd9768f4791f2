"""Early stopping, for any strategy: median stopping and a metric threshold.

* ``MedianStopping(grace_iterations=3, min_samples=3)`` stops a running trial whose best loss so
  far is worse than the median of the other trials' best at the same epoch (from epoch 3 on, once
  3 other trials got there); the trial sees the request at its next report and ends ``stopped``.
* ``MetricThreshold(0.03)`` ends the whole optimization as soon as a trial reports a loss of 0.03
  or better; the running trials are stopped.

A random search of up to 30 trials; the same policies can be given as Polyaxon-style dicts, e.g.
``{"kind": "median", "grace_iterations": 3}``. ``FailureRate(50)`` would end it when half the
trials fail.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from controller import (
    HyperParameterOptimizer,
    LogUniformParameterRange,
    MedianStopping,
    MetricThreshold,
    RandomSearch,
    UniformParameterRange,
)
from workers import Task, TaskStatus

TRAIN = Path(__file__).resolve().with_name("train.py")


def on_done(job_id: str, loss: float, iteration: int, params: dict, best: str) -> None:
    task = Task.get_task(job_id)
    stopped = f"  stopped: {task.status_reason}" if task.status == TaskStatus.STOPPED else ""
    print(f"job {job_id[:8]} lr={params['General/lr']:<8.4g} "
          f"dropout={params['General/dropout']:<6.3g} loss={loss:.4f} (epoch {iteration})"
          f"{'  <- best so far' if job_id == best else ''}{stopped}", flush=True)


def main() -> None:
    base = Task.create(project="examples", name="train", entry_point=f"{TRAIN}:main",
                       parameters={"General/lr": 0.1, "General/dropout": 0.25,
                                   "General/epochs": 10, "General/sleep": 0.02})
    opt = HyperParameterOptimizer(
        base_task_id=base.id,
        hyper_parameters=[LogUniformParameterRange("General/lr", min_value=-3, max_value=0),
                          UniformParameterRange("General/dropout", min_value=0.0, max_value=0.6)],
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=RandomSearch, seed=2,
        early_stopping=[MedianStopping(grace_iterations=3, min_samples=3), MetricThreshold(0.03)],
        max_number_of_concurrent_tasks=2, execution_queue=os.environ.get("HPQ_QUEUE", "default"),
        total_max_jobs=30, pool_period_min=0.2)
    opt.set_time_limit(in_minutes=5.0)
    opt.start(job_complete_callback=on_done)
    opt.wait()
    print(f"\noptimizer {opt.id} ended ({opt.end_reason})\ntop 3:")
    for rank, row in enumerate(opt.get_top_experiments_details(top_k=3), 1):
        loss = row["metrics"]["validation/loss"]["value"]
        print(f"  {rank}. {row['task_id'][:8]} loss={loss:.4f} {row['hyper_parameters']}")


if __name__ == "__main__":
    main()
