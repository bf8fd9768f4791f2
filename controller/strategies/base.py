"""The search-strategy contract.

A strategy turns results into suggestions and decisions. It never touches Celery or Redis: the
optimizer's loop (or the simulator in :mod:`controller.simulate`) owns the jobs and calls it.

The loop's side of the contract, in order:

1. While a concurrency slot is free and the budget allows, the loop calls :meth:`suggest`:

   * a :class:`Suggestion` -> the loop creates a job for it and calls :meth:`on_trial_start`;
   * :data:`WAIT` -> nothing to launch now; the loop asks again after the next result;
   * ``None`` -> the strategy is exhausted; the optimization ends once no job is active.

2. Each report of the objective by a running job goes to :meth:`on_trial_result`, which returns a
   :class:`Decision` (``CONTINUE`` or ``STOP``; a stopped job ends ``stopped``).
3. Each job that ends (completed, failed or stopped) goes once to :meth:`on_trial_complete`, with
   its objective value if it has one. Results may arrive in any order; failures too.
4. :meth:`state_dict` returns the strategy's control state as JSON-serialisable data; a fresh
   strategy built with the same arguments and given that state plus the list of trials
   (:meth:`load_state_dict`) continues exactly as the original would have. Per-trial data
   (parameters, ``meta``, status, value) comes back through ``trials``, so the state itself stays
   small: the loop saves it after every change and resumes a killed controller from it.

Values: ``value`` is the raw objective (a float, or a list for several objectives) as reported;
use :meth:`SearchStrategy.loss` for a lower-is-better number.

Writing your own strategy: subclass :class:`SearchStrategy`, implement :meth:`suggest`, and extend
the other hooks and :meth:`state_dict`/:meth:`load_state_dict` as needed. Declare strategy-specific
arguments in ``__init__`` and pass ``**kwargs`` to ``super().__init__``; unknown arguments are a
TypeError, so that typos do not pass silently.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from ..objective import MultiObjective, Objective
from ..parameters import Parameter, SearchSpace


class Decision(str, Enum):
    """What to do with a running trial after one of its reports."""

    CONTINUE = "continue"
    STOP = "stop"


class Wait:
    """Type of :data:`WAIT`."""

    _instance: Wait | None = None

    def __new__(cls) -> Wait:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "WAIT"


#: Returned by :meth:`SearchStrategy.suggest` when it needs more results before suggesting.
WAIT = Wait()


@dataclass(frozen=True)
class Suggestion:
    """A configuration to run.

    ``parameters`` are ``{"Section/name": value}`` overrides of the base task. ``meta`` is the
    strategy's own bookkeeping (a rung, a bracket, an Optuna trial number); it is stored with the
    job and comes back in :class:`Trial`. ``continue_from`` names a job whose latest checkpoint
    the new trial continues from (``Task.latest_checkpoint()`` in the trial follows it).
    """

    parameters: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    continue_from: str | None = None


@dataclass(frozen=True)
class Trial:
    """What the loop knows of one job: its suggestion and, once it ended, its outcome.

    ``status`` is a task status (``queued``, ``in_progress``, ``completed``, ``failed``,
    ``stopped``); ``value`` is the objective (None when the job ended without it).
    """

    job_id: str
    parameters: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    status: str = "queued"
    value: float | list[float] | None = None
    iteration: int | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "stopped")


class SearchStrategy(ABC):
    """Base class of every search strategy (see the module docstring for the contract).

    The constructor takes ClearML's arguments so that ClearML strategy constructions port as they
    are; ``execution_queue``, ``pool_period_min``, ``time_limit_per_job`` and
    ``compute_time_limit`` are read by the optimizer, not the strategy.

    Raises:
        TypeError: for an argument the strategy does not know.
        ValueError: for an invalid search space (see :class:`SearchSpace`).
    """

    def __init__(self, base_task_id: str | None = None,
                 hyper_parameters: Iterable[Parameter] = (),
                 objective_metric: MultiObjective | Objective | None = None,
                 execution_queue: str = "default", num_concurrent_workers: int = 1,
                 pool_period_min: float = 2.0, time_limit_per_job: float | None = None,
                 compute_time_limit: float | None = None,
                 min_iteration_per_job: int | None = None,
                 max_iteration_per_job: int | None = None, total_max_jobs: int | None = None,
                 seed: int | None = None, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unknown argument(s): "
                            f"{', '.join(sorted(kwargs))}")
        self.base_task_id = base_task_id
        self.space = SearchSpace(hyper_parameters)
        self.hyper_parameters = self.space.parameters
        self.objective: MultiObjective | None = None
        if objective_metric is not None:
            self.set_objective(objective_metric)
        self.execution_queue = execution_queue
        self.num_concurrent_workers = num_concurrent_workers
        self.pool_period_min = pool_period_min
        self.time_limit_per_job = time_limit_per_job
        self.compute_time_limit = compute_time_limit
        self.min_iteration_per_job = min_iteration_per_job
        self.max_iteration_per_job = max_iteration_per_job
        self.total_max_jobs = total_max_jobs
        self.seed = int(seed) if seed is not None else secrets.randbits(63)
        self.rng = np.random.default_rng(self.seed)
        self._results_view: Any = None

    def set_objective(self, objective: MultiObjective | Objective) -> None:
        """Set the objective (the optimizer does this when it builds the strategy)."""
        self.objective = (objective if isinstance(objective, MultiObjective)
                          else MultiObjective([objective]))

    # ------------------------------------------------------------------ contract
    @abstractmethod
    def suggest(self) -> Suggestion | Wait | None:
        """The next configuration to launch, :data:`WAIT`, or None when exhausted."""

    def on_trial_start(self, job_id: str, suggestion: Suggestion) -> None:
        """The loop created ``job_id`` for ``suggestion`` (the last one :meth:`suggest` gave)."""

    def on_trial_result(self, job_id: str, iteration: int, value: float | list[float]
                        ) -> Decision:
        """An intermediate report of the objective; return STOP to end the trial now."""
        return Decision.CONTINUE

    def on_trial_complete(self, trial: Trial) -> None:
        """``trial`` ended (completed, failed or stopped); called once per job."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable control state (extend it in subclasses: call super())."""
        return {"seed": self.seed, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
        """Restore :meth:`state_dict`'s output; ``trials`` are every job so far, oldest first."""
        self.seed = int(state["seed"])
        self.rng = np.random.default_rng(self.seed)
        self.rng.bit_generator.state = state["rng"]

    # ------------------------------------------------------------------ helpers
    def loss(self, value: float | Sequence[float]) -> float:
        """Lower-is-better scalar for the first objective (``-value`` when maximizing)."""
        assert self.objective is not None, "the optimizer sets the objective before use"
        first = value[0] if isinstance(value, (list, tuple)) else value
        return self.objective.objectives[0].normalize(float(first))

    # -------------------------------------------------- ClearML-compatible queries
    def attach_results(self, view: Any) -> None:
        """Give the strategy the optimizer's read-only results view (used by the queries)."""
        self._results_view = view

    def get_objective_metric(self) -> MultiObjective | None:
        return self.objective

    def get_top_experiments(self, top_k: int) -> list[Any]:
        """The best ``top_k`` finished jobs as Tasks (same as the optimizer's method)."""
        return self._view().get_top_experiments(top_k)

    def get_top_experiments_id_metrics_pair(self, top_k: int, all_metrics: bool = False,
                                            only_completed: bool = False) -> list[Any]:
        return self._view().get_top_experiments_id_metrics_pair(top_k, all_metrics,
                                                                 only_completed)

    def get_top_experiments_details(self, top_k: int, all_metrics: bool = False,
                                    all_hyper_parameters: bool = False,
                                    only_completed: bool = False) -> list[dict[str, Any]]:
        return self._view().get_top_experiments_details(top_k, all_metrics,
                                                        all_hyper_parameters, only_completed)

    def _view(self) -> Any:
        if self._results_view is None:
            raise RuntimeError("this strategy is not attached to a HyperParameterOptimizer")
        return self._results_view
