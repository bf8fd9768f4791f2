"""A ClearML hyper-parameter optimization controller with only its imports changed.

Run ``examples/clearml/base_train.py`` once first (it makes the base task), then::

    python examples/clearml/hpo_controller.py                   # here (local mode starts workers)
    python examples/clearml/hpo_controller.py --run_as_service  # on a worker of queue "services"

With ``--run_as_service`` the script enqueues itself on the ``services`` queue and exits; a worker
of that queue (``hpq worker -Q services``) runs it, and ``Task.init`` there returns the queued task.
"""

from __future__ import annotations

import argparse
import logging

from controller import (  # was: from clearml.automation import ...
    DiscreteParameterRange,
    HyperParameterOptimizer,
    RandomSearch,
    UniformParameterRange,
)
from workers import Task  # was: from clearml import Task

try:
    from controller import OptimizerOptuna  # was: from clearml.automation.optuna import ...

    aSearchStrategy = OptimizerOptuna
except ImportError:
    logging.getLogger().warning("optuna is not installed: using RandomSearch")
    aSearchStrategy = RandomSearch


def job_complete_callback(job_id, objective_value, objective_iteration, job_parameters,
                          top_performance_job_id):
    print("Job completed!", job_id, objective_value, objective_iteration, job_parameters)
    if job_id == top_performance_job_id:
        print(f"WOOT WOOT we broke the record! Objective reached {objective_value}")


parser = argparse.ArgumentParser()
parser.add_argument("--template_task_id", default=None, help="Task to optimize")
parser.add_argument("--run_as_service", action="store_true", help="run remotely as a service")
parser.add_argument("--queue", default="default", help="queue of the training jobs")
args = parser.parse_args()

task = Task.init(project_name="Hyper-Parameter Optimization",
                 task_name="Automatic Hyper-Parameter Optimization",
                 task_type=Task.TaskTypes.optimizer,
                 reuse_last_task_id=False)

if not args.template_task_id:
    args.template_task_id = Task.get_task(project_name="examples",
                                          task_name="clearml base train").id

an_optimizer = HyperParameterOptimizer(
    base_task_id=args.template_task_id,
    hyper_parameters=[
        UniformParameterRange("Args/lr", min_value=0.005, max_value=0.2, step_size=0.005),
        UniformParameterRange("Args/momentum", min_value=0.5, max_value=0.95, step_size=0.05),
        DiscreteParameterRange("batch_size", values=[16, 32, 64, 128]),  # General/batch_size
        DiscreteParameterRange("General/dropout", values=[0.1, 0.2, 0.3]),
    ],
    objective_metric_title="validation",
    objective_metric_series="loss",
    objective_metric_sign="min",
    max_number_of_concurrent_tasks=2,
    optimizer_class=aSearchStrategy,
    execution_queue=args.queue,
    time_limit_per_job=5.,
    pool_period_min=0.2,
    total_max_jobs=12,
    min_iteration_per_job=2,
    max_iteration_per_job=8,
)

if args.run_as_service:
    task.execute_remotely(queue_name="services", exit_process=True)

an_optimizer.set_report_period(0.2)
an_optimizer.start(job_complete_callback=job_complete_callback)
an_optimizer.set_time_limit(in_minutes=30.0)
an_optimizer.wait()
top_exp = an_optimizer.get_top_experiments(top_k=3)
print([t.id for t in top_exp])
an_optimizer.stop()
print("We are done, good bye")
