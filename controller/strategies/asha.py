"""Asynchronous successive halving (ASHA; Li et al., "A System for Massively Parallel
Hyperparameter Tuning", MLSys 2020).

Configurations climb rungs of growing resource ``r_k = min_resource * reduction_factor**k``
(``k = 0, 1, ...`` while below ``max_resource``; the last rung is ``max_resource`` itself). One job
trains one configuration at one rung: the rung's resource reaches the job as the task parameter
named by ``resource`` (e.g. ``General/epochs``), which the training code must read.

Promotion never waits for a rung to fill. Whenever a worker slot is free, :meth:`ASHA.suggest`
looks at the rungs from the highest down: a configuration whose completed job of rung ``k`` is among
the best ``floor(n_k / eta)`` of the ``n_k`` completed jobs of rung ``k``, and that was not promoted
yet, runs again at rung ``k + 1``. If nothing is promotable, a new random configuration starts at
rung 0. So every worker stays busy; :data:`WAIT` only comes once ``max_trials`` configurations
exist (or a finite space looks exhausted) while jobs still run, and None once nothing can be
promoted any more.

With ``resume=True`` a promotion continues the rung-``k`` job's latest checkpoint
(``Suggestion.continue_from``); the resource parameter is then the total budget to reach, not the
increment. With ``resume=False`` the promoted configuration trains from scratch.

Only ``completed`` jobs with a (non-NaN) objective rank; failed, stopped or metric-less jobs never
promote. Ranking uses the first objective (:meth:`SearchStrategy.loss`), ties by configuration id.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .base import WAIT, Suggestion, Trial, Wait
from .clearml_compat import ClearMLSearchStrategy
from .grid_random import config_key
from .hyperband import Resource

_REJECTION_TRIES = 64


def rung_resources(min_resource: float, max_resource: float, reduction_factor: float,
                   cast: Callable[[float], int | float] = int) -> list[int | float]:
    """The resource of each rung: ``min_resource * reduction_factor**k`` below ``max_resource``,
    then ``max_resource``; each passed through ``cast`` (``int`` truncates, as Polyaxon's).

    Raises:
        ValueError: for non-positive or inverted bounds, ``reduction_factor <= 1``, or rungs that
            collapse to equal values when cast.
    """
    for what, v in (("min_resource", min_resource), ("max_resource", max_resource),
                    ("reduction_factor", reduction_factor)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{what} must be a finite number, got {v!r}")
    if not 0 < min_resource <= max_resource:
        raise ValueError(f"need 0 < min_resource <= max_resource, got {min_resource} and "
                         f"{max_resource}")
    if reduction_factor <= 1:
        raise ValueError(f"reduction_factor must be > 1, got {reduction_factor}")
    levels, level = [], float(min_resource)
    while level < max_resource * (1 - 1e-9):
        levels.append(level)
        level *= reduction_factor
    levels.append(float(max_resource))
    out = [cast(v) for v in levels]
    if out[0] <= 0 or any(b <= a for a, b in itertools.pairwise(out)):
        raise ValueError(f"rung resources {levels} collapse to {out} when cast; use a float "
                         f"resource or a larger min_resource/reduction_factor")
    return out


class ASHA(ClearMLSearchStrategy):
    """Asynchronous successive halving (see the module docstring).

    Args:
        min_resource: resource of rung 0 (default: ``min_iteration_per_job``).
        max_resource: resource of the last rung (default: ``max_iteration_per_job``).
        reduction_factor: ``eta``; the top ``1/eta`` of a rung are promoted (default 3).
        resource: task parameter that receives the rung's resource (``General/`` added when the
            name has no section), or Polyaxon's ``{"name": ..., "type": "int"|"float"}``. It may
            not also be a searched hyper-parameter.
        resource_type: type of a resource given by name: ``"int"`` (default; values truncated)
            or ``"float"``.
        resume: promotions continue the previous job's checkpoint instead of restarting.
        max_trials: cap on the number of distinct configurations (None: no cap).

    Raises:
        TypeError: for an unknown argument.
        ValueError: for invalid resources, a ``resource`` that is also a hyper-parameter, or
            ``max_trials < 1``.
    """

    def __init__(self, *args: Any, resource: str | Mapping[str, Any],
                 min_resource: float | None = None, max_resource: float | None = None,
                 reduction_factor: float = 3,
                 resource_type: str = "int", resume: bool = False,
                 max_trials: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        spec = resource if isinstance(resource, Mapping) else {"name": resource,
                                                                "type": resource_type}
        self.resource = Resource.parse(spec, type(self).__name__)
        if self.resource.name in self.space.names:
            raise ValueError(f"resource {self.resource.name!r} is also a searched hyper-parameter")
        min_r = self.min_iteration_per_job if min_resource is None else min_resource
        max_r = self.max_iteration_per_job if max_resource is None else max_resource
        if min_r is None or max_r is None:
            raise ValueError("min_resource and max_resource are required (or "
                             "min_iteration_per_job and max_iteration_per_job)")
        self.reduction_factor = reduction_factor
        self.rungs = rung_resources(min_r, max_r, reduction_factor, self.resource.cast)
        if max_trials is not None and (isinstance(max_trials, bool) or
                                       not isinstance(max_trials, int) or max_trials < 1):
            raise ValueError(f"max_trials must be a positive integer or None, got {max_trials!r}")
        self.resume = bool(resume)
        self.max_trials = max_trials
        self._reset()

    def _reset(self) -> None:
        self._num_configs = 0
        self._configs: dict[int, dict[str, Any]] = {}
        self._seen: set[str] = set()
        self._results: list[dict[int, tuple[float, str]]] = [{} for _ in self.rungs]
        self._promoted: list[set[int]] = [set() for _ in self.rungs]
        self._running: set[str] = set()

    # ------------------------------------------------------------------ contract
    def suggest(self) -> Suggestion | Wait | None:
        """A promotion if one is due, else a new configuration at rung 0; WAIT or None only once
        no new configuration can be made (see the module docstring)."""
        promotion = self._promotable()
        if promotion is not None:
            rung, config_id = promotion
            self._promoted[rung].add(config_id)
            previous = self._results[rung][config_id][1] if self.resume else None
            return self._suggestion(config_id, rung + 1, previous)
        config = self._new_config()
        if config is not None:
            config_id = self._num_configs
            self._num_configs += 1
            self._configs[config_id] = config
            self._seen.add(config_key(config))
            return self._suggestion(config_id, 0, None)
        return WAIT if self._running else None

    def on_trial_start(self, job_id: str, suggestion: Suggestion) -> None:
        self._register(job_id, suggestion.parameters, suggestion.meta)

    def on_trial_complete(self, trial: Trial) -> None:
        """Record ``trial`` in its rung if it completed with an objective."""
        self._running.discard(trial.job_id)
        rung, config_id = trial.meta.get("rung"), trial.meta.get("config")
        if rung is None or config_id is None or trial.status != "completed" or trial.value is None:
            return
        loss = self.loss(trial.value)
        if not math.isnan(loss):
            self._results[int(rung)][int(config_id)] = (loss, trial.job_id)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "num_configs": self._num_configs}

    def load_state_dict(self, state: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
        """Restore the rng and the configuration counter; rungs are rebuilt from ``trials``."""
        super().load_state_dict(state, trials)
        self._reset()
        self._num_configs = int(state["num_configs"])
        for trial in trials:
            self._register(trial.job_id, trial.parameters, trial.meta)
            if trial.finished:
                self.on_trial_complete(trial)

    # ------------------------------------------------------------------ internals
    def _register(self, job_id: str, parameters: dict[str, Any], meta: dict[str, Any]) -> None:
        if "config" not in meta or "rung" not in meta:
            return
        config_id, rung = int(meta["config"]), int(meta["rung"])
        config = {k: v for k, v in parameters.items() if k != self.resource.name}
        self._configs[config_id] = config
        self._seen.add(config_key(config))
        if rung > 0:
            self._promoted[rung - 1].add(config_id)
        self._running.add(job_id)

    def _promotable(self) -> tuple[int, int] | None:
        """``(rung, config)`` of the best unpromoted top-``1/eta`` result, highest rung first."""
        for rung in reversed(range(len(self.rungs) - 1)):
            done = self._results[rung]
            keep = math.floor(len(done) / self.reduction_factor)
            ranked = sorted(done, key=lambda c: (done[c][0], c))[:keep]
            for config_id in ranked:
                if config_id not in self._promoted[rung]:
                    return rung, config_id
        return None

    def _new_config(self) -> dict[str, Any] | None:
        """A random configuration not run before, or None (cap reached or no new one found)."""
        if self.max_trials is not None and self._num_configs >= self.max_trials:
            return None
        for _ in range(_REJECTION_TRIES):
            config = self.space.sample(self.rng)
            if config_key(config) not in self._seen:
                return config
        return None

    def _suggestion(self, config_id: int, rung: int, continue_from: str | None) -> Suggestion:
        resource = self.rungs[rung]
        return Suggestion({**self._configs[config_id], self.resource.name: resource},
                          meta={"rung": rung, "config": config_id, "resource": resource},
                          continue_from=continue_from)
