"""phs's ``ComputeDefinition``: run (or continue) an experiment on hpqueue's workers::

    compdef = ComputeDefinition(experiment_dir="/runs/griewank",
                                parallelization="local_processes", local_processes_num_workers=2)
    compdef.start_execution()

``parallelization``: ``local_processes`` starts ``local_processes_num_workers`` local Celery
worker processes; ``dask`` (or ``celery``) uses the workers that consume ``queue`` on
``HPQ_REDIS_URL`` (``hpq worker``), wherever they run. The first start creates an optimizer
and notes its id in the experiment folder; a later start on the same folder resumes it and runs
only the sets that have not run yet ("Nothing to do" once every set ran). While it runs,
``results/result_frame.csv`` grows with each result (the table of ``hpq export``; phs's
``watch`` line works on it).

Accepted as phs's: ``provide_worker_path`` (a folder per trial, ``parameter["worker_save_path"]``),
``redirect_stdout`` and ``ignore_warnings`` (a trial's output is always kept on its record:
``hpq`` and the report show it), ``bayesian_wait_for_all``. Monitor functions are not supported
(``hpq status``/``export``/``report`` and the dashboard show a running experiment).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from workers.errors import TaskNotFoundError
from workers.status import TaskStatus
from workers.store import Store, get_store

from ..export import results_table
from ..optimizer import HyperParameterOptimizer
from .experiment_definition import read_experiment, write_experiment
from .parameter_definition import load_parameter_definitions
from .search import build_optimizer

log = logging.getLogger("hpqueue.phs")
PARALLELIZATIONS = ("local_processes", "dask", "celery")


class ComputeDefinition:
    """Runs an experiment created by ``ExperimentDefinition`` (see the module docstring).

    Raises:
        ValueError: an unknown ``parallelization``, monitor functions, or a folder that is not
            an experiment.
    """

    def __init__(self, experiment_dir: str | Path, parallelization: str = "local_processes",
                 local_processes_num_workers: int = 2, provide_worker_path: bool = True,
                 redirect_stdout: bool = True, ignore_warnings: bool = True,
                 bayesian_wait_for_all: bool = False, monitor_root_dir: str | None = None,
                 monitor_module_name: str | None = None,
                 monitor_func_name_with_args: dict[str, Any] | None = None, *,
                 queue: str = "default", seed: int | None = None,
                 store: Store | None = None) -> None:
        if parallelization not in PARALLELIZATIONS:
            raise ValueError(f"parallelization must be one of {PARALLELIZATIONS}, got "
                             f"{parallelization!r}")
        if monitor_root_dir or monitor_module_name or monitor_func_name_with_args:
            raise ValueError("monitor functions are not supported: follow a running experiment "
                             "with hpq status, hpq export or hpq report")
        if isinstance(local_processes_num_workers, bool) or \
                not isinstance(local_processes_num_workers, int) or \
                local_processes_num_workers < 1:
            raise ValueError(f"local_processes_num_workers must be a positive integer, got "
                             f"{local_processes_num_workers!r}")
        self.experiment_dir = Path(experiment_dir)
        self.experiment = read_experiment(self.experiment_dir)
        self.parallelization = parallelization
        self.workers = local_processes_num_workers
        self.provide_worker_path = provide_worker_path
        self.wait_for_all = bayesian_wait_for_all
        self.queue = queue
        self.seed = seed
        self.store = store
        self.result_file = self.experiment_dir / "results" / "result_frame.csv"
        self.optimizer: HyperParameterOptimizer | None = None

    def start_execution(self) -> int:
        """Run the sets that have not run yet, until they all ran; returns 1 (as phs).

        ``results/result_frame.csv`` is rewritten after every result and at the end.
        """
        store = self.store or get_store()
        opt = self._optimizer(store)
        if opt is None:
            print("\n\tNothing to do, all parameter sets have been computed.")
            return 1
        self.optimizer = opt

        def write_results(*_: Any) -> None:
            results_table(store, opt.id).write(self.result_file)

        print(f"\toptimizer {opt.id}: results in {self.result_file}\n"
              f"\twatch -n 1 \"(head -n 1; tail -n 10) < {self.result_file}\"")
        if self.parallelization == "local_processes":
            opt.start_locally(write_results, num_workers=self.workers)
        else:
            opt.start(write_results)
        try:
            opt.wait()
        except KeyboardInterrupt:
            opt.stop()
            raise
        finally:
            write_results()
        return 1

    def _optimizer(self, store: Store) -> HyperParameterOptimizer | None:
        """The experiment's optimizer: new, resumed, or None when it has completed."""
        opt_id = self.experiment.get("optimizer_id")
        if opt_id:
            try:
                status = store.status(opt_id)
            except TaskNotFoundError:
                raise ValueError(f"the optimizer {opt_id} of {self.experiment_dir} is not in "
                                 "this Redis (HPQ_REDIS_URL)") from None
            if status is TaskStatus.COMPLETED:
                return None
            return HyperParameterOptimizer.resume(opt_id, store=store)
        definitions = load_parameter_definitions(self.experiment_dir / "parameter_definitions")
        opt = build_optimizer(self.experiment["target"], definitions, concurrency=self.workers,
                              queue=self.queue, project="phs", name=self.experiment_dir.name,
                              seed=self.seed, wait_for_all=self.wait_for_all,
                              provide_worker_path=self.provide_worker_path, store=store)
        write_experiment(self.experiment_dir, {**self.experiment, "optimizer_id": opt.id})
        self.experiment["optimizer_id"] = opt.id
        return opt
