"""BOHB: Hyperband's brackets with a density-ratio model (TPE/KDE) proposing new configurations.

Budgets from 1 to 9 epochs (``min_budget=1, max_budget=9, eta=3``), passed to each trial as
``General/epochs`` of examples/train_resumable.py; promoted configurations continue their
checkpoint (``resume=True``). Once a budget has enough results, about two thirds of the new
configurations come from the model (the rest are random: ``random_fraction=1/3`` by default).
Brackets repeat until ``total_max_jobs`` trials were started.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

from common import QUEUE, SPACE, base_task, run

from controller import HyperParameterOptimizer, OptimizerBOHB


def main() -> None:
    opt = HyperParameterOptimizer(
        base_task_id=base_task(resumable=True).id, hyper_parameters=SPACE,
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=OptimizerBOHB,
        resource="General/epochs", min_budget=1, max_budget=9, eta=3, resume=True, seed=11,
        max_number_of_concurrent_tasks=2, execution_queue=QUEUE,
        total_max_jobs=36, pool_period_min=0.2)
    run(opt)


if __name__ == "__main__":
    main()
