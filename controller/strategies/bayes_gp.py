"""Bayesian optimization with a Gaussian process (Polyaxon's ``kind: bayes``), in plain numpy.

``num_initial_runs`` random configurations come first, then ``max_iterations`` GP suggestions,
then the search is exhausted. Each GP suggestion:

1. encodes every completed trial with an objective into the unit cube
   (:class:`~controller.space.SpaceEncoder`, Polyaxon's encoding, each dimension rescaled to
   [0, 1]: a categorical choice or a ParameterSet -> one-hot dims, argmax decodes; a numeric
   finite list (stepped range, integer range, numeric choice) -> one dim over [min, max], decoded
   to the nearest valid point; a continuous range -> one dim over [low, high], in exponent space
   for LogUniform);
2. fits a zero-mean GP with unit signal variance to the standardised targets ``y = -loss``
   (maximised), kernel RBF or Matern (any ``nu > 0``, as scikit-learn's), picking the isotropic length scale and the
   noise level that maximise the log marginal likelihood over a log-grid, the given
   ``length_scale`` and ``num_restarts_optimizer`` random length scales (one eigendecomposition
   per length scale serves every noise level: a suggestion costs O(n**3) in the n trials, about
   0.1 s for n = 150 on one core);
3. treats running trials as observed at the GP's posterior mean (the "kriging believer"), so that
   the GP is certain there and concurrent suggestions spread out instead of coinciding;
4. maximises the acquisition (UCB ``mu + kappa * sigma``; EI ``(mu - y_max - eps) * Phi(z) +
   sigma * phi(z)``; POI ``Phi(z)``, ``z = (mu - y_max - eps) / sigma``, in the objective's units)
   over ``num_warmup`` random points, then refines the best ``num_iterations`` by a shrinking
   random local search (instead of Polyaxon's L-BFGS-B restarts);
5. decodes the best candidate whose configuration was not suggested before (a random one if every
   candidate is taken).

By default, unlike Polyaxon, :meth:`suggest` always answers, so every worker stays busy: with no
observation yet, GP iterations fall back to random. With ``wait_for_results`` it schedules as
Polyaxon's ``bayes`` does: iteration 0 is the ``num_initial_runs`` random configurations, and
each of the ``max_iterations`` later iterations starts once every run so far ended (WAIT until
then) and suggests one configuration from the GP, or, when no run gave an observation, a new
batch of ``num_initial_runs`` random ones (Polyaxon's manager without observations).
Only ``completed`` trials with a finite objective are observations; failed ones are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..space import SpaceEncoder
from .base import WAIT, Suggestion, Trial, Wait
from .clearml_compat import ClearMLSearchStrategy
from .grid_random import config_key

_CAMEL = {"acquisitionFunction": "acquisition_function", "gaussianProcess": "gaussian_process",
          "numWarmup": "num_warmup", "numIterations": "num_iterations",
          "lengthScale": "length_scale", "numRestartsOptimizer": "num_restarts_optimizer"}
_UTILITY_DEFAULTS = {"acquisition_function": "ucb", "kappa": None, "eps": None,
                     "gaussian_process": None, "num_warmup": 1000, "num_iterations": 10}
_GP_DEFAULTS = {"kernel": "matern", "length_scale": 1.0, "nu": 1.5, "num_restarts_optimizer": 0}
_DEFAULT_UTILITY = {"acquisition_function": "ucb", "kappa": 2.576}
_BESSEL_NODES = 128
_BESSEL_MIN_X = 1e-12
_LENGTH_SCALE_GRID = tuple(np.geomspace(0.03, 3.0, 9))
_LENGTH_SCALE_BOUNDS = (0.01, 10.0)
_NOISE_GRID = (1e-6, 1e-4, 1e-2, 1e-1)
_REFINE_ROUNDS = 20
_REFINE_PROPOSALS = 8
_REFINE_STEP = 0.1
_REFINE_SHRINK = 0.8
_RANDOM_TRIES = 64
_erf = np.vectorize(math.erf, otypes=[float])

#: An acquisition function: its values at the rows of an array of unit-cube points.
Score = Callable[[np.ndarray], np.ndarray]


# ---------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Utility:
    """Validated ``utility_function`` (Polyaxon's ``UtilityFunctionConfig``)."""

    acquisition_function: str
    kappa: float | None
    eps: float | None
    kernel: str
    length_scale: float
    nu: float
    num_restarts_optimizer: int
    num_warmup: int
    num_iterations: int


def _fields(section: str, raw: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with snake_case keys over ``defaults``; ValueError naming unknown/repeated fields."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{section} must be a dict, got {raw!r}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = _CAMEL.get(key, key)
        if name not in defaults:
            raise ValueError(f"{section}.{key} is not a known field; known: "
                             f"{', '.join(sorted(defaults))}")
        if name in out:
            raise ValueError(f"{section}.{name} is given twice (snake_case and camelCase)")
        out[name] = value
    return {**defaults, **out}


def _number(field: str, value: Any, minimum: float, integer: bool = False) -> Any:
    """``value`` checked to be a finite (integer) number ``>= minimum``; ValueError naming it."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) \
            or value < minimum:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{field} must be {kind} >= {minimum}, got {value!r}")
    return value


def parse_utility(raw: Mapping[str, Any] | None) -> Utility:
    """Validate a Polyaxon ``utilityFunction`` (snake_case or camelCase field names).

    None means UCB with ``kappa=2.576``. Defaults otherwise: ``acquisition_function`` ucb,
    kernel matern, ``length_scale`` 1.0, ``nu`` 1.5, ``num_restarts_optimizer`` 0,
    ``num_warmup`` 1000 and ``num_iterations`` 10 (more than Polyaxon's 5 warm-up points, because
    the local search here is derivative-free).

    Raises:
        ValueError: naming the field: unknown field, unknown acquisition or kernel, ucb without
            ``kappa``, ei/poi without ``eps``, ``nu <= 0``, or an out-of-range number.
    """
    fields = _fields("utility_function", _DEFAULT_UTILITY if raw is None else raw,
                     _UTILITY_DEFAULTS)
    gp = _fields("utility_function.gaussian_process", fields["gaussian_process"], _GP_DEFAULTS)
    acquisition = str(fields["acquisition_function"]).lower()
    if acquisition not in ("ucb", "ei", "poi"):
        raise ValueError(f"utility_function.acquisition_function must be ucb, ei or poi, got "
                         f"{fields['acquisition_function']!r}")
    needed = "kappa" if acquisition == "ucb" else "eps"
    if fields[needed] is None:
        raise ValueError(f"utility_function.{needed} is required for acquisition_function "
                         f"{acquisition!r}")
    kernel = str(gp["kernel"]).lower()
    if kernel not in ("matern", "rbf"):
        raise ValueError(f"utility_function.gaussian_process.kernel must be matern or rbf, got "
                         f"{gp['kernel']!r}")
    section = "utility_function.gaussian_process"
    if _number(f"{section}.nu", gp["nu"], 0) == 0:
        raise ValueError(f"{section}.nu must be > 0, got {gp['nu']!r}")
    return Utility(
        acquisition_function=acquisition,
        kappa=None if fields["kappa"] is None else
        float(_number("utility_function.kappa", fields["kappa"], 0)),
        eps=None if fields["eps"] is None else
        float(_number("utility_function.eps", fields["eps"], -math.inf)),
        kernel=kernel,
        length_scale=float(_number(f"{section}.length_scale", gp["length_scale"], 1e-12)),
        nu=float(gp["nu"]),
        num_restarts_optimizer=_number(f"{section}.num_restarts_optimizer",
                                       gp["num_restarts_optimizer"], 0, integer=True),
        num_warmup=_number("utility_function.num_warmup", fields["num_warmup"], 1, integer=True),
        num_iterations=_number("utility_function.num_iterations", fields["num_iterations"], 0,
                               integer=True))


# ---------------------------------------------------------------------- Gaussian process
def _log_bessel_k(nu: float, x: np.ndarray) -> np.ndarray:
    """``log K_nu(x)`` (modified Bessel function of the second kind) for ``x >= _BESSEL_MIN_X``:
    the trapezoid rule on ``K_nu(x) = int_0^inf exp(-x cosh t) cosh(nu t) dt`` up to where the
    integrand has fallen by ``e**-50``, summed in log space (no overflow for any ``nu``). The
    integrand is analytic and decays double-exponentially, so the rule converges exponentially:
    with ``_BESSEL_NODES`` nodes the relative error is below 1e-12."""
    end = np.arccosh(1.0 + 50.0 / x)
    step = end / _BESSEL_NODES
    peak = np.full_like(x, -np.inf)
    total = np.zeros_like(x)
    for k in range(_BESSEL_NODES + 1):
        t = k * step
        nut = nu * t
        log_cosh = nut + np.log1p(np.exp(-2.0 * nut)) - math.log(2.0)
        term = -x * np.cosh(t) + log_cosh + (math.log(0.5) if k in (0, _BESSEL_NODES) else 0.0)
        new_peak = np.maximum(peak, term)
        total = total * np.exp(peak - new_peak) + np.exp(term - new_peak)
        peak = new_peak
    return peak + np.log(total) + np.log(step)


def matern(dist: np.ndarray, nu: float) -> np.ndarray:
    """The Matern correlation of distances ``dist`` (already divided by the length scale), for
    any smoothness ``nu > 0``, as scikit-learn's ``Matern`` kernel (which Polyaxon uses):
    ``2**(1 - nu) / Gamma(nu) * x**nu * K_nu(x)`` with ``x = sqrt(2 nu) * dist``, 1 at 0; the
    closed forms for nu 0.5, 1.5 and 2.5. Distances below ``_BESSEL_MIN_X / sqrt(2 nu)``
    correlate fully (1 to within 1e-12 for nu >= 1)."""
    if nu == 0.5:
        return np.exp(-dist)
    if nu in (1.5, 2.5):
        s = math.sqrt(2 * nu) * dist  # sqrt(3) d or sqrt(5) d
        return (1 + s + (s ** 2 / 3 if nu == 2.5 else 0)) * np.exp(-s)
    x = math.sqrt(2 * nu) * np.asarray(dist, dtype=float)
    out = np.ones_like(x)
    far = x >= _BESSEL_MIN_X
    xf = x[far]
    log_k = (1 - nu) * math.log(2.0) - math.lgamma(nu) + nu * np.log(xf) + _log_bessel_k(nu, xf)
    out[far] = np.exp(np.minimum(log_k, 0.0))
    return out


def _correlation(a: np.ndarray, b: np.ndarray, kernel: str, nu: float,
                 length_scale: float) -> np.ndarray:
    squared = (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2.0 * a @ b.T
    dist = np.sqrt(np.clip(squared, 0.0, None)) / length_scale
    if kernel == "rbf":
        return np.exp(-0.5 * dist ** 2)
    return matern(dist, nu)


class GaussianProcess:
    """Zero-mean GP with unit signal variance on standardised targets ``y``.

    Uses the eigendecomposition ``(values, vectors)`` of the noise-free correlation matrix
    (computed if not given): one decomposition serves every noise level, and clipping the
    eigenvalues at zero keeps a numerically indefinite matrix usable without a jitter loop.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, kernel: str, nu: float, length_scale: float,
                 noise: float, basis: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.x, self.y = x, y
        self.kernel, self.nu, self.length_scale, self.noise = kernel, nu, length_scale, noise
        values, self.vectors = basis if basis is not None else np.linalg.eigh(self._corr(x))
        self.values = np.clip(values, 0.0, None) + noise
        self.alpha = self.vectors @ ((self.vectors.T @ y) / self.values)

    def _corr(self, other: np.ndarray) -> np.ndarray:
        return _correlation(self.x, other, self.kernel, self.nu, self.length_scale)

    def log_marginal_likelihood(self) -> float:
        return float(-0.5 * self.y @ self.alpha - 0.5 * np.log(self.values).sum()
                     - 0.5 * len(self.y) * math.log(2 * math.pi))

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation at the rows of ``x``."""
        ks = self._corr(x)
        explained = ((self.vectors.T @ ks) ** 2 / self.values[:, None]).sum(0)
        return ks.T @ self.alpha, np.sqrt(np.clip(1.0 - explained, 1e-12, None))

    def believe(self, x: np.ndarray) -> GaussianProcess:
        """The same GP with the rows of ``x`` observed at its own posterior mean."""
        mean, _ = self.predict(x)
        return GaussianProcess(np.vstack([self.x, x]), np.concatenate([self.y, mean]),
                               self.kernel, self.nu, self.length_scale, self.noise)


def fit_gp(x: np.ndarray, y: np.ndarray, utility: Utility,
           rng: np.random.Generator) -> GaussianProcess:
    """The GP whose length scale and noise maximise the log marginal likelihood (see module)."""
    low, high = (math.log(b) for b in _LENGTH_SCALE_BOUNDS)
    scales = [utility.length_scale, *_LENGTH_SCALE_GRID,
              *np.exp(rng.uniform(low, high, utility.num_restarts_optimizer))]
    best: GaussianProcess | None = None
    for ls in scales:
        basis = np.linalg.eigh(_correlation(x, x, utility.kernel, utility.nu, float(ls)))
        for noise in _NOISE_GRID:
            gp = GaussianProcess(x, y, utility.kernel, utility.nu, float(ls), noise, basis)
            if best is None or gp.log_marginal_likelihood() > best.log_marginal_likelihood():
                best = gp
    assert best is not None
    return best


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(z / math.sqrt(2.0)))


def acquisition(utility: Utility, mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """UCB, EI or POI of posterior ``mean``/``std`` (maximised targets; ``best`` = max seen)."""
    if utility.acquisition_function == "ucb":
        return mean + utility.kappa * std  # type: ignore[operator]
    improvement = mean - best - utility.eps  # type: ignore[operator]
    z = improvement / std
    if utility.acquisition_function == "poi":
        return _normal_cdf(z)
    return improvement * _normal_cdf(z) + std * np.exp(-0.5 * z ** 2) / math.sqrt(2 * math.pi)


# ---------------------------------------------------------------------- strategy
@dataclass
class _Run:
    """One job as the GP sees it: pending until it ends; ``loss`` None if it gave no objective."""

    config: dict[str, Any]
    pending: bool = True
    loss: float | None = None


class BayesianGP(ClearMLSearchStrategy):
    """GP Bayesian optimization, Polyaxon's ``bayes`` kept busy (see the module docstring).

    Args:
        num_initial_runs: random configurations before the GP (>= 1).
        max_iterations: GP suggestions after them (>= 1); ``suggest`` returns None after
            ``num_initial_runs + max_iterations`` suggestions.
        utility_function: Polyaxon's ``utilityFunction`` (see :func:`parse_utility`).
        wait_for_results: schedule as Polyaxon does (see the module docstring).

    Suggestion ``meta`` is ``{"index": i, "source": "random" | "gp"}`` (plus ``"iteration"``
    with ``wait_for_results``).

    Raises:
        TypeError: for an unknown argument.
        ValueError: for invalid counts or ``utility_function`` (naming the field), an empty search
            space, or a parameter the unit cube cannot encode (a ParameterSet with nested
            ranges, a Polyaxon distribution).
    """

    def __init__(self, *args: Any, num_initial_runs: int, max_iterations: int,
                 utility_function: Mapping[str, Any] | None = None,
                 wait_for_results: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.num_initial_runs = _number("num_initial_runs", num_initial_runs, 1, integer=True)
        self.max_iterations = _number("max_iterations", max_iterations, 1, integer=True)
        self.utility = parse_utility(utility_function)
        self.wait_for_results = bool(wait_for_results)
        if not self.space.parameters:
            raise ValueError("BayesianGP needs at least one hyper-parameter")
        self.encoder = SpaceEncoder(self.space)
        self._num_suggested = 0
        # Polyaxon's schedule (wait_for_results): the iteration and what is left of its batch
        self._iteration = 0
        self._batch_left = self.num_initial_runs
        self._runs: dict[str, _Run] = {}
        self._seen: set[str] = set()

    # ------------------------------------------------------------------ contract
    def suggest(self) -> Suggestion | Wait | None:
        """A random configuration during the initial runs (or while nothing was observed), a GP
        suggestion after; None once ``num_initial_runs + max_iterations`` were suggested (with
        ``wait_for_results``: WAIT between iterations, None after the last one)."""
        if self.wait_for_results:
            return self._suggest_waiting()
        index = self._num_suggested
        if index >= self.num_initial_runs + self.max_iterations:
            return None
        observed = self._observed()
        if index < self.num_initial_runs or not observed:
            return self._issue(self._random_config(), "random")
        return self._issue(self._gp_config(observed), "gp")

    def _suggest_waiting(self) -> Suggestion | Wait | None:
        """Polyaxon's schedule (see the module docstring)."""
        if self._batch_left == 0:
            if any(r.pending for r in self._runs.values()):
                return WAIT
            if self._iteration >= self.max_iterations:
                return None
            self._iteration += 1
            self._batch_left = 1 if self._observed() else self.num_initial_runs
        self._batch_left -= 1
        observed = self._observed()
        if self._iteration == 0 or not observed:
            return self._issue(self._random_config(), "random")
        return self._issue(self._gp_config(observed), "gp")

    def _observed(self) -> list[_Run]:
        return [r for r in self._runs.values() if not r.pending and r.loss is not None]

    def _issue(self, config: dict[str, Any], source: str) -> Suggestion:
        meta: dict[str, Any] = {"index": self._num_suggested, "source": source}
        if self.wait_for_results:
            meta["iteration"] = self._iteration
        self._num_suggested += 1
        self._seen.add(config_key(config))
        return Suggestion(config, meta=meta)

    def on_trial_start(self, job_id: str, suggestion: Suggestion) -> None:
        self._runs[job_id] = _Run(dict(suggestion.parameters))
        self._seen.add(config_key(suggestion.parameters))

    def on_trial_complete(self, trial: Trial) -> None:
        """``trial`` stops being pending; it is an observation if it completed with a value."""
        run = self._runs.setdefault(trial.job_id, _Run(dict(trial.parameters)))
        self._seen.add(config_key(run.config))
        run.pending = False
        if trial.status == "completed" and trial.value is not None:
            loss = self.loss(trial.value)
            run.loss = loss if math.isfinite(loss) else None

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "num_suggested": self._num_suggested,
                "iteration": self._iteration, "batch_left": self._batch_left}

    def load_state_dict(self, state: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
        """Restore the rng and the suggestion count; observations are rebuilt from ``trials``."""
        super().load_state_dict(state, trials)
        self._num_suggested = int(state["num_suggested"])
        self._iteration = int(state["iteration"])
        self._batch_left = int(state["batch_left"])
        self._runs, self._seen = {}, set()
        for trial in trials:
            self._runs[trial.job_id] = _Run(dict(trial.parameters))
            self._seen.add(config_key(trial.parameters))
            if trial.finished:
                self.on_trial_complete(trial)

    # ------------------------------------------------------------------ internals
    def _random_config(self) -> dict[str, Any]:
        """A random configuration not suggested before (a repeat only if none is found)."""
        config = self.space.sample(self.rng)
        for _ in range(_RANDOM_TRIES - 1):
            if config_key(config) not in self._seen:
                break
            config = self.space.sample(self.rng)
        return config

    def _gp_config(self, observed: list[_Run]) -> dict[str, Any]:
        """The unseen configuration of highest acquisition (random if every candidate is seen)."""
        x = np.array([self.encoder.encode(r.config) for r in observed])
        target = np.array([-r.loss for r in observed])  # type: ignore[operator]
        pending = np.array([self.encoder.encode(r.config) for r in self._runs.values()
                            if r.pending])
        score = gp_acquisition(x, target, pending, self.utility, self.rng)
        for point in candidates(score, self.encoder.width, self.utility, self.rng):
            config = self.encoder.decode(point)
            if config_key(config) not in self._seen:
                return config
        return self._random_config()


# ---------------------------------------------------------------------- acquisition search
def gp_acquisition(x: np.ndarray, target: np.ndarray, pending: np.ndarray, utility: Utility,
                   rng: np.random.Generator) -> Score:
    """The acquisition function of a GP fitted to the observations ``x`` (rows of unit-cube
    coordinates) with ``target`` (higher is better), treating the ``pending`` rows as observed
    at the GP's mean (the kriging believer; may be empty)."""
    shift, scale = float(target.mean()), float(target.std()) or 1.0
    gp = fit_gp(x, (target - shift) / scale, utility, rng)
    if len(pending):
        gp = gp.believe(pending)
    best = float(target.max())

    def score(points: np.ndarray) -> np.ndarray:
        mean, std = gp.predict(points)
        return acquisition(utility, mean * scale + shift, std * scale, best)

    return score


def candidates(score: Score, width: int, utility: Utility,
               rng: np.random.Generator) -> np.ndarray:
    """Points of ``[0, 1]**width``, best ``score`` first: ``num_warmup`` random ones and the
    local refinements of the best ``num_iterations`` of them."""
    warmup = rng.random((utility.num_warmup, width))
    values = score(warmup)
    starts = warmup[np.argsort(-values, kind="stable")[:utility.num_iterations]]
    refined, refined_values = _refine(score, starts, rng)
    pool = np.vstack([refined, warmup])
    order = np.argsort(-np.concatenate([refined_values, values]), kind="stable")
    return pool[order]


def _refine(score: Score, starts: np.ndarray, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    """Shrinking random local search from each row of ``starts`` (kept inside the cube)."""
    best, best_values = starts.copy(), score(starts)
    n, width = best.shape
    rows, step = np.arange(n), _REFINE_STEP
    for _ in range(_REFINE_ROUNDS if n else 0):
        noise = rng.normal(0.0, step, (n, _REFINE_PROPOSALS, width))
        proposals = np.clip(best[:, None, :] + noise, 0.0, 1.0)
        values = score(proposals.reshape(-1, width)).reshape(n, _REFINE_PROPOSALS)
        pick = values.argmax(1)
        better = values[rows, pick] > best_values
        best[better] = proposals[rows, pick][better]
        best_values[better] = values[rows, pick][better]
        step *= _REFINE_SHRINK
    return best, best_values
