"""Population-based training: 6 members train in segments of 2 epochs; after each segment the
worst member copies a top member's checkpoint and perturbed hyper-parameters.

Each segment is one job continuing a checkpoint (``continue_from``), so the hyper-parameters of
a member form a schedule over its segments. Uses examples/train_resumable.py.
Runs as it is (local mode without ``HPQ_REDIS_URL``, see examples/quickstart.py).
"""

from __future__ import annotations

from common import QUEUE, SPACE, base_task, print_end, print_failure, print_pbt_schedules

from controller import HyperParameterOptimizer, PopulationBasedTraining


def main() -> None:
    opt = HyperParameterOptimizer(
        base_task_id=base_task(resumable=True, **{"General/epochs": 8}).id,
        hyper_parameters=SPACE,
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=PopulationBasedTraining,
        resource="General/epochs", perturbation_interval=2, max_resource=8, population_size=6,
        max_number_of_concurrent_tasks=2, execution_queue=QUEUE,
        pool_period_min=0.2, seed=3)
    opt.start(job_failed_callback=print_failure)
    opt.wait()
    print_end(opt)
    print_pbt_schedules(opt)


if __name__ == "__main__":
    main()
