"""Grid search: every point of the Cartesian grid of lr x dropout (4 x 3 = 12 trials), once.

The last parameter varies fastest. The optimization ends when the grid is exhausted
("search space exhausted"); ``total_max_jobs`` would cut it short. The cursor is saved, so a
resumed optimizer (``HyperParameterOptimizer.resume(id)``) continues the grid instead of
starting over.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

from common import QUEUE, base_task, run

from controller import DiscreteParameterRange, GridSearch, HyperParameterOptimizer


def main() -> None:
    opt = HyperParameterOptimizer(
        base_task_id=base_task().id,
        hyper_parameters=[DiscreteParameterRange("General/lr", values=[0.01, 0.03, 0.1, 0.3]),
                          DiscreteParameterRange("General/dropout", values=[0.1, 0.3, 0.5])],
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=GridSearch,
        max_number_of_concurrent_tasks=2, execution_queue=QUEUE, pool_period_min=0.2)
    run(opt)


if __name__ == "__main__":
    main()
