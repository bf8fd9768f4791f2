"""Parameter sets with a generator per parameter, in groups that run in order (phs's search).

The sets come from :class:`controller.phs.ParameterDefinition` (``get_parameter_definitions()``):
``types`` (``[(name, type), ...]``) and ``sets``, each ``{"group", "values", "bayesian",
"prevent_duplicate"}`` whose ``values`` were drawn when the set was defined (explicit, random,
random from a list) and whose ``bayesian`` parameters (``{name: {"bounds", "round_digits"}}``)
are suggested here, when the set's turn comes:

* a GP (:mod:`.bayes_gp`: Matern kernel, EI with ``eps`` 0 by default, as phs) is fitted on every
  trial that completed with the objective so far -- of every group -- over the set's Bayesian
  parameters and its other numeric parameters; the acquisition is maximised over the Bayesian
  parameters within their bounds with the other parameters held at the set's values (the GP is
  conditioned on them), and trials still running count at the GP's mean (kriging believer);
* the value is rounded to ``round_digits`` (an int when ``<= 0``; an ``int`` parameter is always
  rounded to an integer); with ``prevent_duplicate`` a set equal to one that ran is avoided;
* with no result yet, the set waits while a trial runs (``WAIT``), or is drawn uniformly within
  the bounds when nothing runs; ``wait_for_all`` (phs's ``bayesian_wait_for_all``) waits for
  every earlier set to end first.

Sets run in their order (``meta``: ``{"set": index, "group": g}`` and the ``bayesian`` names);
task parameters are ``General/<name>``. The strategy ends after the last set. Its state is the
index of the next set and the random generator; observations come back with the trials, so a
resumed optimizer continues with the sets that have not run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workers.task import full_name

from .base import WAIT, Suggestion, Trial, Wait
from .bayes_gp import candidates, gp_acquisition, parse_utility
from .clearml_compat import ClearMLSearchStrategy
from .grid_random import config_key

#: phs's acquisition: expected improvement with no margin.
DEFAULT_UTILITY = {"acquisition_function": "ei", "eps": 0.0}
_KEYS = {"group", "values", "bayesian", "prevent_duplicate"}


def round_value(value: float, digits: int | None, kind: str) -> float | int:
    """phs's rounding: to ``digits`` places (an int when ``digits <= 0``); an ``int``
    parameter is rounded to the nearest integer in any case."""
    if digits is not None:
        value = round(value, digits)
        if digits <= 0:
            value = int(value)
    return round(value) if kind == "int" else value


@dataclass
class _Run:
    config: dict[str, Any]
    pending: bool = True
    loss: float | None = None


class ParameterSets(ClearMLSearchStrategy):
    """Runs parameter sets in order, suggesting their Bayesian parameters (module docstring).

    Args (besides the base ones):
        sets, types: the definitions (see the module docstring).
        wait_for_all: a set with Bayesian parameters waits for every earlier set to end.
        utility_function: the GP's acquisition (:func:`.bayes_gp.parse_utility`; default EI
            with ``eps`` 0).

    Raises:
        ValueError: malformed sets or types, naming the set and the parameter.
    """

    def __init__(self, *args: Any, sets: Sequence[Mapping[str, Any]],
                 types: Sequence[Sequence[str]], wait_for_all: bool = False,
                 utility_function: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.types = {str(name): str(kind) for name, kind in types}
        if not self.types:
            raise ValueError("ParameterSets needs the parameters' types")
        self.sets = [_checked_set(i, s, self.types) for i, s in enumerate(sets)]
        if not self.sets:
            raise ValueError("ParameterSets needs at least one set")
        self.wait_for_all = bool(wait_for_all)
        self.utility = parse_utility(utility_function or DEFAULT_UTILITY)
        self._next = 0
        self._runs: dict[str, _Run] = {}
        self._seen: set[str] = set()

    # ------------------------------------------------------------------ contract
    def suggest(self) -> Suggestion | Wait | None:
        """The next set (its Bayesian values suggested now), WAIT, or None after the last."""
        if self._next >= len(self.sets):
            return None
        row = self.sets[self._next]
        config = {full_name(n): v for n, v in row["values"].items()}
        meta: dict[str, Any] = {"set": self._next, "group": row["group"]}
        if row["bayesian"]:
            pending = any(r.pending for r in self._runs.values())
            observed = [r for r in self._runs.values() if r.loss is not None]
            if pending and (self.wait_for_all or not observed):
                return WAIT
            config.update(self._bayesian(row, config, observed))
            meta["bayesian"] = sorted(row["bayesian"])
        self._next += 1
        return Suggestion(config, meta)

    def on_trial_start(self, job_id: str, suggestion: Suggestion) -> None:
        self._runs[job_id] = _Run(dict(suggestion.parameters))
        self._seen.add(config_key(suggestion.parameters))

    def on_trial_complete(self, trial: Trial) -> None:
        run = self._runs.setdefault(trial.job_id, _Run(dict(trial.parameters)))
        run.pending = False
        if trial.status == "completed" and trial.value is not None:
            loss = self.loss(trial.value)
            run.loss = loss if math.isfinite(loss) else None

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "next": self._next}

    def load_state_dict(self, state: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
        """Restore the next set's index and the rng; the observations come from ``trials``."""
        super().load_state_dict(state, trials)
        self._next = int(state["next"])
        self._runs, self._seen = {}, set()
        for trial in trials:
            self.on_trial_start(trial.job_id, Suggestion(trial.parameters, trial.meta))
            if trial.finished:
                self.on_trial_complete(trial)

    # ------------------------------------------------------------------ Bayesian values
    def _bayesian(self, row: Mapping[str, Any], config: Mapping[str, Any],
                  observed: list[_Run]) -> dict[str, Any]:
        """The row's Bayesian values: the GP's best unseen candidate, or uniform draws."""
        free = sorted(row["bayesian"])
        fixed = [n for n, v in row["values"].items() if self.types[n] in ("float", "int")
                 and _is_number(v)]
        observed = [r for r in observed if all(_is_number(r.config.get(full_name(n)))
                                               for n in free + fixed)]
        if not observed:
            return self._draw(row)
        bounds = [tuple(row["bayesian"][n]["bounds"]) for n in free]
        for n in fixed:
            seen = [r.config[full_name(n)] for r in observed] + [row["values"][n]]
            bounds.append((min(seen), max(seen)))
        low = np.array([b[0] for b in bounds], dtype=float)
        span = np.array([(b[1] - b[0]) or 1.0 for b in bounds], dtype=float)

        def encode(values: list[Any]) -> np.ndarray:
            return (np.asarray(values, dtype=float) - low) / span

        names = free + fixed
        x = np.array([encode([r.config[full_name(n)] for n in names]) for r in observed])
        target = np.array([-r.loss for r in observed])  # type: ignore[operator]
        pending = np.array([encode([r.config[full_name(n)] for n in names])
                            for r in self._runs.values() if r.pending
                            and all(_is_number(r.config.get(full_name(n))) for n in names)])
        score = gp_acquisition(x, target, pending.reshape(-1, len(names)), self.utility,
                               self.rng)
        held = encode([0.0] * len(free) + [row["values"][n] for n in fixed])[len(free):]

        def conditioned(points: np.ndarray) -> np.ndarray:
            return score(np.hstack([points, np.tile(held, (len(points), 1))]))

        for point in candidates(conditioned, len(free), self.utility, self.rng):
            values = {full_name(n): self._value(row, n, low[i] + point[i] * span[i])
                      for i, n in enumerate(free)}
            if not row["prevent_duplicate"] or config_key({**config, **values}) not in self._seen:
                return values
        return self._draw(row)

    def _draw(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Uniform draws within the bounds of the row's Bayesian parameters."""
        out = {}
        for name in sorted(row["bayesian"]):
            low, high = row["bayesian"][name]["bounds"]
            out[full_name(name)] = self._value(row, name, float(self.rng.uniform(low, high)))
        return out

    def _value(self, row: Mapping[str, Any], name: str, value: float) -> float | int:
        low, high = row["bayesian"][name]["bounds"]
        value = min(max(float(value), low), high)
        return round_value(value, row["bayesian"][name].get("round_digits"), self.types[name])


def _checked_set(index: int, row: Any, types: Mapping[str, str]) -> dict[str, Any]:
    """``row`` if it is a well-formed set over ``types``; ValueError naming what is wrong."""
    if not isinstance(row, Mapping) or set(row) != _KEYS:
        raise ValueError(f"set {index}: expected the keys {sorted(_KEYS)}, got {row!r}")
    names = set(row["values"]) | set(row["bayesian"])
    if names != set(types) or set(row["values"]) & set(row["bayesian"]):
        raise ValueError(f"set {index} defines {sorted(names)}, the parameters are "
                         f"{sorted(types)} (each exactly once)")
    for name, spec in row["bayesian"].items():
        bounds = spec.get("bounds") if isinstance(spec, Mapping) else None
        if not (isinstance(bounds, Sequence) and len(bounds) == 2
                and all(_is_number(b) for b in bounds) and bounds[0] <= bounds[1]):
            raise ValueError(f"set {index}: Bayesian parameter {name!r} needs bounds "
                             f"[low, high], got {bounds!r}")
        if types[name] not in ("float", "int"):
            raise ValueError(f"set {index}: Bayesian parameter {name!r} is a {types[name]}")
    return {**row, "values": dict(row["values"]), "bayesian": dict(row["bayesian"])}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(
        value)
