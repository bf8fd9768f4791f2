"""Hyperband (Li et al., JMLR 2018) with Polyaxon's ``V1Hyperband`` semantics and bracket math.

Hyperband runs brackets of synchronous successive halving, most aggressive first. Bracket ``s``
(``s = s_max, ..., 0``) starts ``n = num_runs(s)`` random configurations with the resource
``r = resources(s)``; after every rung ``bi`` it keeps the best ``num_runs_to_keep(n, bi)`` of them
and runs those again with ``r * eta**(bi + 1)``. The resource reaches each trial as an ordinary
task parameter (``resource``, e.g. ``General/epochs``) that the training code must read.

The arithmetic and the schedule are Polyaxon's (``V1Hyperband.set_tuning_params``,
``create_iteration`` and friends, :class:`HyperbandSchedule`), float quirks included. For
``max_iterations=81, eta=3``::

    rung  bracket 4   bracket 3   bracket 2   bracket 1   bracket 0
    0     81 x 1      34 x 3      15 x 9      8 x 27      5 x 81
    1     27 x 3      11 x 9      5 x 27      2 x 81      1 x 81
    2      9 x 9       3 x 27     1 x 81
    3      3 x 27      1 x 81
    4      1 x 81

143 configurations and 207 trials when every trial completes. The last bracket's second rung
is Polyaxon's: ``should_reduce_configs`` is True after its first rung
(``get_num_runs_to_keep_for_iteration`` is ``int(5 / 3) = 1``), so its best configuration runs
again, with the largest resource (see :class:`HyperbandSchedule`); the paper's Hyperband stops
that bracket after one rung. (Polyaxon's documentation shows yet another table: 27, 9, 3, 1 /
9, 3, 1 / 6, 2 for brackets 3 to 1.)

Float pitfall, copied on purpose: ``s_max = int(log(max_iterations) / log(eta))`` truncates a
float ratio, so ``max_iterations=243, eta=3`` gives ``s_max == 4`` (the ratio is 4.999...) and
``1000, 10`` gives 2; likewise an ``int`` resource truncates ``99.99999999999999`` to 99 for
``max_iterations=100``. Powers whose ratio is exact (81 and 27 with ``eta=3``) are unaffected.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workers.task import normalize_parameters

from ..objective import parse_sign
from ..parameters import Parameter
from .base import WAIT, OptimizerContext, Suggestion, Trial, Wait
from .clearml_compat import ClearMLSearchStrategy

_RESOURCE_TYPES: dict[str, type] = {"int": int, "float": float}
_POLYAXON_KEYS = {"maxIterations": "max_iterations", "max_iterations": "max_iterations",
                  "eta": "eta", "resource": "resource", "metric": "metric", "resume": "resume",
                  "seed": "seed", "concurrency": "concurrency"}


class HyperbandSchedule:
    """Polyaxon's bracket arithmetic and iteration schedule (``V1Hyperband``'s methods, with
    hypertune's ``get_resources*``), as pure functions of ``max_iterations`` and ``eta``.

    Iteration ``it`` runs bracket ``s_max - it``; ``bracket_iteration`` (``bi``) numbers the
    rungs of an iteration. :meth:`create_iteration` walks the schedule as Polyaxon's scheduler
    does: the next iteration once a bracket's rungs are done, else the next rung while
    :meth:`should_reduce_configs`. The last iteration (bracket 0) therefore has a second rung:
    :meth:`get_num_runs_to_keep_for_iteration` keeps ``int(n / eta)`` of its ``n``
    configurations (1 for ``max_iterations=81, eta=3``). Its resource, ``get_n_resources`` =
    ``r * eta``, is above ``max_iterations``, the documented maximum; :meth:`resource_of` caps it
    there (Polyaxon's scheduler re-creates kept configurations with their inputs unchanged,
    which gives the same).
    """

    max_iterations: float
    eta: float

    @property
    def s_max(self) -> int:
        """Index of the most aggressive bracket (truncated float log, as Polyaxon)."""
        return int(math.log(self.max_iterations) / math.log(self.eta))

    @property
    def B(self) -> float:
        """Budget of one bracket: ``(s_max + 1) * max_iterations`` (Polyaxon's and the paper's
        name)."""
        return (self.s_max + 1) * self.max_iterations

    def set_tuning_params(self) -> None:
        """Polyaxon computes ``s_max`` and ``B`` here; they are computed on access."""

    def get_bracket(self, iteration: int) -> int:
        """The bracket that iteration ``iteration`` runs (``s_max - iteration``)."""
        return self.s_max - iteration

    def get_num_runs(self, bracket: int) -> int:
        """``n``: the number of configurations a bracket starts with."""
        return math.ceil((self.B / self.max_iterations) * self.eta ** bracket / (bracket + 1))

    def get_resources(self, bracket: int) -> float:
        """``r``: the resource of a bracket's first rung."""
        return self.max_iterations * self.eta ** (-bracket)

    def get_resources_for_iteration(self, iteration: int) -> float:
        """``r`` of the bracket iteration ``iteration`` runs."""
        return self.get_resources(self.get_bracket(iteration))

    def get_n_resources(self, n_resources: float, bracket_iteration: int) -> float:
        """The resource of rung ``bracket_iteration`` of a bracket whose first rung has
        ``n_resources``."""
        return n_resources * self.eta ** bracket_iteration

    def get_n_resources_for_iteration(self, iteration: int, bracket_iteration: int) -> float:
        """The resource of rung ``bracket_iteration`` of iteration ``iteration``."""
        return self.get_n_resources(self.get_resources_for_iteration(iteration),
                                    bracket_iteration)

    def get_num_runs_to_keep(self, num_runs: int, bracket_iteration: int) -> int:
        """How many of a bracket's ``num_runs`` initial configurations rung ``bracket_iteration``
        passes on: ``int(num_runs * eta**-bi / eta)``."""
        return int(num_runs * self.eta ** (-bracket_iteration) / self.eta)

    def get_num_runs_to_keep_for_iteration(self, iteration: int, bracket_iteration: int) -> int:
        """:meth:`get_num_runs_to_keep` for iteration ``iteration`` (0 past its last rung)."""
        bracket = self.get_bracket(iteration)
        if bracket_iteration == bracket + 1:
            return 0
        return self.get_num_runs_to_keep(self.get_num_runs(bracket), bracket_iteration)

    def should_create_iteration(self, iteration: int, bracket_iteration: int) -> bool:
        """True once the bracket's rungs are done and another iteration exists."""
        if bracket_iteration < self.get_bracket(iteration):
            return False
        return self.get_bracket(iteration + 1) >= 0

    def should_reduce_configs(self, iteration: int, bracket_iteration: int) -> bool:
        """True if rung ``bracket_iteration`` keeps configurations for another rung."""
        return self.get_num_runs_to_keep_for_iteration(iteration, bracket_iteration) > 0

    def should_reschedule(self, iteration: int, bracket_iteration: int) -> bool:
        """True if anything runs after rung ``bracket_iteration`` of ``iteration``."""
        return (self.should_create_iteration(iteration, bracket_iteration)
                or self.should_reduce_configs(iteration, bracket_iteration))

    def create_iteration(self, iteration: int | None = None,
                         bracket_iteration: int = 0) -> tuple[int, int]:
        """The ``(iteration, bracket_iteration)`` after the given one (``(0, 0)`` first).

        Raises:
            ValueError: nothing follows (Polyaxon's message).
        """
        if iteration is None:
            return 0, 0
        if self.should_create_iteration(iteration, bracket_iteration):
            return iteration + 1, 0
        if self.should_reduce_configs(iteration, bracket_iteration):
            return iteration, bracket_iteration + 1
        raise ValueError("Hyperband create iteration failed, could not reschedule or reduce "
                         "configs")

    def resource_of(self, iteration: int, bracket_iteration: int) -> float:
        """The resource a trial of rung ``bracket_iteration`` of ``iteration`` gets:
        :meth:`get_n_resources_for_iteration`, at most ``max_iterations``."""
        return min(self.get_n_resources_for_iteration(iteration, bracket_iteration),
                   self.max_iterations)

    def rungs(self, bracket: int) -> list[tuple[int, float]]:
        """``(configurations, resource)`` of the rungs ``0..bracket`` of ``bracket`` (the paper's
        successive halving, without Polyaxon's extra rung of the last bracket)."""
        n, r = self.get_num_runs(bracket), self.get_resources(bracket)
        counts = [n] + [self.get_num_runs_to_keep(n, bi) for bi in range(bracket)]
        return [(count, self.get_n_resources(r, bi)) for bi, count in enumerate(counts)]

    def schedule(self) -> list[tuple[int, int, int, float]]:
        """Polyaxon's whole schedule when every trial completes: ``(iteration,
        bracket_iteration, configurations, resource)`` of each rung, in order (resources from
        :meth:`resource_of`)."""
        out = []
        iteration, bi = self.create_iteration()
        while True:
            count = (self.get_num_runs(self.get_bracket(iteration)) if bi == 0
                     else self.get_num_runs_to_keep_for_iteration(iteration, bi - 1))
            out.append((iteration, bi, count, self.resource_of(iteration, bi)))
            if not self.should_reschedule(iteration, bi):
                return out
            iteration, bi = self.create_iteration(iteration, bi)


