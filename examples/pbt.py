"""Population-based training: 6 members train in segments of 2 epochs; after each segment the
worst member copies a top member's checkpoint and perturbed hyper-parameters.

Each segment is one job continuing a checkpoint (``continue_from``), so the hyper-parameters of
a member form a schedule over its segments. Uses examples/train_resumable.py.
Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from controller import (
    HyperParameterOptimizer,
    LogUniformParameterRange,
    PopulationBasedTraining,
    UniformParameterRange,
)
from controller.driver import load_rows
from workers import Task, get_store

TRAIN = Path(__file__).resolve().with_name("train_resumable.py")


def main() -> None:
    base = Task.create(project="examples", name="train_resumable", entry_point=f"{TRAIN}:main",
                       parameters={"General/lr": 0.1, "General/dropout": 0.25,
                                   "General/epochs": 8})
    opt = HyperParameterOptimizer(
        base_task_id=base.id,
        hyper_parameters=[LogUniformParameterRange("General/lr", min_value=-3, max_value=0),
                          UniformParameterRange("General/dropout", min_value=0.0, max_value=0.6)],
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=PopulationBasedTraining,
        resource="General/epochs", perturbation_interval=2, max_resource=8, population_size=6,
        max_number_of_concurrent_tasks=2, execution_queue=os.environ.get("HPQ_QUEUE", "default"),
        pool_period_min=0.2, seed=3)
    opt.start()
    opt.wait()
    print(f"optimizer {opt.id} ended ({opt.end_reason})\nlr schedule of each member:")
    schedules: dict[int, list[str]] = {}
    for job in sorted(load_rows(get_store(), opt.id), key=lambda j: j.index):
        mark = f"(copied {job.meta['exploited']})" if "exploited" in job.meta else ""
        schedules.setdefault(job.meta["member"], []).append(
            f"{job.parameters['General/lr']:.3g}{mark}")
    for member, lrs in sorted(schedules.items()):
        print(f"  member {member}: {' -> '.join(lrs)}")
    print("top 3:")
    for rank, row in enumerate(opt.get_top_experiments_details(top_k=3), 1):
        loss = row["metrics"]["validation/loss"]["value"]
        print(f"  {rank}. {row['task_id'][:8]} loss={loss:.4f} {row['hyper_parameters']}")


if __name__ == "__main__":
    main()
