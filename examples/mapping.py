"""Mapping: run a given list of configurations, in order (Polyaxon's ``kind: mapping``).

Each entry overrides some parameters of the base task (``General/`` is added to names without a
section); the others keep the base task's values. ``hyper_parameters`` may stay empty, so
``all_hyper_parameters=True`` shows each trial's full parameters in the top 3.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

from common import QUEUE, base_task, run

from controller import HyperParameterOptimizer, Mapping

CONFIGURATIONS = [
    {"lr": 0.01, "dropout": 0.5},
    {"lr": 0.1},                          # dropout stays the base task's 0.25
    {"lr": 0.1, "dropout": 0.3, "epochs": 5},
    {"lr": 0.3, "dropout": 0.3},
    {"General/lr": 0.05, "General/dropout": 0.2},
]


def main() -> None:
    opt = HyperParameterOptimizer(
        base_task_id=base_task().id, hyper_parameters=[],
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=Mapping, values=CONFIGURATIONS,
        max_number_of_concurrent_tasks=2, execution_queue=QUEUE, pool_period_min=0.2)
    run(opt, all_hyper_parameters=True)


if __name__ == "__main__":
    main()
