"""Benchmark functions and simulated trials for :func:`controller.simulate.simulate`.

Two test functions, as pure numpy, with their known minima (``regret = f - f*``):

* :func:`hartmann6` -- the standard 6-d Hartmann function on ``[0, 1]**6`` (single fidelity);
  global minimum ``-3.32237`` at ``(0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)``.
* :func:`mf_branin` -- the multi-fidelity Branin of Kandasamy et al. 2017 (arXiv:1703.06240, p. 18;
  the coefficients of Dragonfly and mfhpo-benchmark-api), one shared fidelity ``z`` in ``[0, 1]``::

      b = 5.1/(4 pi^2) - 0.01 (1 - z),  c = 5/pi - 0.1 (1 - z),  t = 1/(8 pi) + 0.005 (1 - z)
      f(x, z) = (x2 - b x1^2 + c x1 - 6)^2 + 10 (1 - t) cos(x1) + 10

  on ``x1 in [-5, 10]``, ``x2 in [0, 15]``. At ``z = 1`` it is the standard Branin (minimum
  ``0.397887``). Cost of one evaluation at fidelity ``z``: :func:`branin_runtime`
  ``= (0.05 + 0.95 z**1.5) * runtime_factor``. No observation noise (the runs are deterministic
  given the seed).

Trial models (the :class:`controller.simulate.TrialModel` protocol):

* :class:`SingleFidelityModel` -- one report at the end; a constant run time, or uniform in
  ``runtime * [1 - jitter, 1 + jitter]``.
* :class:`LearningCurveModel` -- a trial whose task parameter ``resource`` (``General/epochs``;
  the multi-fidelity strategies put each trial's resource there) is ``r`` reports, at iterations
  ``1..r``, ``f(x, z = iteration / max_resource)``. Reaching iteration ``i`` from scratch takes
  ``runtime(i / max_resource)`` (so the first report pays the fixed 5 % start-up cost); a trial
  continued from a checkpoint (``start_iteration = s > 0``) pays the start-up cost again and then
  only the increments ``runtime(i / max) - runtime((s - 1) / max)``, ``i = s..r``. A trial without
  the resource parameter (the single-fidelity strategies) runs at full fidelity and reports once,
  at iteration ``max_resource``.

Both can fail a trial with probability ``failure_rate`` (after part of its reports) and report NaN
with probability ``nan_rate``; each trial's randomness comes from a generator seeded by the model's
seed, the configuration and ``start_iteration``, so a model answers the same whatever the order of
calls (a resumed simulation sees the same trials as the original).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from controller.parameters import Parameter, UniformParameterRange
from controller.simulate import Report

# ---------------------------------------------------------------------- Hartmann6
HARTMANN6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
HARTMANN6_A = np.array([[10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
                        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
                        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
                        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0]])
HARTMANN6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886],
                               [2329, 4135, 8307, 3736, 1004, 9991],
                               [2348, 1451, 3522, 2883, 3047, 6650],
                               [4047, 8828, 8732, 5743, 1091, 381]])
HARTMANN6_MIN = -3.32237
HARTMANN6_ARGMIN = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)


def hartmann6(x: Sequence[float] | np.ndarray) -> float | np.ndarray:
    """Hartmann6 at ``x`` (shape ``(6,)``, or ``(n, 6)`` for ``n`` points)."""
    x = np.asarray(x, dtype=float)
    inner = (HARTMANN6_A * (x[..., None, :] - HARTMANN6_P) ** 2).sum(axis=-1)
    out = -(HARTMANN6_ALPHA * np.exp(-inner)).sum(axis=-1)
    return float(out) if out.ndim == 0 else out


# ---------------------------------------------------------------------- MF-Branin
BRANIN_MIN = 0.397887357729738  # 5 / (4 pi): the standard Branin minimum
BRANIN_ARGMIN = ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475))
BRANIN_BOUNDS = ((-5.0, 10.0), (0.0, 15.0))
BRANIN_DELTAS = (1e-2, 0.1, 5e-3)  # delta_b, delta_c, delta_t
RUNTIME_FACTOR = 3600.0


def mf_branin(x1: float | np.ndarray, x2: float | np.ndarray, z: float | np.ndarray = 1.0
              ) -> float | np.ndarray:
    """Multi-fidelity Branin at fidelity ``z`` in ``[0, 1]`` (``z = 1``: the standard Branin)."""
    d_b, d_c, d_t = BRANIN_DELTAS
    b = 5.1 / (4 * math.pi ** 2) - d_b * (1 - np.asarray(z))
    c = 5 / math.pi - d_c * (1 - np.asarray(z))
    t = 1 / (8 * math.pi) + d_t * (1 - np.asarray(z))
    x1, x2 = np.asarray(x1, dtype=float), np.asarray(x2, dtype=float)
    out = (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10
    return float(out) if np.ndim(out) == 0 else out


def branin_runtime(z: float, runtime_factor: float = RUNTIME_FACTOR) -> float:
    """Cost of evaluating MF-Branin at fidelity ``z``: ``(0.05 + 0.95 z**1.5) * factor``."""
    return (0.05 + 0.95 * float(z) ** 1.5) * runtime_factor


# ---------------------------------------------------------------------- problems
@dataclass(frozen=True)
class Problem:
    """A benchmark: its search space, the function of a configuration at fidelity ``z`` and the
    known minimum (at ``z = 1``)."""

    name: str
    hyper_parameters: tuple[Parameter, ...]
    function: Callable[[Mapping[str, Any], float], float]
    minimum: float
    multi_fidelity: bool = False

    def value(self, parameters: Mapping[str, Any], z: float = 1.0) -> float:
        return self.function(parameters, z)

    def regret(self, parameters: Mapping[str, Any]) -> float:
        """``f(x, z=1) - f*`` of a configuration (never negative up to rounding)."""
        return max(self.function(parameters, 1.0) - self.minimum, 0.0)


HARTMANN6_NAMES = tuple(f"General/x{i}" for i in range(6))
BRANIN_NAMES = ("General/x1", "General/x2")
RESOURCE = "General/epochs"


def _hartmann6_of(parameters: Mapping[str, Any], z: float) -> float:
    return float(hartmann6([parameters[n] for n in HARTMANN6_NAMES]))


def _mf_branin_of(parameters: Mapping[str, Any], z: float) -> float:
    return float(mf_branin(parameters[BRANIN_NAMES[0]], parameters[BRANIN_NAMES[1]], z))


def hartmann6_problem() -> Problem:
    """Hartmann6 on ``General/x0..x5`` in ``[0, 1]`` (fidelity ignored)."""
    space = tuple(UniformParameterRange(n, 0.0, 1.0) for n in HARTMANN6_NAMES)
    return Problem("Hartmann6", space, _hartmann6_of, HARTMANN6_MIN)


def mf_branin_problem() -> Problem:
    """MF-Branin on ``General/x1`` in ``[-5, 10]`` and ``General/x2`` in ``[0, 15]``."""
    space = tuple(UniformParameterRange(n, lo, hi)
                  for n, (lo, hi) in zip(BRANIN_NAMES, BRANIN_BOUNDS))
    return Problem("MF-Branin", space, _mf_branin_of, BRANIN_MIN, multi_fidelity=True)


# ---------------------------------------------------------------------- trial models
def trial_rng(seed: int, parameters: Mapping[str, Any], start_iteration: int
              ) -> np.random.Generator:
    """A generator that depends only on the seed, the configuration and the start iteration."""
    key = json.dumps(parameters, sort_keys=True, default=str) + f"|{start_iteration}"
    digest = hashlib.sha256(key.encode()).digest()
    return np.random.default_rng([int(seed), int.from_bytes(digest[:8], "little")])


@dataclass
class _Faults:
    failure_rate: float = 0.0
    nan_rate: float = 0.0
    seed: int = 0

    def apply(self, rng: np.random.Generator, reports: list[Report], runtime: float
              ) -> tuple[list[Report], float, bool]:
        failed = bool(self.failure_rate) and rng.random() < self.failure_rate
        if self.nan_rate:
            reports = [Report(r.after, r.iteration, math.nan) if rng.random() < self.nan_rate
                       else r for r in reports]
        if failed:  # a crash part-way: some reports, then the end
            keep = int(rng.integers(len(reports) + 1))
            reports = reports[:keep]
            runtime = reports[-1].after if reports else runtime * float(rng.random())
        return reports, runtime, failed


@dataclass
class SingleFidelityModel:
    """One report (iteration 1) at the end of a run of ``runtime`` seconds (times a uniform
    factor in ``[1 - jitter, 1 + jitter]`` when ``jitter`` > 0)."""

    problem: Problem
    runtime: float = 1.0
    jitter: float = 0.0
    failure_rate: float = 0.0
    nan_rate: float = 0.0
    seed: int = 0
    calls: int = field(default=0, init=False)

    def __call__(self, parameters: dict[str, Any], start_iteration: int
                 ) -> tuple[list[Report], float, bool]:
        self.calls += 1
        rng = trial_rng(self.seed, parameters, start_iteration)
        runtime = self.runtime
        if self.jitter:
            runtime *= 1 + self.jitter * (2 * float(rng.random()) - 1)
        value = self.problem.value(parameters, 1.0)
        faults = _Faults(self.failure_rate, self.nan_rate, self.seed)
        return faults.apply(rng, [Report(runtime, 1, value)], runtime)


@dataclass
class LearningCurveModel:
    """Reports ``f(x, iteration / max_resource)`` at iterations ``start..r``, where ``r`` is the
    trial's ``resource`` parameter (``max_resource`` when absent, with a single final report);
    run times from ``cost(z)`` (default: :func:`branin_runtime`), times a per-trial uniform factor
    in ``[1 - jitter, 1 + jitter]`` when ``jitter`` > 0. See the module docstring."""

    problem: Problem
    max_resource: int = 81
    resource: str = RESOURCE
    cost: Callable[[float], float] = branin_runtime
    jitter: float = 0.0
    failure_rate: float = 0.0
    nan_rate: float = 0.0
    seed: int = 0
    calls: int = field(default=0, init=False)

    def __call__(self, parameters: dict[str, Any], start_iteration: int
                 ) -> tuple[list[Report], float, bool]:
        self.calls += 1
        rng = trial_rng(self.seed, parameters, start_iteration)
        top = self.max_resource
        if self.resource in parameters:
            r = min(max(math.floor(float(parameters[self.resource])), 1), top)
            first = max(int(start_iteration), 1)
            iterations = list(range(first, r + 1))
        else:
            first, iterations = 1, [top]
        scale = 1 + self.jitter * (2 * float(rng.random()) - 1) if self.jitter else 1.0
        startup = self.cost(0.0) * scale
        # time after the start of this run at which iteration i is reported: a from-scratch run
        # reaches i at cost(i / top); a continued one pays the start-up again, then increments
        offset = self.cost((first - 1) / top) * scale - startup
        reports = [Report(self.cost(i / top) * scale - offset, i,
                          self.problem.value(parameters, i / top)) for i in iterations]
        runtime = reports[-1].after if reports else startup
        faults = _Faults(self.failure_rate, self.nan_rate, self.seed)
        return faults.apply(rng, reports, runtime)


def full_fidelity(job_iteration: int | None, max_resource: int) -> bool:
    """True if a job's last objective iteration is the full fidelity."""
    return job_iteration is not None and job_iteration >= max_resource
