"""BOHB: Hyperband's brackets with a density-ratio model (TPE/KDE) proposing new configurations.

Budgets from 1 to 9 epochs (``min_budget=1, max_budget=9, eta=3``), passed to each trial as
``General/epochs`` of examples/train_resumable.py; promoted configurations continue their
checkpoint (``resume=True``). Once a budget has enough results, about two thirds of the new
configurations come from the model (the rest are random: ``random_fraction=1/3`` by default).
Brackets repeat until ``total_max_jobs`` trials were started.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from controller import (
    HyperParameterOptimizer,
    LogUniformParameterRange,
    OptimizerBOHB,
    UniformParameterRange,
)
from workers import Task

TRAIN = Path(__file__).resolve().with_name("train_resumable.py")


def on_done(job_id: str, loss: float, iteration: int, params: dict, best: str) -> None:
    print(f"job {job_id[:8]} epochs={params['General/epochs']} lr={params['General/lr']:<8.4g} "
          f"dropout={params['General/dropout']:<6.3g} loss={loss:.4f}"
          f"{'  <- best so far' if job_id == best else ''}", flush=True)


def main() -> None:
    base = Task.create(project="examples", name="train_resumable", entry_point=f"{TRAIN}:main",
                       parameters={"General/lr": 0.1, "General/dropout": 0.25,
                                   "General/epochs": 9})
    opt = HyperParameterOptimizer(
        base_task_id=base.id,
        hyper_parameters=[LogUniformParameterRange("General/lr", min_value=-3, max_value=0),
                          UniformParameterRange("General/dropout", min_value=0.0, max_value=0.6)],
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=OptimizerBOHB,
        resource="General/epochs", min_budget=1, max_budget=9, eta=3, resume=True, seed=11,
        max_number_of_concurrent_tasks=2, execution_queue=os.environ.get("HPQ_QUEUE", "default"),
        total_max_jobs=36, pool_period_min=0.2)
    opt.set_time_limit(in_minutes=5.0)
    opt.start(job_complete_callback=on_done)
    opt.wait()
    print(f"\noptimizer {opt.id} ended ({opt.end_reason})\ntop 3:")
    for rank, row in enumerate(opt.get_top_experiments_details(top_k=3), 1):
        loss = row["metrics"]["validation/loss"]["value"]
        print(f"  {rank}. {row['task_id'][:8]} loss={loss:.4f} {row['hyper_parameters']}")


if __name__ == "__main__":
    main()
