"""ASHA (asynchronous successive halving) with resume, over examples/train_resumable.py.

Rungs of 1, 3 and 9 epochs (``min_resource=1, max_resource=9, reduction_factor=3``). Whenever a
worker is free, a configuration in the top third of its rung is promoted to the next rung, else a
new configuration starts at 1 epoch: nobody waits for a rung to fill. With ``resume=True`` a
promotion continues the previous trial's checkpoint (``continue_from``). ``max_trials=12`` caps
the number of configurations; the search ends once nothing more can be promoted.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

from common import QUEUE, SPACE, base_task, run

from controller import ASHA, HyperParameterOptimizer


def main() -> None:
    opt = HyperParameterOptimizer(
        base_task_id=base_task(resumable=True).id, hyper_parameters=SPACE,
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=ASHA,
        resource="General/epochs", min_resource=1, max_resource=9, reduction_factor=3,
        resume=True, max_trials=12, seed=5,
        max_number_of_concurrent_tasks=2, execution_queue=QUEUE,
        total_max_jobs=30, pool_period_min=0.2)
    run(opt)


if __name__ == "__main__":
    main()
