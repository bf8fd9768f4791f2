"""Bayesian optimization with a Gaussian process (Polyaxon's ``bayes``), in plain numpy.

``num_initial_runs=4`` random configurations, then ``max_iterations=10`` GP suggestions
(expected improvement here; UCB by default), then the search is exhausted. Running trials count
as observed at the GP's mean, so both workers stay busy with different suggestions.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

from common import QUEUE, SPACE, base_task, run

from controller import BayesianGP, HyperParameterOptimizer


def main() -> None:
    opt = HyperParameterOptimizer(
        base_task_id=base_task().id, hyper_parameters=SPACE,
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=BayesianGP,
        num_initial_runs=4, max_iterations=10, seed=1,
        utility_function={"acquisition_function": "ei", "eps": 0.0},
        max_number_of_concurrent_tasks=2, execution_queue=QUEUE, pool_period_min=0.2)
    run(opt)


if __name__ == "__main__":
    main()
