"""Hyperband with resume: a promoted configuration continues its own checkpoint.

``max_iterations=9, eta=3`` runs three brackets (22 trials): bracket 2 starts 9 configurations
with 1 epoch, keeps the best 3 for 3 epochs and the best one for 9; bracket 1 starts 5 with 3
epochs and keeps 1 for 9; bracket 0 runs 3 with 9 epochs. The resource reaches each trial as
``General/epochs``. With ``resume=True`` a promoted trial's record has ``continue_from`` (the
trial it continues) and examples/train_resumable.py picks up that trial's latest checkpoint, so
it trains only the extra epochs; with ``resume=False`` it would train from scratch.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from controller import (
    Hyperband,
    HyperParameterOptimizer,
    LogUniformParameterRange,
    UniformParameterRange,
)
from workers import Task

TRAIN = Path(__file__).resolve().with_name("train_resumable.py")


def on_done(job_id: str, loss: float, iteration: int, params: dict, best: str) -> None:
    resumed = Task.get_task(job_id).record.get("continue_from")
    print(f"job {job_id[:8]} epochs={params['General/epochs']} lr={params['General/lr']:<8.4g} "
          f"dropout={params['General/dropout']:<6.3g} loss={loss:.4f}"
          f"{f'  (continued {resumed[:8]})' if resumed else ''}"
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
        objective_metric_sign="min", optimizer_class=Hyperband,
        max_iterations=9, eta=3, resource="General/epochs", resume=True,   # Hyperband's own
        max_number_of_concurrent_tasks=2, execution_queue=os.environ.get("HPQ_QUEUE", "default"),
        pool_period_min=0.2, seed=7)
    opt.set_time_limit(in_minutes=5.0)
    opt.start(job_complete_callback=on_done)
    opt.wait()
    print(f"\noptimizer {opt.id} ended ({opt.end_reason})\ntop 3:")
    for rank, row in enumerate(opt.get_top_experiments_details(top_k=3), 1):
        loss = row["metrics"]["validation/loss"]["value"]
        print(f"  {rank}. {row['task_id'][:8]} loss={loss:.4f} {row['hyper_parameters']}")


if __name__ == "__main__":
    main()
