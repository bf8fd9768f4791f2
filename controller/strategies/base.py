"""The search-strategy contract.

A strategy turns results into suggestions and decisions. It never touches Celery or Redis: the
optimizer's loop (or the simulator in :mod:`controller.simulate`) owns the jobs and calls it.

A strategy is built with its search space, its seed and its own arguments
(``MyStrategy(hyper_parameters=..., seed=..., my_arg=...)``); what the optimizer provides comes
through one hook, :meth:`SearchStrategy.bind`, with an :class:`OptimizerContext`: the objective,
the read-only results view, an Optuna storage and a study name. ClearML's constructor arguments
(``base_task_id``, ``execution_queue``, ``total_max_jobs``, ...) and queries
(``get_top_experiments*``) are not part of this contract: they live in
:mod:`controller.strategies.clearml_compat`, the base of the built-in strategies.

The loop's side of the contract, in order:

0. :meth:`bind` once, before anything else (on resume, before :meth:`load_state_dict`).
1. While a concurrency slot is free and the budget allows, the loop calls :meth:`suggest`:

   * a :class:`Suggestion` -> the loop creates a job for it and calls :meth:`on_trial_start`;
   * :data:`WAIT` -> nothing to launch now; the loop asks again after the next result;
   * ``None`` -> the strategy is exhausted; the optimization ends once no job is active.

2. Each report of the objective by a running job goes to :meth:`on_trial_result`, which returns a
   :class:`Decision` (``CONTINUE`` or ``STOP``; a stopped job ends ``stopped``).
3. Each job that ends (completed, failed or stopped) goes once to :meth:`on_trial_complete`, with
   its objective value if it has one. Results may arrive in any order; failures too.
   A running job may also send requests of its own (:mod:`workers.messages`, such as the
   in-trial PBT client's): each goes to :meth:`on_trial_message`, in order with its reports, and
   the answer goes back to the job.
4. :meth:`state_dict` returns the strategy's control state as JSON-serialisable data; a fresh
   strategy built with the same arguments, bound to the same context and given that state plus
   the list of trials (:meth:`load_state_dict`) continues exactly as the original would have.
   Per-trial data (parameters, ``meta``, status, value) comes back through ``trials``, so the
   state itself stays small: the loop saves it after every change and resumes a killed
   controller from it.

Values: ``value`` is the raw objective (a float, or a list for several objectives) as reported;
use :meth:`SearchStrategy.loss` for a lower-is-better number.

Writing your own strategy: subclass :class:`SearchStrategy`, implement :meth:`suggest`, and extend
the other hooks and :meth:`state_dict`/:meth:`load_state_dict` as needed. Declare
strategy-specific arguments in ``__init__`` and pass ``**kwargs`` to ``super().__init__``;
unknown arguments are a TypeError, so that typos do not pass silently. Override :meth:`bind` to
use more of the context than the objective. Check it with :mod:`controller.testing`.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

from ..objective import MultiObjective, Objective
from ..parameters import Parameter, RandomSeed, SearchSpace

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

    from ..results import ResultsView


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


@dataclass(frozen=True)
class OptimizerContext:
    """What the optimizer provides to its strategy, handed over by :meth:`SearchStrategy.bind`.

    Attributes:
        objective: the objective(s); an :class:`Objective` is kept as a one-element
            :class:`MultiObjective`.
        results: the optimizer's read-only results view (:class:`controller.results.ResultsView`,
            the ``get_top_experiments*`` queries); None outside an optimizer (simulation, tests).
        optuna_storage: where a strategy keeps an Optuna study: an Optuna storage or its URL (the
            optimizer passes its Redis URL: Optuna's journal storage on the same Redis); None
            when the optimizer has none to offer (an in-memory store).
        study_name: a name unique to this optimization (the optimizer's task id), for the
            strategy's own records, such as an Optuna study.

    Raises:
        TypeError: ``objective`` is not an Objective or a MultiObjective.
    """

    objective: MultiObjective
    results: ResultsView | None = None
    optuna_storage: BaseStorage | str | None = None
    study_name: str | None = None

    def __post_init__(self) -> None:
        objective: Any = self.objective
        if isinstance(objective, Objective):
            object.__setattr__(self, "objective", MultiObjective([objective]))
        elif not isinstance(objective, MultiObjective):
            raise TypeError(f"OptimizerContext.objective must be an Objective or a "
                            f"MultiObjective, got {objective!r}")


class SearchStrategy(ABC):
    """Base class of every search strategy (see the module docstring for the contract).

    A strategy gets its search space, its seed and its own arguments when it is built, and what
    the optimizer provides (the objective, the results view, an Optuna storage) through
    :meth:`bind`. ClearML's constructor arguments and queries live in
    :class:`~controller.strategies.clearml_compat.ClearMLSearchStrategy`, the base of the
    built-in strategies.

    Args:
        hyper_parameters: the search space (see :class:`SearchSpace`).
        seed: seed of ``self.rng``; default: :meth:`RandomSeed.set_random_seed`'s if it was
            called, else a random one (kept in ``self.seed`` and the state).

    Raises:
        TypeError: for an argument the strategy does not know.
        ValueError: for an invalid search space (see :class:`SearchSpace`).
    """

    def __init__(self, hyper_parameters: Iterable[Parameter] = (), *, seed: int | None = None,
                 **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unknown argument(s): "
                            f"{', '.join(sorted(kwargs))}")
        self.space = SearchSpace(hyper_parameters)
        if seed is None:
            seed = RandomSeed.get_random_seed()
        self.seed = int(seed) if seed is not None else secrets.randbits(63)
        self.rng = np.random.default_rng(self.seed)
        self.context: OptimizerContext | None = None

    def bind(self, context: OptimizerContext) -> None:
        """Receive what the optimizer provides: called before the first :meth:`suggest` (and,
        on resume, before :meth:`load_state_dict`); the simulator and the contract checks call
        it too. An override checks ``context`` (if it does) and calls ``super().bind(context)``.

        Raises:
            ValueError: the strategy cannot work with ``context`` (a Hyperband ``metric`` whose
                direction contradicts the objective, say).
        """
        self.context = context

    def set_objective(self, objective: MultiObjective | Objective) -> None:
        """:meth:`bind` with ``objective`` in place of the bound one (the rest stays bound)."""
        multi = objective if isinstance(objective, MultiObjective) else MultiObjective([objective])
        context = self.context
        self.bind(OptimizerContext(multi) if context is None
                  else replace(context, objective=multi))

    @property
    def objective(self) -> MultiObjective | None:
        """The bound objective (None before :meth:`bind`)."""
        return self.context.objective if self.context is not None else None

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

    def on_trial_message(self, job_id: str, kind: str, data: Mapping[str, Any]) -> Any:
        """A request of the running job ``job_id`` (``kind`` names it; ``data`` is its JSON
        payload). Return the JSON answer (None for a request that wants none). Changes made here
        are saved with the strategy's state before the answer reaches the job.

        Raises:
            ValueError, TypeError: the strategy does not serve ``kind`` (the default) or
                ``data`` is invalid; the job receives the message as a
                :class:`workers.TrialRequestError`.
        """
        raise ValueError(f"{type(self).__name__} does not answer trial requests ({kind!r})")

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
        """Lower-is-better scalar for the first objective (``-value`` when maximizing).

        Raises:
            RuntimeError: before :meth:`bind`.
        """
        if self.objective is None:
            raise RuntimeError(f"{type(self).__name__}.loss() needs an objective: bind() first")
        first = value[0] if isinstance(value, Sequence) else value
        return self.objective.objectives[0].normalize(float(first))
