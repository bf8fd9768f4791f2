"""Mapping: run a given list of configurations, in order (Polyaxon's ``kind: mapping``).

Each entry overrides some parameters of the base task (``General/`` is added to names without a
section); the others keep the base task's values. ``hyper_parameters`` may stay empty, so
``all_hyper_parameters=True`` shows each trial's full parameters in the top 3.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from controller import HyperParameterOptimizer, Mapping
from workers import Task

TRAIN = Path(__file__).resolve().with_name("train.py")

CONFIGURATIONS = [
    {"lr": 0.01, "dropout": 0.5},
    {"lr": 0.1},                          # dropout stays the base task's 0.25
    {"lr": 0.1, "dropout": 0.3, "epochs": 5},
    {"lr": 0.3, "dropout": 0.3},
    {"General/lr": 0.05, "General/dropout": 0.2},
]


def on_done(job_id: str, loss: float, iteration: int, params: dict, best: str) -> None:
    print(f"job {job_id[:8]} {params} loss={loss:.4f} (iteration {iteration})"
          f"{'  <- best so far' if job_id == best else ''}", flush=True)


def main() -> None:
    base = Task.create(project="examples", name="train", entry_point=f"{TRAIN}:main",
                       parameters={"General/lr": 0.1, "General/dropout": 0.25,
                                   "General/epochs": 10})
    opt = HyperParameterOptimizer(
        base_task_id=base.id, hyper_parameters=[],
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=Mapping, values=CONFIGURATIONS,
        max_number_of_concurrent_tasks=2, execution_queue=os.environ.get("HPQ_QUEUE", "default"),
        pool_period_min=0.2)
    opt.set_time_limit(in_minutes=5.0)
    opt.start(job_complete_callback=on_done)
    opt.wait()
    print(f"\noptimizer {opt.id} ended ({opt.end_reason})\ntop 3:")
    for rank, row in enumerate(opt.get_top_experiments_details(top_k=3,
                                                               all_hyper_parameters=True), 1):
        loss = row["metrics"]["validation/loss"]["value"]
        print(f"  {rank}. {row['task_id'][:8]} loss={loss:.4f} {row['hyper_parameters']}")


if __name__ == "__main__":
    main()
