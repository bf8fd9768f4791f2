"""Population-based training the way chrischute/pbt runs it: the optimizer is the PBT server.

Each member of the population is one long-running trial. Inside its own training loop it calls
the in-trial client (:class:`workers.pbt.PBTClient`, ``task.pbt()``) after every evaluation::

    pbt.save(checkpoint_path, metric)           # tell the server: my newest checkpoint
    if pbt.should_exploit():                    # am I in the bottom of the population?
        pbt.exploit()                           # copy a top member's hyper-parameters and path
        load(pbt.parameters_path())             # (user code) load its weights
        pbt.explore()                           # perturb the copied hyper-parameters

and the requests reach this strategy through the optimizer's loop within milliseconds
(:mod:`workers.messages`). The strategy launches ``population_size`` members with hyper-parameters
drawn from the search space (``meta["member"]`` is the member's number) and then suggests
nothing more; the optimization ends when every member has ended.

The seed's rules are the defaults:

* ranking uses each member's **most recent** checkpoint (failed and finished members keep
  theirs, as the seed's server does);
* truncation selection: nobody exploits before ``min_population`` (5) members have saved; then
  with ``N`` members saved and ``k = max(1, int(quantile_fraction * N))`` (``quantile_fraction``
  0.2), a member whose latest checkpoint is among the worst ``k`` should exploit, and
  :meth:`exploit` hands it a checkpoint drawn uniformly from the best ``k`` (never its own);
* explore = perturb: each hyper-parameter multiplied by 0.8 or 1.2 (``perturbation_factors``),
  drawn uniformly; not clipped to its range (the seed does not clip; a stepped, integer or
  categorical parameter always stays on its points: :meth:`controller.space.Scalar.perturb`;
  a ParameterSet, or a parameter the models cannot represent, is drawn again).

Options for the paper's variants (Jaderberg et al. 2017): ``ready_interval`` (a member may
exploit only after that many saves since it started or last exploited; 1, the seed's, means
after every save), ``resample_probability`` (each hyper-parameter is drawn again from its range
with that probability instead of being perturbed), ``clip=True`` (perturbed values stay inside
their range), and ``selection="ttest"`` (a member compares its last ``ttest_window`` values with
those of a uniformly drawn other member; it exploits that member if the other's mean is better
and Welch's t-test gives ``p < ttest_alpha``).

The server's decisions depend on its state only (each member's latest checkpoint, its counters
and last values, the random generator), which the optimizer saves with every answer: a
restarted controller answers the waiting members from there. What the members did (their
metric and hyper-parameters at every step, who copied whom at which step) is written by the
client on the member's own task record (see :mod:`workers.pbt`).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..parameters import LogUniformParameterRange, Parameter, UniformParameterRange
from ..space import Interval, Scalar
from .base import Suggestion, Trial
from .clearml_compat import ClearMLSearchStrategy

SELECTIONS = ("truncation", "ttest")


@dataclass
class Checkpoint:
    """A member's saved checkpoint as the server knows it (what ``save`` sent)."""

    step: int
    value: float | None  # the metric as reported (None: not a finite number)
    hyperparameters: dict[str, Any]
    path: str | None


@dataclass
class _Member:
    index: int
    job_id: str | None = None
    latest: Checkpoint | None = None
    since_exploit: int = 0  # saves since the member started or last exploited
    recent: list[float] = field(default_factory=list)  # last losses, for the t-test
    donor: int | None = None  # the member a t-test chose, until exploit() uses it


