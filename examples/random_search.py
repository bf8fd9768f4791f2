"""Random search over continuous ranges, seeded (examples/quickstart.py is another random search,
over stepped ranges).

Draws are reproducible with ``seed`` and never repeat a configuration; ``total_max_jobs`` is never
exceeded. ``save_top_k_tasks_only=3`` archives every finished trial ranked below the top 3 (and
restores one that climbs back).

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

from common import QUEUE, SPACE, base_task, run

from controller import HyperParameterOptimizer, RandomSearch


def main() -> None:
    opt = HyperParameterOptimizer(
        base_task_id=base_task().id, hyper_parameters=SPACE,
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=RandomSearch, seed=42,
        max_number_of_concurrent_tasks=2, execution_queue=QUEUE,
        total_max_jobs=12, save_top_k_tasks_only=3, pool_period_min=0.2)
    run(opt)


if __name__ == "__main__":
    main()
