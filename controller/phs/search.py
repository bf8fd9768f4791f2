"""The function API: optimize a plain Python function in one call, without writing a base task::

    from controller.phs import ParameterDefinition, search

    def griewank(parameter):                       # phs's target functions run unchanged
        exec(parameter["hyperpar"], globals(), globals())
        return (x * x + y * y) / 4000 - math.cos(x) * math.cos(y / math.sqrt(2)) + 1

    opt = search(griewank, pardef, workers=2)      # 2 local worker processes; waits
    print(opt.get_top_experiments_details(3))

``f`` takes phs's ``parameter`` dict (or nothing, reading its task with ``Task.current_task()``)
and returns a number, minimised by default (``sign="max"`` to maximise). Workers import ``f`` by
name: it must be a module-level function (in a script, keep the script's own work under
``if __name__ == "__main__":``). Each parameter set is one trial (see
:class:`controller.strategies.parameter_sets.ParameterSets` and :mod:`workers.function_trial`).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workers.entrypoints import check_entry_point
from workers.function_trial import ORDER, RESULT_SERIES, RESULT_TITLE, TARGET, WORKER_PATH
from workers.store import Store
from workers.task import Task, full_name

from ..dispatch import Dispatcher
from ..driver import Callback
from ..optimizer import HyperParameterOptimizer
from ..strategies.parameter_sets import ParameterSets as SetsStrategy
from .parameter_definition import ParameterDefinition, ParameterSets

ENTRY_POINT = "workers.function_trial:run"


def target_spec(f: Any) -> str:
    """The entry point naming ``f`` (a function, or already ``module:function`` /
    ``file.py:function``).

    Raises:
        ValueError: ``f`` is a lambda, a nested function or not callable; or its module or
            function cannot be found (checked without importing it).
    """
    if isinstance(f, str):
        check_entry_point(f)  # fails now, not on every worker (without importing it here)
        return f
    name = getattr(f, "__qualname__", None)
    if not callable(f) or not isinstance(name, str) or "<" in name:
        raise ValueError(f"f must be a module-level function (workers import it by name), got "
                         f"{f!r}")
    if f.__module__ == "__main__":
        source = inspect.getsourcefile(f)
        if source is None:
            raise ValueError(f"cannot find the file that defines {name}")
        return f"{Path(source).resolve()}:{name}"
    return f"{f.__module__}:{name}"


def as_definitions(parameter_definition: ParameterDefinition | ParameterSets) -> ParameterSets:
    """The sets of a :class:`ParameterDefinition` (or the sets themselves)."""
    if isinstance(parameter_definition, ParameterDefinition):
        return parameter_definition.get_parameter_definitions()
    if isinstance(parameter_definition, ParameterSets):
        return parameter_definition
    raise TypeError(f"expected a ParameterDefinition, got {parameter_definition!r}")


def build_optimizer(target: str, definitions: ParameterSets, *, concurrency: int,
                    sign: str = "min", queue: str = "default", project: str = "phs",
                    name: str | None = None, seed: int | None = None,
                    wait_for_all: bool = False,
                    utility_function: Mapping[str, Any] | None = None,
                    provide_worker_path: bool = True, store: Store | None = None,
                    dispatcher: Dispatcher | None = None) -> HyperParameterOptimizer:
    """An optimizer (not started) running ``target`` on each set of ``definitions``: the base
    task is ``workers.function_trial:run`` with the target, the parameters' order and their
    first set's values."""
    first = definitions.sets[0]["values"]
    base = Task.create(project, name or target.rsplit(":", 1)[1], entry_point=ENTRY_POINT,
                       parameters={**{full_name(n): first.get(n) for n, _ in definitions.types},
                                   TARGET: target, ORDER: [list(t) for t in definitions.types],
                                   WORKER_PATH: bool(provide_worker_path)}, store=store)
    return HyperParameterOptimizer(
        base.id, [], RESULT_TITLE, RESULT_SERIES, sign, optimizer_class=SetsStrategy,
        max_number_of_concurrent_tasks=concurrency, execution_queue=queue, seed=seed,
        sets=definitions.sets, types=[list(t) for t in definitions.types],
        wait_for_all=wait_for_all, utility_function=utility_function, store=store,
        dispatcher=dispatcher)


def search(f: Any, parameter_definition: ParameterDefinition | ParameterSets, *,
           workers: int | None = 2, concurrency: int | None = None, sign: str = "min",
           queue: str = "default", project: str = "phs", name: str | None = None,
           seed: int | None = None, wait: bool = True, wait_for_all: bool = False,
           utility_function: Mapping[str, Any] | None = None, provide_worker_path: bool = True,
           job_complete_callback: Callback | None = None, store: Store | None = None,
           dispatcher: Dispatcher | None = None) -> HyperParameterOptimizer:
    """Run ``f`` on every parameter set of ``parameter_definition``; returns the optimizer
    (ended when ``wait``; its id works with ``hpq export``, ``hpq report``, ``resume``).

    Args:
        workers: local worker processes to start (None: use the workers that consume
            ``queue`` on ``HPQ_REDIS_URL``, e.g. ``hpq worker``).
        concurrency: sets run at the same time (default ``workers``, else 2).
        sign: ``min`` or ``max`` of ``f``'s value.
        wait_for_all: a set with Bayesian parameters waits for every earlier set.
        utility_function: the GP's acquisition (default EI, as phs).
        provide_worker_path: give ``f`` a folder of its own (``parameter["worker_save_path"]``).
        seed: the optimizer's seed (the Bayesian suggestions).

    Raises:
        ValueError: ``f`` cannot be imported by name; bad definitions or arguments.
    """
    target = target_spec(f)
    opt = build_optimizer(target, as_definitions(parameter_definition),
                          concurrency=concurrency or workers or 2, sign=sign, queue=queue,
                          project=project, name=name, seed=seed, wait_for_all=wait_for_all,
                          utility_function=utility_function,
                          provide_worker_path=provide_worker_path, store=store,
                          dispatcher=dispatcher)
    if workers:
        opt.start_locally(job_complete_callback, num_workers=workers)
    else:
        opt.start(job_complete_callback)
    if wait:
        opt.wait()
    return opt
