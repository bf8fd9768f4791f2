"""Grid search: every point of the Cartesian grid of lr x dropout (4 x 3 = 12 trials), once.

The last parameter varies fastest. The optimization ends when the grid is exhausted
("search space exhausted"); ``total_max_jobs`` would cut it short. The cursor is saved, so a
resumed optimizer (``HyperParameterOptimizer.resume(id)``) continues the grid instead of
starting over.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from controller import DiscreteParameterRange, GridSearch, HyperParameterOptimizer
from workers import Task

TRAIN = Path(__file__).resolve().with_name("train.py")


def on_done(job_id: str, loss: float, iteration: int, params: dict, best: str) -> None:
    print(f"job {job_id[:8]} lr={params['General/lr']:<6g} dropout={params['General/dropout']:<4g}"
          f" loss={loss:.4f}{'  <- best so far' if job_id == best else ''}", flush=True)


def main() -> None:
    base = Task.create(project="examples", name="train", entry_point=f"{TRAIN}:main",
                       parameters={"General/lr": 0.1, "General/dropout": 0.25,
                                   "General/epochs": 10})
    opt = HyperParameterOptimizer(
        base_task_id=base.id,
        hyper_parameters=[DiscreteParameterRange("General/lr", values=[0.01, 0.03, 0.1, 0.3]),
                          DiscreteParameterRange("General/dropout", values=[0.1, 0.3, 0.5])],
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=GridSearch,
        max_number_of_concurrent_tasks=2, execution_queue=os.environ.get("HPQ_QUEUE", "default"),
        pool_period_min=0.2)
    opt.set_time_limit(in_minutes=5.0)
    opt.start(job_complete_callback=on_done)
    opt.wait()
    print(f"\noptimizer {opt.id} ended ({opt.end_reason})\ntop 3:")
    for rank, row in enumerate(opt.get_top_experiments_details(top_k=3), 1):
        loss = row["metrics"]["validation/loss"]["value"]
        print(f"  {rank}. {row['task_id'][:8]} loss={loss:.4f} {row['hyper_parameters']}")


if __name__ == "__main__":
    main()
