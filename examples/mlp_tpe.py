"""TPE (Optuna) tuning a real network: scikit-learn's MLPClassifier on the digits.

24 trials of 15 epochs each (examples/mlp_digits.py) over the step size, the L2 penalty and the
hidden layer's width; Optuna's median pruner may stop a trial whose validation loss lags. About a
minute on two CPU cores.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py); needs the
``examples`` extra (``pip install -e '.[examples]'``).
"""

from __future__ import annotations

from common import MLP_SPACE, QUEUE, mlp_task, run

from controller import HyperParameterOptimizer, OptimizerOptuna


def main() -> None:
    opt = HyperParameterOptimizer(
        base_task_id=mlp_task(**{"General/epochs": 15}).id, hyper_parameters=MLP_SPACE,
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=OptimizerOptuna, seed=3,
        max_number_of_concurrent_tasks=2, execution_queue=QUEUE,
        total_max_jobs=24, pool_period_min=0.2)
    run(opt)


if __name__ == "__main__":
    main()
