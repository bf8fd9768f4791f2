"""Optuna's ask/tell, driven by the optimizer's event loop (ClearML's ``OptimizerOptuna``).

No thread per trial and no polling: :meth:`OptimizerOptuna.suggest` asks Optuna for a trial,
reports go to the trial as intermediate values, and the job's end is told to the study. Any Optuna
sampler and pruner can be passed; the default sampler is a seeded TPE with the constant liar, so
running trials are known to the sampler and parallel workers do not all try the same region.
The default pruner is a ``NopPruner`` (every trial runs its course; reports cost no storage
operation): Optuna's ``MedianPruner`` reads every trial's intermediate values at every report,
which on short trials cost more than it saved (``bench/RESULTS.md``, "TPE dispatch"); pass one
for long trials.

Storage and resume: the study lives in the storage the optimizer binds
(``OptimizerContext.optuna_storage``, its Redis URL) under the optimizer's id;
:func:`~controller.strategies.optuna_journal.redis_journal_storage` builds Optuna's journal
storage there (one round trip per storage operation), which ``optuna-dashboard redis://...``
opens as it is. The strategy's own state is small (the study name,
the jobs being pruned, an owner token); the trials come back from the study and from the loop's
``trials``. A resumed controller re-opens the same study and continues as the original would have.

Parameter mapping (:meth:`Dimension.optuna_codec <controller.space.Dimension.optuna_codec>`; each
suggestion is exactly one of the range's own points, so :meth:`SearchSpace.contains` holds):

* ``UniformParameterRange``: continuous -> ``FloatDistribution(min, max)``; stepped ->
  ``FloatDistribution(low, high, step)`` when the points form an exact step grid, else categorical
  over the points (``max_value`` off the grid but included).
* ``UniformIntegerParameterRange``: ``IntDistribution(low, high, step)``, or categorical over the
  points when ``max_value`` is off the grid.
* ``LogUniformParameterRange`` (bounds are exponents): continuous ->
  ``FloatDistribution(base**min, base**max, log=True)``; stepped -> categorical over its values.
* ``DiscreteParameterRange``: categorical over the values (over their indices when a value is not
  one of Optuna's choice types, or when values compare equal, like ``1`` and ``True``).
* ``ParameterSet`` and Polyaxon's distributions: not supported (ValueError).
"""

from __future__ import annotations

import itertools
import math
import secrets
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import optuna
from optuna.storages import BaseStorage, InMemoryStorage
from optuna.trial import FrozenTrial, TrialState

from ..parameters import Parameter
from ..space import OptunaCodec
from .base import WAIT, Decision, OptimizerContext, Suggestion, Trial, Wait
from .clearml_compat import ClearMLSearchStrategy
from .grid_random import config_key
from .optuna_journal import redis_journal_storage

__all__ = ["OptimizerOptuna", "redis_journal_storage"]

#: Asks in a row that may return an already launched configuration before falling back.
_DUPLICATE_TRIES = 8
#: Largest finite space whose remaining points are enumerated when the sampler keeps repeating.
_MAX_ENUMERATED = 100_000
#: Trial user attributes written by this strategy (visible in optuna-dashboard).
_ATTR_OWNER = "hpqueue_owner"
_ATTR_JOB = "hpqueue_job_id"
_ATTR_REJECTED = "hpqueue_rejected"


def _resolve_storage(storage: BaseStorage | str | None) -> BaseStorage:
    if storage is None:
        return InMemoryStorage()
    if isinstance(storage, str):
        if storage.startswith(("redis://", "rediss://", "unix://")):
            return redis_journal_storage(storage)
        # The object create_study will use itself (an RDB URL gets Optuna's cache in front), so
        # that this strategy's reads and writes go through the same storage as the study's.
        return optuna.storages.get_storage(storage)
    if not isinstance(storage, BaseStorage):
        raise TypeError(f"optuna_storage must be an optuna BaseStorage or a URL, got {storage!r}")
    return optuna.storages.get_storage(storage)


def _codec(param: Parameter) -> OptunaCodec:
    """The codec of one parameter (:meth:`Dimension.optuna_codec
    <controller.space.Dimension.optuna_codec>`); ValueError for a parameter without one."""
    dimension = param.dimension()
    codec = dimension.optuna_codec() if dimension is not None else None
    if codec is None:
        raise ValueError(f"OptimizerOptuna does not support {type(param).__name__} parameters "
                         f"(supported: UniformParameterRange, UniformIntegerParameterRange, "
                         f"LogUniformParameterRange, DiscreteParameterRange)")
    return codec