class PBTServer(ClearMLSearchStrategy):
    """The PBT server for members that run the in-trial client; see the module docstring.

    Args (besides the base ones):
        population_size: members to launch (>= 2; run them all at once: set
            ``max_number_of_concurrent_tasks`` to at least this).
        quantile_fraction: truncation selection's fraction (0.2, in (0, 0.5]).
        min_population: members that must have saved before anyone exploits (5).
        ready_interval: saves a member needs since its start or last exploit before it may
            exploit (1).
        selection: ``"truncation"`` or ``"ttest"``.
        ttest_window, ttest_alpha: the t-test's number of last values (10) and level (0.05).
        perturbation_factors: the explore factors (0.8, 1.2).
        resample_probability: probability to resample a hyper-parameter instead (0).
        clip: keep perturbed values inside their range (False, as the seed).

    Raises:
        ValueError: for an invalid value, naming the argument.
    """

    def __init__(self, *args: Any, population_size: int = 8, quantile_fraction: float = 0.2,
                 min_population: int = 5, ready_interval: int = 1,
                 selection: str = "truncation", ttest_window: int = 10,
                 ttest_alpha: float = 0.05, perturbation_factors: Sequence[float] = (0.8, 1.2),
                 resample_probability: float = 0.0, clip: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _integer("population_size", population_size, 2)
        _integer("min_population", min_population, 1)
        _integer("ready_interval", ready_interval, 1)
        _integer("ttest_window", ttest_window, 2)
        if not 0 < quantile_fraction <= 0.5:
            raise ValueError(f"quantile_fraction must be in (0, 0.5], got {quantile_fraction!r}")
        if selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
        if not 0 < ttest_alpha < 1:
            raise ValueError(f"ttest_alpha must be in (0, 1), got {ttest_alpha!r}")
        if not 0 <= resample_probability <= 1:
            raise ValueError(f"resample_probability must be in [0, 1], got "
                             f"{resample_probability!r}")
        factors = list(perturbation_factors)
        if not factors or any(isinstance(f, bool) or not isinstance(f, (int, float)) or f <= 0
                              for f in factors):
            raise ValueError(f"perturbation_factors must be positive numbers, got "
                             f"{perturbation_factors!r}")
        self.population_size = population_size
        self.quantile_fraction = quantile_fraction
        self.min_population = min_population
        self.ready_interval = ready_interval
        self.selection = selection
        self.ttest_window = ttest_window
        self.ttest_alpha = ttest_alpha
        self.perturbation_factors = factors
        self.resample_probability = resample_probability
        self.clip = bool(clip)
        self._launched = 0
        self._members: dict[int, _Member] = {}
        self._by_job: dict[str, int] = {}

    # ------------------------------------------------------------------ contract
    def suggest(self) -> Suggestion | None:
        """A new member while the population is not complete, then None (members run until
        their own loop ends)."""
        if self._launched >= self.population_size:
            return None
        index = self._launched
        self._launched += 1
        return Suggestion(self.space.sample(self.rng), meta={"member": index})

    def on_trial_start(self, job_id: str, suggestion: Suggestion) -> None:
        index = int(suggestion.meta["member"])
        self._members.setdefault(index, _Member(index)).job_id = job_id
        self._by_job[job_id] = index

    def on_trial_message(self, job_id: str, kind: str, data: Mapping[str, Any]) -> Any:
        """Serve the client's requests: ``pbt.hello``, ``pbt.save``, ``pbt.should_exploit``,
        ``pbt.exploit`` and ``pbt.explore`` (see :mod:`workers.pbt`)."""
        if job_id not in self._by_job:
            raise ValueError(f"job {job_id} is not a member of this population")
        member = self._members[self._by_job[job_id]]
        handlers = {"pbt.hello": self._hello, "pbt.save": self._save,
                    "pbt.should_exploit": self._should_exploit, "pbt.exploit": self._exploit,
                    "pbt.explore": self._explore}
        if kind not in handlers:
            raise ValueError(f"{type(self).__name__} does not answer {kind!r} (it answers "
                             f"{', '.join(handlers)})")
        return handlers[kind](member, data)

    def state_dict(self) -> dict[str, Any]:
        """The rng, the number of members launched and what each member saved (its job ids
        come back with the trials)."""
        members = {str(m.index): {"latest": asdict(m.latest) if m.latest else None,
                                  "since_exploit": m.since_exploit, "recent": m.recent,
                                  "donor": m.donor}
                   for m in self._members.values() if m.latest is not None or m.donor is not None}
        return {**super().state_dict(), "launched": self._launched, "members": members}

    def load_state_dict(self, state: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
        super().load_state_dict(state, trials)
        self._launched = int(state["launched"])
        self._members, self._by_job = {}, {}
        for trial in trials:
            self.on_trial_start(trial.job_id, Suggestion(trial.parameters, trial.meta))
        for key, saved in state["members"].items():
            member = self._members.setdefault(int(key), _Member(int(key)))
            member.latest = Checkpoint(**saved["latest"]) if saved["latest"] else None
            member.since_exploit = int(saved["since_exploit"])
            member.recent = [float(v) for v in saved["recent"]]
            member.donor = saved["donor"]

    # ------------------------------------------------------------------ requests
    def _hello(self, member: _Member, data: Mapping[str, Any]) -> dict[str, Any]:
        """Who the member is, which of its parameters are hyper-parameters, how to report the
        metric, and (for a retried attempt) where it was."""
        assert self.objective is not None
        latest = member.latest
        return {"member": member.index, "names": list(self.space.names),
                "objective": self.objective.objectives[0].to_dict(),
                "latest": asdict(latest) if latest else None}

    def _save(self, member: _Member, data: Mapping[str, Any]) -> None:
        hyperparameters = data.get("hyperparameters")
        if not isinstance(hyperparameters, Mapping):
            raise TypeError(f"pbt.save needs a hyperparameters object, got {hyperparameters!r}")
        value = data.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"pbt.save: the metric must be a number, got {value!r}")
        finite = float(value) if math.isfinite(value) else None
        member.latest = Checkpoint(int(data.get("step", 0)), finite, dict(hyperparameters),
                                   data.get("path"))
        member.since_exploit += 1
        member.recent = [*member.recent, self._loss(member.latest)][-self.ttest_window:]

    def _should_exploit(self, member: _Member, data: Mapping[str, Any]) -> bool:
        ranked = self._ranked()
        if (len(ranked) < self.min_population or member.latest is None
                or member.since_exploit < self.ready_interval):
            return False
        if self.selection == "truncation":
            return member.index in ranked[-self._cut(len(ranked)):]
        others = [m for m in ranked if m != member.index
                  and len(self._members[m].recent) >= 2]
        if len(member.recent) < 2 or not others:
            return False
        other = self._members[others[int(self.rng.integers(len(others)))]]
        mine, theirs = member.recent, other.recent
        if sum(theirs) / len(theirs) < sum(mine) / len(mine) and \
                welch_p_value(theirs, mine) < self.ttest_alpha:
            member.donor = other.index
            return True
        return False

    def _exploit(self, member: _Member, data: Mapping[str, Any]) -> dict[str, Any]:
        ranked = [m for m in self._ranked() if m != member.index]
        if not ranked:
            raise ValueError("pbt.exploit: no other member has saved a checkpoint yet")
        donor = member.donor
        if donor is None or donor not in ranked:
            top = ranked[:self._cut(len(ranked) + (member.latest is not None))]
            donor = top[int(self.rng.integers(len(top)))]
        member.donor = None
        member.since_exploit = 0
        member.recent = []
        source = self._members[donor]
        assert source.latest is not None
        return {"member": donor, "job_id": source.job_id, **asdict(source.latest)}

    def _explore(self, member: _Member, data: Mapping[str, Any]) -> dict[str, Any]:
        current = data.get("hyperparameters")
        if not isinstance(current, Mapping):
            raise TypeError(f"pbt.explore needs a hyperparameters object, got {current!r}")
        out = dict(current)
        for param in self.space.parameters:
            names = param.names()
            if not all(n in out for n in names):
                raise ValueError(f"pbt.explore: hyperparameter(s) {names} missing from "
                                 f"{sorted(out)}")
            dimension = param.dimension()
            if not isinstance(dimension, Scalar) or \
                    self.rng.random() < self.resample_probability:
                out.update(param.get_value(self.rng))
            else:
                out[dimension.name] = self._perturb(dimension, out[dimension.name],
                                                    self._factor())
        for name, value in current.items():  # the seed perturbs every hyper-parameter it has
            if name not in self.space.names and _is_number(value):
                out[name] = value * self._factor()
        return out

    # ------------------------------------------------------------------ helpers
    def _factor(self) -> float:
        return self.perturbation_factors[int(self.rng.integers(len(self.perturbation_factors)))]

    def _perturb(self, dimension: Scalar, value: Any, factor: float) -> Any:
        """``value * factor``; clipped to the range only with ``clip`` (a finite parameter
        always stays on its points)."""
        if isinstance(dimension, Interval) and not self.clip and _is_number(value):
            return value * factor
        return dimension.perturb(value, factor)

    def _loss(self, checkpoint: Checkpoint) -> float:
        """Lower is better; a missing (non-finite) metric is the worst."""
        return math.inf if checkpoint.value is None else self.loss(checkpoint.value)

    def _ranked(self) -> list[int]:
        """Members with a checkpoint, best latest checkpoint first (ties: lower member first)."""
        return [m.index for m in sorted(
            (m for m in self._members.values() if m.latest is not None),
            key=lambda m: (self._loss(m.latest), m.index))]  # type: ignore[arg-type]

    def _cut(self, n: int) -> int:
        """Truncation's ``k`` for ``n`` members."""
        return max(1, int(self.quantile_fraction * n))


def parameters_from_csv(path: str | os.PathLike[str]) -> list[Parameter]:
    """The search space of a chrischute/pbt configuration file (``name,min,max,scale``).

    ``scale`` ``log`` gives a :class:`LogUniformParameterRange` over ``[log10(min),
    log10(max)]`` (values ``10 ** uniform(...)``, as the seed draws them), ``linear`` a
    :class:`UniformParameterRange` over ``[min, max]``. A name without a section goes to
    ``General/`` (as task parameters do).

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file and the row: a missing column, a value that is not a
            number, ``min > max``, a log bound that is not positive, a scale other than ``log``
            or ``linear``, or a repeated name.
    """
    where = Path(path)
    with where.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"name", "min", "max", "scale"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{where}: the header lacks column(s) {sorted(missing)} (expected "
                             "name,min,max,scale)")
        out: list[Parameter] = []
        for row in reader:
            line = f"{where} line {reader.line_num}"
            name = (row["name"] or "").strip()
            if not name:
                raise ValueError(f"{line}: empty name")
            full = name if "/" in name else f"General/{name}"
            try:
                low, high = float(row["min"]), float(row["max"])
            except (TypeError, ValueError):
                raise ValueError(f"{line} ({name}): min {row['min']!r} and max {row['max']!r} "
                                 "must be numbers") from None
            if not low <= high:
                raise ValueError(f"{line} ({name}): min {low} is greater than max {high}")
            scale = (row["scale"] or "").strip()
            if scale == "log":
                if low <= 0:
                    raise ValueError(f"{line} ({name}): a log scale needs min > 0, got {low}")
                out.append(LogUniformParameterRange(full, math.log10(low), math.log10(high)))
            elif scale == "linear":
                out.append(UniformParameterRange(full, low, high))
            else:
                raise ValueError(f'{line} ({name}): expected "log" or "linear" search scale, '
                                 f'got "{scale}"')
            if full in [p.name for p in out[:-1]]:
                raise ValueError(f"{line}: {name!r} is defined twice")
    return out


def _integer(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------- Welch's t-test
def welch_p_value(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t-test that ``a`` and ``b`` have the same mean (each needs
    at least two values; infinite values give 1)."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Welch's t-test needs at least two values per sample")
    if not all(map(math.isfinite, [*a, *b])):
        return 1.0
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    va = sum((x - ma) ** 2 for x in a) / (len(a) - 1) / len(a)
    vb = sum((x - mb) ** 2 for x in b) / (len(b) - 1) / len(b)
    if va + vb == 0:
        return 1.0 if ma == mb else 0.0
    t = (ma - mb) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return _betainc(df / 2, 0.5, df / (df + t * t))


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function ``I_x(a, b)``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300

    def guard(v: float) -> float:
        return tiny if abs(v) < tiny else v

    c, d = 1.0, 1.0 / guard(1.0 - (a + b) * x / (a + 1))
    h = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 / guard(1.0 + numerator * d)
            c = guard(1.0 + numerator / c)
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h
