"""Early stopping, for any strategy: median stopping and a metric threshold.

* ``MedianStopping(grace_iterations=3, min_samples=3)`` stops a running trial whose best loss so
  far is worse than the median of the other trials' best at the same epoch (from epoch 3 on, once
  3 other trials got there); the trial sees the request at its next report and ends ``stopped``.
* ``MetricThreshold(0.03)`` ends the whole optimization as soon as a trial reports a loss of 0.03
  or better; the running trials are stopped.

A random search of up to 30 trials; the same policies can be given as Polyaxon-style dicts, e.g.
``{"kind": "median", "grace_iterations": 3}``. ``FailureRate(50)`` would end it when half the
trials fail.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

from common import QUEUE, SPACE, base_task, run

from controller import (
    HyperParameterOptimizer,
    MedianStopping,
    MetricThreshold,
    RandomSearch,
)


def main() -> None:
    opt = HyperParameterOptimizer(
        base_task_id=base_task(**{"General/sleep": 0.02}).id, hyper_parameters=SPACE,
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=RandomSearch, seed=2,
        early_stopping=[MedianStopping(grace_iterations=3, min_samples=3), MetricThreshold(0.03)],
        max_number_of_concurrent_tasks=2, execution_queue=QUEUE,
        total_max_jobs=30, pool_period_min=0.2)
    run(opt)


if __name__ == "__main__":
    main()
