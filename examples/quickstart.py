"""Quickstart: a random search over two hyper-parameters of examples/train.py.

Runs as it is after ``pip install``: with no ``HPQ_REDIS_URL`` it starts the embedded local mode
(a Redis-protocol server and two local Celery worker processes). With ``HPQ_REDIS_URL`` set, it
uses that Redis and the workers you started (``hpq worker -Q default``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from controller import (
    DiscreteParameterRange,
    HyperParameterOptimizer,
    LogUniformParameterRange,
    RandomSearch,
)
from workers import Task, get_store
from workers.local import keeps_data

TRAIN = Path(__file__).resolve().with_name("train.py")


def on_done(job_id: str, objective_value: float, objective_iteration: int,
            job_parameters: dict, top_performance_job_id: str) -> None:
    """Called once per job that ends with its objective."""
    lr, dropout = job_parameters["General/lr"], job_parameters["General/dropout"]
    mark = "  <- best so far" if job_id == top_performance_job_id else ""
    print(f"job {job_id[:8]} lr={lr:<8g} dropout={dropout:<5g} loss={objective_value:.4f} "
          f"(iteration {objective_iteration}){mark}", flush=True)


def on_failed(job_id: str, reason: str, job_parameters: dict) -> None:
    """Called once per job that failed (``reason``: the error, then maybe more lines)."""
    lr, dropout = job_parameters["General/lr"], job_parameters["General/dropout"]
    error = reason.splitlines()[0] if reason else "no reason recorded"
    print(f"job {job_id[:8]} lr={lr:<8g} dropout={dropout:<5g} FAILED: {error}  "
          f"(details: hpq job {job_id})", flush=True)


def main() -> None:
    base = Task.create(project="examples", name="train", entry_point=f"{TRAIN}:main",
                       parameters={"General/lr": 0.1, "General/dropout": 0.25,
                                   "General/epochs": 10, "General/sleep": 0.05})
    opt = HyperParameterOptimizer(
        base_task_id=base.id,
        hyper_parameters=[LogUniformParameterRange("General/lr", min_value=-3, max_value=0,
                                                   step_size=0.25),
                          DiscreteParameterRange("General/dropout", values=[0.1, 0.3, 0.5])],
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=RandomSearch,
        max_number_of_concurrent_tasks=2, execution_queue=os.environ.get("HPQ_QUEUE", "default"),
        total_max_jobs=12, time_limit_per_job=2.0, pool_period_min=0.2, save_top_k_tasks_only=5)
    opt.set_time_limit(in_minutes=10.0)
    started = time.time()
    opt.start(job_complete_callback=on_done, job_failed_callback=on_failed)
    while not opt.reached_time_limit() and opt.is_active():
        time.sleep(1)
    opt.wait()
    opt.stop()
    print(f"\noptimizer {opt.id} ended ({opt.end_reason}) in {time.time() - started:.1f}s")
    print("top 3:")
    for rank, row in enumerate(opt.get_top_experiments_details(top_k=3), 1):
        loss = row["metrics"]["validation/loss"]["value"]
        print(f"  {rank}. {row['task_id'][:8]} loss={loss:.4f} {row['hyper_parameters']}")
    if keeps_data(get_store().url):
        print(f"look at it again later: hpq top {opt.id}   (or hpq report {opt.id} -o r.html)")
    else:
        print("its records were in memory (fakeredis) and are gone when this script exits")


if __name__ == "__main__":
    main()
