"""Population-based training of a real network: 8 members, scikit-learn's MLPClassifier on the
digits (examples/mlp_digits.py), in segments of 3 epochs up to 24.

After each segment the worst members load a top member's pickled model (its checkpoint) and go on
training it with perturbed step size and L2 penalty, so each member's hyper-parameters form a
schedule. The hidden layer's width is fixed (a loaded model keeps its shape). About a minute on
two CPU cores.

Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py); needs the
``examples`` extra (``pip install -e '.[examples]'``).
"""

from __future__ import annotations

from common import MLP_SPACE, QUEUE, mlp_task, print_end, print_failure, print_pbt_schedules

from controller import HyperParameterOptimizer, PopulationBasedTraining


def main() -> None:
    opt = HyperParameterOptimizer(
        base_task_id=mlp_task(**{"General/epochs": 24}).id,
        hyper_parameters=[p for p in MLP_SPACE if p.name != "General/hidden"],
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=PopulationBasedTraining,
        resource="General/epochs", perturbation_interval=3, max_resource=24, population_size=8,
        max_number_of_concurrent_tasks=2, execution_queue=QUEUE, pool_period_min=0.2, seed=3)
    opt.set_time_limit(in_minutes=5.0)
    opt.start(job_failed_callback=print_failure)
    opt.wait()
    print_end(opt)
    print_pbt_schedules(opt)


if __name__ == "__main__":
    main()
