"""Polyaxon's ``iterative`` matrix: a user's strategy run in iterations.

Polyaxon runs an iterative matrix as iterations ``0..max_iterations``: each iteration its tuner
turns the results so far into a batch of suggestions, the batch runs, and the next iteration
starts once every run ended. Here the tuner is a strategy class (``"module:Class"``, a
:class:`~controller.strategies.base.SearchStrategy`), built with the search space, the seed and
``tuner_arguments``. An iteration's batch is what it suggests until it says WAIT or None, or
``batch_size`` suggestions (default: unlimited, then the loop's concurrency bounds it); every
result reaches it through the usual hooks. The search ends after iteration ``max_iterations``,
or when the tuner returns None.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from .base import WAIT, OptimizerContext, SearchStrategy, Suggestion, Trial, Wait
from .clearml_compat import ClearMLSearchStrategy


def load_strategy_class(path: str) -> type[SearchStrategy]:
    """The strategy class named ``"module:Class"``.

    Raises:
        ValueError: naming ``path``: malformed, not importable, or not a SearchStrategy class.
    """
    module, _, name = str(path).partition(":")
    if not module or not name:
        raise ValueError(f"tuner {path!r} must name a strategy class as 'module:Class'")
    try:
        target: Any = importlib.import_module(module)
        for part in name.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"tuner {path!r} cannot be imported: {exc}") from None
    if not (isinstance(target, type) and issubclass(target, SearchStrategy)):
        raise ValueError(f"tuner {path!r} is not a SearchStrategy class")
    return target


class Iterative(ClearMLSearchStrategy):
    """A user's strategy in Polyaxon's iterations (see the module docstring).

    Args:
        tuner: the strategy class, ``"module:Class"``.
        tuner_arguments: its own keyword arguments (JSON values).
        max_iterations: the last iteration (iterations ``0..max_iterations`` run).
        batch_size: at most this many suggestions per iteration (None: until the tuner WAITs).

    Suggestion ``meta`` is the tuner's, plus ``"iteration"``.

    Raises:
        ValueError: for a tuner that cannot be loaded, or ``max_iterations < 1`` or
            ``batch_size < 1``.
        TypeError: for arguments the tuner does not take.
    """

    def __init__(self, *args: Any, tuner: str, max_iterations: int,
                 tuner_arguments: Mapping[str, Any] | None = None,
                 batch_size: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for what, value in (("max_iterations", max_iterations), ("batch_size", batch_size)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"{what} must be a positive integer, got {value!r}")
        self.tuner = tuner
        self.max_iterations = max_iterations
        self.batch_size = batch_size
        self.inner = load_strategy_class(tuner)(hyper_parameters=self.space.parameters,
                                                seed=self.seed, **dict(tuner_arguments or {}))
        if self.context is not None:  # bound by ClearML's objective_metric argument
            self.inner.bind(self.context)
        self.iteration = 0
        self._issued = 0  # suggestions of the current iteration
        self._closed = False  # the current iteration takes no more suggestions
        self._exhausted = False  # the tuner returned None
        self._active: set[str] = set()

    def bind(self, context: OptimizerContext) -> None:
        super().bind(context)
        if hasattr(self, "inner"):  # (ClearML's objective_metric binds before it exists)
            self.inner.bind(context)

    def suggest(self) -> Suggestion | Wait | None:
        """The tuner's next suggestion of this iteration; WAIT while the iteration runs; None
        after the last one."""
        while True:
            if not self._closed:
                suggestion = self.inner.suggest()
                if isinstance(suggestion, Suggestion):
                    self._issued += 1
                    self._closed = (self.batch_size is not None
                                    and self._issued >= self.batch_size)
                    return Suggestion(suggestion.parameters,
                                      {**suggestion.meta, "iteration": self.iteration},
                                      suggestion.continue_from)
                self._closed = True
                self._exhausted = suggestion is None
            if self._active:
                return WAIT
            if self._exhausted or self.iteration >= self.max_iterations:
                return None
            if not self._issued:  # the tuner waits with nothing running: ask it again later
                self._closed = False
                return WAIT
            self.iteration += 1
            self._issued, self._closed = 0, False

    def on_trial_start(self, job_id: str, suggestion: Suggestion) -> None:
        self._active.add(job_id)
        self.inner.on_trial_start(job_id, self._inner_suggestion(suggestion))

    def on_trial_result(self, job_id: str, iteration: int, value: float | list[float]) -> Any:
        return self.inner.on_trial_result(job_id, iteration, value)

    def on_trial_complete(self, trial: Trial) -> None:
        self._active.discard(trial.job_id)
        meta = {k: v for k, v in trial.meta.items() if k != "iteration"}
        self.inner.on_trial_complete(Trial(trial.job_id, trial.parameters, meta, trial.status,
                                           trial.value, trial.iteration))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "iteration": self.iteration, "issued": self._issued,
                "closed": self._closed, "exhausted": self._exhausted,
                "inner": self.inner.state_dict()}

    def load_state_dict(self, state: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
        super().load_state_dict(state, trials)
        self.iteration = int(state["iteration"])
        self._issued = int(state["issued"])
        self._closed = bool(state["closed"])
        self._exhausted = bool(state["exhausted"])
        self._active = {t.job_id for t in trials if not t.finished}
        inner = [Trial(t.job_id, t.parameters,
                       {k: v for k, v in t.meta.items() if k != "iteration"}, t.status, t.value,
                       t.iteration) for t in trials]
        self.inner.load_state_dict(state["inner"], inner)

    @staticmethod
    def _inner_suggestion(suggestion: Suggestion) -> Suggestion:
        meta = {k: v for k, v in suggestion.meta.items() if k != "iteration"}
        return Suggestion(suggestion.parameters, meta, suggestion.continue_from)