@dataclass(frozen=True)
class HyperbandMath(HyperbandSchedule):
    """:class:`HyperbandSchedule` for given ``max_iterations`` and ``eta``."""

    max_iterations: float
    eta: float


@dataclass(frozen=True)
class Resource:
    """The task parameter that receives each trial's resource, and its type (``int`` truncates,
    as Polyaxon's ``cast_value``)."""

    name: str
    type: str = "int"

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any] | None, owner: str) -> Resource:
        """From ``"epochs"`` (type int) or Polyaxon's ``{"name": ..., "type": "int"|"float"}``;
        a name without a section gets ``General/``.

        Raises:
            ValueError: for a missing spec or name, or a type other than int/float.
        """
        if spec is None:
            raise ValueError(f"{owner} needs resource=: the task parameter that receives each "
                             f"trial's resource, e.g. 'General/epochs' or "
                             f"{{'name': 'epochs', 'type': 'int'}}")
        if isinstance(spec, str):
            spec = {"name": spec}
        if not isinstance(spec, Mapping) or set(spec) - {"name", "type"}:
            raise ValueError(f"resource must be a name or {{'name', 'type'}}, got {spec!r}")
        kind = spec.get("type") or "int"
        if kind not in _RESOURCE_TYPES:
            raise ValueError(f"resource type must be 'int' or 'float', got {kind!r}")
        name = spec.get("name")
        if not isinstance(name, str):
            raise ValueError(f"resource name must be a string, got {name!r}")
        return cls(next(iter(normalize_parameters({name: None}, "resource"))), kind)

    def cast(self, value: float) -> int | float:
        return _RESOURCE_TYPES[self.type](value)