class OptimizerOptuna(ClearMLSearchStrategy):
    """Optuna's samplers and pruners behind the strategy contract (see the module docstring).

    Args:
        optuna_sampler: any ``optuna.samplers.BaseSampler``. Default: a TPE sampler with the
            constant liar (multivariate), reseeded for every trial from ``seed`` and the trial
            number, so that a resumed strategy suggests exactly what the original would have. A
            sampler passed here keeps its own random state, which is not part of
            :meth:`state_dict` (a resumed strategy still continues the study, but may draw
            differently).
        optuna_pruner: any ``optuna.pruners.BasePruner``. Default (None): a ``NopPruner``; ClearML
            leaves Optuna's default, a ``MedianPruner``, which on short trials costs more than it
            saves (module docstring). Pruning applies to a single objective only.
        optuna_storage: where the study lives: an ``optuna.storages.BaseStorage``, or a storage
            URL (``redis://`` URLs become a journal storage, :func:`redis_journal_storage`).
            Default: the storage the optimizer binds (its Redis), else a private
            ``InMemoryStorage``.
        study_name: the study's name in the storage. Default: the one the optimizer binds (its
            id), else derived from ``seed``.
        continue_previous_study: load the study if it already exists (and learn from its trials)
            instead of failing with ``optuna.exceptions.DuplicatedStudyError``. Default: True in
            the storage the optimizer binds, else False. An ``optuna.Study`` (ClearML's form)
            continues that study: its storage and name, unless ``optuna_storage`` or
            ``study_name`` say otherwise.

    Raises:
        TypeError: for an unknown argument or a storage of the wrong type.
        ValueError: for a ``ParameterSet`` (or other unsupported) parameter; for an existing
            study whose directions differ from the objective's (when the study is opened).
    """

    def __init__(self, *args: Any, optuna_sampler: optuna.samplers.BaseSampler | None = None,
                 optuna_pruner: optuna.pruners.BasePruner | None = None,
                 optuna_storage: BaseStorage | str | None = None, study_name: str | None = None,
                 continue_previous_study: bool | optuna.Study | None = None,
                 **kwargs: Any) -> None:
        if isinstance(continue_previous_study, optuna.Study):  # ClearML's: go on with it
            study = continue_previous_study
            optuna_storage = study._storage if optuna_storage is None else optuna_storage
            study_name = study.study_name if study_name is None else study_name
            continue_previous_study = True
        # what bind() reads: it runs inside super().__init__() when objective_metric is given
        self._study: optuna.Study | None = None
        self._own_storage = optuna_storage is not None
        self._own_study_name = study_name is not None
        self._own_continue = continue_previous_study is not None
        super().__init__(*args, **kwargs)
        self._codecs = [_codec(p) for p in self.space.parameters]
        self._distributions = {c.name: c.distribution for c in self._codecs}
        self._finite = all(c.points is not None for c in self._codecs)
        self._size = (math.prod([len(c.points or ()) for c in self._codecs])
                      if self._finite else math.inf)
        self.optuna_sampler = optuna_sampler
        self.optuna_pruner = optuna_pruner if optuna_pruner is not None \
            else optuna.pruners.NopPruner()
        self.continue_previous_study = bool(continue_previous_study)
        self.storage = _resolve_storage(optuna_storage)
        self.study_name = study_name if study_name is not None else f"hpqueue-{self.seed}"
        self._owner = secrets.token_hex(8)
        self._study_id: int | None = None
        self._trial_ids: dict[int, int] = {}   # optuna trial number -> storage trial id
        self._numbers: dict[str, int] = {}     # job id -> optuna trial number
        self._active: set[str] = set()         # started and not yet complete
        self._pruned: set[str] = set()         # told to STOP by the pruner, not yet complete
        self._seen: set[str] = set()           # config keys of every launched configuration
        self._sampler: optuna.samplers.BaseSampler | None = None  # the default TPE, kept
        # reports no pruner reads, by trial number: written when the study is read (`study`)
        self._unwritten: dict[int, dict[int, float]] = {}

    def bind(self, context: OptimizerContext) -> None:
        """Bind ``context``; until the study is opened, it also decides where the study lives.

        Unless ``optuna_storage`` was given to the constructor: ``context.study_name`` names the
        study (unless ``study_name`` was given), and ``context.optuna_storage`` holds it, a
        study already there being continued (unless ``continue_previous_study`` was given).
        """
        super().bind(context)
        if self._study is not None or self._own_storage:
            return
        if context.study_name is not None and not self._own_study_name:
            self.study_name = context.study_name
        if context.optuna_storage is not None:
            self.storage = _resolve_storage(context.optuna_storage)
            if not self._own_continue:
                self.continue_previous_study = True

    # ------------------------------------------------------------------ the study
    @property
    def study(self) -> optuna.Study:
        """The Optuna study, created (or loaded, with ``continue_previous_study``) on first use.

        Reading it here also writes the running trials' reports that no pruner needed (see
        :meth:`on_trial_result`), so that what it shows of them is complete.

        Raises:
            RuntimeError: if the objective is not set yet.
            optuna.exceptions.DuplicatedStudyError: the study exists and may not be continued.
        """
        study = self._ensure_study()
        self._write_reports()
        return study

    def _ensure_study(self) -> optuna.Study:
        if self._study is None:
            self._open(load_if_exists=self.continue_previous_study)
            self._rebuild_seen()
        assert self._study is not None
        return self._study

    def _directions(self) -> list[Literal["minimize", "maximize"]]:
        if self.objective is None:
            raise RuntimeError("OptimizerOptuna needs the objective before it opens the study")
        return ["maximize" if o.maximize else "minimize" for o in self.objective.objectives]

    def _open(self, load_if_exists: bool) -> None:
        directions = self._directions()
        study = optuna.create_study(storage=self.storage, sampler=self.optuna_sampler,
                                    pruner=self.optuna_pruner, study_name=self.study_name,
                                    directions=directions, load_if_exists=load_if_exists)
        found = [d.name.lower() for d in study.directions]
        if found != directions:
            raise ValueError(f"OptimizerOptuna: study {self.study_name!r} has directions {found}, "
                             f"the objective needs {directions}")
        self._study = study
        self._study_id = self.storage.get_study_id_from_name(self.study_name)
        self._trial_ids = {}

    def _trial_id(self, number: int) -> int:
        if number not in self._trial_ids:
            self._trial_ids[number] = self.storage.get_trial_id_from_study_id_trial_number(
                self._study_id, number)  # type: ignore[arg-type]
        return self._trial_ids[number]

    def _multi(self) -> bool:
        return self.objective is not None and len(self.objective) > 1

    # ------------------------------------------------------------------ suggestions
    def _ask(self) -> optuna.trial.Trial:
        study = self._ensure_study()
        if self.optuna_sampler is None:
            # The TPE draws as a new one seeded from (seed, trial number) would: its draws depend
            # only on the seed and the study's history, never on how many asks this process
            # made, so a resumed strategy continues exactly as the original would have. The
            # sampler itself is kept (its search space is cached), its random state reset.
            number = len(study.get_trials(deepcopy=False))
            sub_seed = int(np.random.SeedSequence([self.seed, number]).generate_state(1)[0])
            if self._sampler is None or not _reseed(self._sampler, sub_seed):
                self._sampler = optuna.samplers.TPESampler(seed=sub_seed, constant_liar=True,
                                                           multivariate=True)
            study.sampler = self._sampler
        trial = study.ask(self._distributions)
        trial.set_user_attr(_ATTR_OWNER, self._owner)
        return trial

    def _decode(self, params: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return {c.name: c.decode(params[c.name]) for c in self._codecs}
        except (KeyError, ValueError, TypeError):
            return None

    def _reject(self, trial: optuna.trial.Trial | FrozenTrial, reason: str) -> None:
        # FAIL, not PRUNED: samplers ignore failed trials, while a pruned trial counts as a
        # (bad) observation -- TPE would push a duplicate of a good configuration, or a trial
        # that never ran, into its "worst" group and steer away from a region it knows nothing
        # bad about. The configuration's real trial stays the only observation of it.
        self.storage.set_trial_user_attr(self._trial_id(trial.number), _ATTR_REJECTED, reason)
        self._ensure_study().tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)

    def _accept(self, trial: optuna.trial.Trial, config: dict[str, Any]) -> Suggestion:
        self._seen.add(config_key(config))
        return Suggestion(config, meta={"optuna_trial": trial.number})

    def suggest(self) -> Suggestion | Wait | None:
        """Ask Optuna for a configuration not launched before.

        A repeated configuration is told FAIL (marked ``hpqueue_rejected``) and asked again; after
        a few repeats in a finite space, one of its unused points is enqueued instead. Returns
        None once a finite space is used up; WAIT if the sampler only repeats itself in a space
        too large to enumerate while jobs are still running (their results may change its mind),
        None if none is.
        """
        self._ensure_study()  # a continued study brings its configurations into _seen
        if len(self._seen) >= self._size:
            return None
        for _ in range(_DUPLICATE_TRIES):
            trial = self._ask()
            config = self._decode(trial.params)
            if config is not None and config_key(config) not in self._seen:
                return self._accept(trial, config)
            self._reject(trial, "duplicate")
        remaining = self._remaining()
        if remaining:
            config = remaining[int(self.rng.integers(len(remaining)))]
            self._ensure_study().enqueue_trial(
                {c.name: c.encode(config[c.name]) for c in self._codecs})
            trial = self._ask()
            return self._accept(trial, config)
        if self._finite and self._size <= _MAX_ENUMERATED:
            return None
        return WAIT if self._active else None

    def _remaining(self) -> list[dict[str, Any]]:
        """Unused points of a finite space small enough to enumerate, in grid order; else []."""
        if not self._finite or self._size > _MAX_ENUMERATED:
            return []
        names = [c.name for c in self._codecs]
        out = []
        for values in itertools.product(*(c.points or () for c in self._codecs)):
            config = dict(zip(names, values))
            if config_key(config) not in self._seen:
                out.append(config)
        return out

    # ------------------------------------------------------------------ results
    def on_trial_start(self, job_id: str, suggestion: Suggestion) -> None:
        """Map ``job_id`` to the suggestion's Optuna trial (``meta["optuna_trial"]``)."""
        number = suggestion.meta.get("optuna_trial")
        if number is None:
            return
        self._numbers[job_id] = int(number)
        self._active.add(job_id)
        self.storage.set_trial_user_attr(self._trial_id(int(number)), _ATTR_JOB, job_id)

    def on_trial_result(self, job_id: str, iteration: int, value: float | list[float]
                        ) -> Decision:
        """Report ``value`` at step ``iteration`` to the trial; STOP if the pruner says so.

        Single objective only (Optuna's pruners are single-objective): a NaN, a negative or an
        already reported step is not reported, and the pruner is consulted only from
        ``min_iteration_per_job`` on. Unknown jobs and several objectives: CONTINUE.

        With a ``NopPruner`` nothing reads the reports while the trial runs: they are kept here
        and written into the study only when it is read through :attr:`study` (no storage
        operation per report); a trial that ends pruned gets its last report written (what TPE
        ranks pruned trials by).
        """
        if job_id in self._pruned:
            return Decision.STOP
        number = self._numbers.get(job_id)
        if number is None or self._multi():
            return Decision.CONTINUE
        scalar = _scalar(value)
        try:
            step = int(iteration)
        except (TypeError, ValueError):
            return Decision.CONTINUE
        if scalar is None or step < 0:
            return Decision.CONTINUE
        study = self._ensure_study()
        if isinstance(study.pruner, optuna.pruners.NopPruner):
            self._unwritten.setdefault(number, {}).setdefault(step, scalar)
            return Decision.CONTINUE
        frozen = self._write_report(number, step, scalar)
        if frozen is None:
            return Decision.CONTINUE
        if self.min_iteration_per_job is not None and step < self.min_iteration_per_job:
            return Decision.CONTINUE
        if study.pruner.prune(study, frozen):
            self._pruned.add(job_id)
            return Decision.STOP
        return Decision.CONTINUE

    def _write_report(self, number: int, step: int, value: float) -> FrozenTrial | None:
        """Write ``value`` at ``step`` into the running trial ``number`` unless it has that step
        already; its frozen trial after the write, None if it is not running."""
        trial_id = self._trial_id(number)
        frozen = self.storage.get_trial(trial_id)
        if frozen.state != TrialState.RUNNING:
            return None
        if step not in frozen.intermediate_values:
            self.storage.set_trial_intermediate_value(trial_id, step, value)
            frozen = self.storage.get_trial(trial_id)
        return frozen

    def _write_reports(self) -> None:
        """Write the kept reports of the running trials (see :meth:`on_trial_result`)."""
        unwritten, self._unwritten = self._unwritten, {}
        for number, steps in unwritten.items():
            for step, value in steps.items():
                if self._write_report(number, step, value) is None:
                    break

    def on_trial_complete(self, trial: Trial) -> None:
        """Tell the study how the job ended (safe to repeat: ``skip_if_finished``).

        * completed with a valid objective -> COMPLETE with it;
        * stopped after reaching ``max_iteration_per_job`` with a valid objective -> COMPLETE
          (it ran its whole budget, as ClearML counts it);
        * stopped by our pruner, or stopped early (time limit, early-stopping policy) with an
          objective -> PRUNED: Optuna's state for a trial ended before its budget; its
          intermediate values tell TPE how far it got;
        * failed, or ended without a usable objective (missing, NaN, wrong length) -> FAIL, which
          samplers ignore (ClearML crashed here, #1401).
        """
        number = self._numbers.get(trial.job_id, trial.meta.get("optuna_trial"))
        self._active.discard(trial.job_id)
        pruned = trial.job_id in self._pruned
        self._pruned.discard(trial.job_id)
        if number is None:
            return
        self._unwritten.pop(int(number), None)
        values = self._values(trial.value)
        state, told = TrialState.FAIL, None
        if trial.status == "completed" and values is not None:
            state, told = TrialState.COMPLETE, values
        elif trial.status == "stopped":
            full = (self.max_iteration_per_job is not None and trial.iteration is not None
                    and trial.iteration >= self.max_iteration_per_job)
            if values is not None and full and not pruned:
                state, told = TrialState.COMPLETE, values
            elif pruned or values is not None:
                state = TrialState.PRUNED
        if state == TrialState.PRUNED and values is not None and trial.iteration is not None \
                and not self._multi():
            # TPE ranks a pruned trial by its last step and value: written if no pruner did
            self._write_report(int(number), int(trial.iteration), values[0])
        self._ensure_study().tell(int(number), told, state=state, skip_if_finished=True)

    def _values(self, value: float | list[float] | None) -> list[float] | None:
        """The objective as Optuna's values, or None if it is not usable."""
        if value is None:
            return None
        raw = list(value) if isinstance(value, (list, tuple)) else [value]
        expected = len(self.objective) if self.objective is not None else 1
        if len(raw) != expected:
            return None
        out = []
        for v in raw:
            scalar = _scalar(v)
            if scalar is None:
                return None
            out.append(scalar)
        return out

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Base state, the study name, the owner token and the jobs being pruned."""
        return {**super().state_dict(), "study_name": self.study_name, "owner": self._owner,
                "pruned": sorted(self._pruned)}

    def load_state_dict(self, state: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
        """Re-open the study from the storage and rebuild the job maps from ``trials``.

        Also tells the study what it missed: a finished job whose trial is still running there is
        told now, and a trial this strategy asked for but that no job runs (the controller died
        between the two) is told FAIL, so the sampler stops treating it as running.
        """
        super().load_state_dict(state, trials)
        self.study_name = str(state["study_name"])
        self._owner = str(state["owner"])
        self._pruned = set(state["pruned"])
        self._numbers = {t.job_id: int(t.meta["optuna_trial"]) for t in trials
                         if t.meta.get("optuna_trial") is not None}
        self._active = {t.job_id for t in trials if t.job_id in self._numbers and not t.finished}
        self._open(load_if_exists=True)
        frozen = {ft.number: ft for ft in self._ensure_study().get_trials(deepcopy=False)}
        for t in trials:
            ft = frozen.get(self._numbers.get(t.job_id, -1))
            if t.finished and ft is not None and ft.state == TrialState.RUNNING:
                self.on_trial_complete(t)
        started = set(self._numbers.values())
        for ft in frozen.values():
            if (ft.state == TrialState.RUNNING and ft.number not in started
                    and ft.user_attrs.get(_ATTR_OWNER) == self._owner):
                self._reject(ft, "orphan")
        self._rebuild_seen()
        self._seen.update(config_key(t.parameters) for t in trials
                          if t.meta.get("optuna_trial") is not None)

    def _rebuild_seen(self) -> None:
        """The configurations of every trial of the study but the rejected ones."""
        self._seen = set()
        for ft in self._ensure_study().get_trials(deepcopy=False):
            if ft.state != TrialState.WAITING and _ATTR_REJECTED not in ft.user_attrs:
                config = self._decode(ft.params)
                if config is not None:
                    self._seen.add(config_key(config))


def _reseed(sampler: optuna.samplers.BaseSampler, seed: int) -> bool:
    """Give a ``TPESampler`` the random state ``TPESampler(seed=seed)`` starts with (its own and
    its start-up ``RandomSampler``'s); False if it has not the attributes this Optuna's has."""
    try:
        states = [sampler._rng.rng,  # type: ignore[attr-defined]
                  sampler._random_sampler._rng.rng]  # type: ignore[attr-defined]
    except AttributeError:
        return False
    if not all(isinstance(s, np.random.RandomState) for s in states):
        return False
    for state in states:
        state.seed(seed)
    return True


def _scalar(value: Any) -> float | None:
    """A float from a number or a one-element list; None for anything else or NaN."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            return None
        value = value[0]
    if isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out
