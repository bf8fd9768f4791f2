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

from common import QUEUE, SPACE, base_task, run

from controller import Hyperband, HyperParameterOptimizer


def main() -> None:
    opt = HyperParameterOptimizer(
        base_task_id=base_task(resumable=True).id, hyper_parameters=SPACE,
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=Hyperband,
        max_iterations=9, eta=3, resource="General/epochs", resume=True,   # Hyperband's own
        max_number_of_concurrent_tasks=2, execution_queue=QUEUE, pool_period_min=0.2, seed=7)
    run(opt)


if __name__ == "__main__":
    main()