def _metric_order(metric: Mapping[str, Any] | None) -> str | None:
    """``"min"``/``"max"`` of Polyaxon's ``{"name", "optimization"}`` metric (None if absent)."""
    if metric is None:
        return None
    if not isinstance(metric, Mapping) or "optimization" not in metric:
        raise ValueError(f"metric must be {{'name': ..., 'optimization': 'maximize'|'minimize'}}, "
                         f"got {metric!r}")
    return parse_sign(metric["optimization"])[0]


class Hyperband(ClearMLSearchStrategy):
    """Synchronous Hyperband with Polyaxon's bracket math (see the module docstring).

    Args:
        max_iterations: the largest resource a configuration gets (Polyaxon's ``maxIterations``).
        eta: the reduction factor (keep ``1/eta``, multiply the resource by ``eta``).
        resource: the task parameter receiving the resource: ``"General/epochs"`` (int) or
            ``{"name": "epochs", "type": "int"|"float"}``; ``General/`` is added to a bare name.
        metric: Polyaxon's ``{"name", "optimization"}``, accepted for schema compatibility; the
            optimizer's objective decides, and a metric whose direction disagrees is an error.
        resume: True: a promoted configuration continues its previous trial's latest checkpoint
            (``Suggestion.continue_from``) with the larger resource; False: it restarts.
        concurrency: at most this many of the strategy's trials active at once (WAIT beyond).
        **kwargs: :class:`ClearMLSearchStrategy` arguments (``hyper_parameters``, ``seed``, ...).

    Rung 0 configurations are drawn at random from the space (not de-duplicated). A rung's
    survivors are chosen once every trial of the rung has ended; meanwhile :meth:`suggest` says
    WAIT. Only ``completed`` trials with a (non-NaN) objective are ranked (first objective, ties
    by configuration id): failed, stopped and metric-less trials are never promoted. A rung left
    without any survivor ends its bracket early. After the last bracket :meth:`suggest` returns
    None. Each suggestion's ``meta`` is ``{"bracket", "iteration", "rung", "config",
    "resource"}``.

    Raises:
        ValueError: for ``max_iterations <= 0``, ``eta <= 1``, an invalid resource, metric or
            concurrency, a resource that is also a searched parameter or whose smallest value
            casts to 0, or a metric direction that contradicts the objective.
    """

    #: a subclass that may run without ``resource`` (budgets in reported iterations)
    _budget_in_iterations = False

    def __init__(self, *args: Any, max_iterations: float | None = None, eta: float = 3,
                 resource: str | Mapping[str, Any] | None = None,
                 metric: Mapping[str, Any] | None = None, resume: bool = False,
                 concurrency: int | None = None, **kwargs: Any) -> None:
        self._metric_order = _metric_order(metric)
        super().__init__(*args, **kwargs)
        if concurrency is not None and (isinstance(concurrency, bool)
                                        or not isinstance(concurrency, int) or concurrency < 1):
            raise ValueError(f"concurrency must be a positive integer, got {concurrency!r}")
        self.math = HyperbandMath(_above("max_iterations", max_iterations, 0),
                                  _above("eta", eta, 1))
        #: None only for a strategy that counts budgets in reported iterations (BOHB's ClearML
        #: way): no task parameter receives them
        self.resource: Resource | None = (
            None if resource is None and self._budget_in_iterations
            else Resource.parse(resource, type(self).__name__))
        if self.resource is not None and self.resource.name in self.space.names:
            raise ValueError(f"resource {self.resource.name!r} is also a searched parameter")
        if self._resource_value(self.math.s_max, 0) <= 0:
            raise ValueError(f"the smallest resource is 0 as "
                             f"{self.resource.type if self.resource else 'int'}; use "
                             f"resource type 'float' or a larger budget")
        self.metric = dict(metric) if metric is not None else None
        self.resume = bool(resume)
        self.concurrency = concurrency
        self.iteration = 0
        self.rung = 0
        self._promoted: list[int] = []
        self._next_config = 0
        self._reset_trials()

    @classmethod
    def from_polyaxon(cls, config: Mapping[str, Any], hyper_parameters: Iterable[Parameter],
                      **kwargs: Any) -> Hyperband:
        """Build from a Polyaxon ``matrix`` section (camelCase or snake_case keys).

        ``params`` cannot be translated here: pass the ranges as ``hyper_parameters`` (or use
        :func:`controller.polyaxon.matrix_from_polyaxon`, which converts the whole section).
        Other arguments (``objective_metric``, ...) go through ``kwargs``.

        Raises:
            ValueError: for another ``kind`` or keys this strategy does not support.
        """
        return cls(hyper_parameters=hyper_parameters, **cls.polyaxon_kwargs(config), **kwargs)

    @classmethod
    def polyaxon_kwargs(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """The constructor arguments of a Polyaxon ``matrix`` section without its ``params``
        (camelCase or snake_case keys; keys whose value is None are left out).

        Raises:
            ValueError: for another ``kind`` or keys this strategy does not support.
        """
        if config.get("kind", "hyperband") != "hyperband":
            raise ValueError(f"matrix kind must be 'hyperband', got {config.get('kind')!r}")
        unknown = sorted(set(config) - set(_POLYAXON_KEYS) - {"kind"})
        if unknown:
            raise ValueError(f"unsupported Polyaxon hyperband key(s): {', '.join(unknown)} "
                             f"(pass the ranges as hyper_parameters)")
        return {_POLYAXON_KEYS[k]: v for k, v in config.items() if k != "kind" and v is not None}

    def bind(self, context: OptimizerContext) -> None:
        """Bind ``context``; ValueError if its objective contradicts ``metric``'s optimization
        (the context is then not bound)."""
        first = context.objective.objectives[0]
        if self._metric_order is not None and self._metric_order != first.order:
            raise ValueError(f"metric optimization ({self._metric_order}) contradicts the "
                             f"objective's sign ({first.sign})")
        super().bind(context)

    # ------------------------------------------------------------------ contract
    def suggest(self) -> Suggestion | Wait | None:
        """The next trial of the current rung, WAIT while the rung runs, None when done."""
        if self.concurrency is not None and len(self._active) >= self.concurrency:
            return WAIT
        while True:
            bracket = self._bracket(self.iteration)
            if bracket is None:
                return None
            if self._issued < self._rung_size(bracket):
                return self._next_suggestion(bracket)
            if len(self._results.get((self.iteration, self.rung), {})) < self._issued:
                return WAIT
            self._advance(bracket)

    def on_trial_start(self, job_id: str, suggestion: Suggestion) -> None:
        self._started += 1
        self._active.add(job_id)
        self._last_job[suggestion.meta["config"]] = job_id

    def on_trial_complete(self, trial: Trial) -> None:
        self._active.discard(trial.job_id)
        key = (trial.meta["iteration"], trial.meta["rung"])
        self._results.setdefault(key, {})[trial.meta["config"]] = self._trial_loss(trial)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "iteration": self.iteration, "rung": self.rung,
                "promoted": list(self._promoted), "next_config": self._next_config}

    def load_state_dict(self, state: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
        """Restore the cursor from ``state``; configurations, jobs and results from ``trials``."""
        super().load_state_dict(state, trials)
        self.iteration = int(state["iteration"])
        self.rung = int(state["rung"])
        self._promoted = [int(c) for c in state["promoted"]]
        self._next_config = int(state["next_config"])
        self._reset_trials()
        for trial in trials:
            meta = trial.meta
            self._configs[meta["config"]] = {
                k: v for k, v in trial.parameters.items()
                if self.resource is None or k != self.resource.name}
            self.on_trial_start(trial.job_id, Suggestion(trial.parameters, meta))
            if trial.finished:
                self.on_trial_complete(trial)
            if (meta["iteration"], meta["rung"]) == (self.iteration, self.rung):
                self._issued += 1

    # ------------------------------------------------------------------ hooks
    def _bracket(self, iteration: int) -> int | None:
        """The bracket iteration ``iteration`` runs, or None once Hyperband is over."""
        return self.math.get_bracket(iteration) if iteration <= self.math.s_max else None

    def _resource_value(self, bracket: int, rung: int) -> int | float:
        """The resource passed to a trial of ``rung`` in ``bracket`` (the math's
        :meth:`~HyperbandSchedule.resource_of`, cast when the resource is a parameter)."""
        value = self.math.resource_of(self.math.s_max - bracket, rung)
        return self.resource.cast(value) if self.resource is not None else value

    def _new_config(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """A new rung-0 configuration (random here) and extra ``meta`` for its suggestion."""
        return self.space.sample(self.rng), {}

    # ------------------------------------------------------------------ internals
    def _reset_trials(self) -> None:
        self._configs: dict[int, dict[str, Any]] = {}
        self._last_job: dict[int, str] = {}
        self._results: dict[tuple[int, int], dict[int, float | None]] = {}
        self._active: set[str] = set()
        self._started = 0
        self._issued = 0

    def _rung_size(self, bracket: int) -> int:
        return self.math.get_num_runs(bracket) if self.rung == 0 else len(self._promoted)

    def _next_suggestion(self, bracket: int) -> Suggestion:
        extra: dict[str, Any] = {}
        if self.rung == 0:
            config = self._next_config
            self._next_config += 1
            self._configs[config], extra = self._new_config()
            continue_from = None
        else:
            config = self._promoted[self._issued]
            continue_from = self._last_job[config] if self.resume else None
        self._issued += 1
        value = self._resource_value(bracket, self.rung)
        meta = {"bracket": bracket, "iteration": self.iteration, "rung": self.rung,
                "config": config, "resource": value, **extra}
        resource = {self.resource.name: value} if self.resource is not None else {}
        return Suggestion({**self._configs[config], **resource}, meta, continue_from)

    def _has_next_rung(self, bracket: int) -> bool:
        """Whether the current rung passes configurations on (else the next bracket starts):
        Polyaxon's ``create_iteration`` (the last bracket gets a second rung)."""
        return (not self.math.should_create_iteration(self.iteration, self.rung)
                and self.math.should_reduce_configs(self.iteration, self.rung))

    def _advance(self, bracket: int) -> None:
        """The current rung has ended: promote its best to the next rung, or start the next
        bracket when the rung was the last one or left no survivor."""
        self._issued = 0
        if self._has_next_rung(bracket):
            keep = self.math.get_num_runs_to_keep(self.math.get_num_runs(bracket), self.rung)
            self._promoted = self._survivors((self.iteration, self.rung), keep)
            if self._promoted:
                self.rung += 1
                return
        self.iteration += 1
        self.rung = 0
        self._promoted = []

    def _survivors(self, key: tuple[int, int], keep: int) -> list[int]:
        """The ``keep`` best ranked configurations of a rung, best first (ties by config id)."""
        ranked = sorted((loss, config) for config, loss in self._results.get(key, {}).items()
                        if loss is not None)
        return [config for _, config in ranked[:keep]]

    def _trial_loss(self, trial: Trial) -> float | None:
        """Lower-is-better objective of a completed trial; None if it may not rank."""
        if trial.status != "completed" or trial.value is None:
            return None
        loss = self.loss(trial.value)
        return None if math.isnan(loss) else loss


def _number(what: str, value: Any) -> float:
    """``value`` as a float; ValueError naming ``what`` unless it is a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _above(what: str, value: Any, bound: float) -> Any:
    """``value`` itself if it is a number above ``bound``; ValueError naming ``what`` if not."""
    if _number(what, value) <= bound:
        raise ValueError(f"{what} must be > {bound}, got {value}")
    return value
