"""Objectives: which scalar to optimize, in which direction, and how jobs rank.

Signs: ``min`` / ``max`` use the **last** reported value of the series; ``min_global`` /
``max_global`` use the best value ever reported (its minimum or maximum). ``minimize`` and
``maximize`` are accepted for ``min`` and ``max``; anything else is a ValueError (ClearML silently
treats unknown signs as ``max``). A NaN objective counts as missing: it never ranks.

Several objectives rank by a real non-dominated sort (Pareto fronts, best front first; inside a
front, by crowding distance so that the extremes and sparse regions come first).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .clearml_objective import MultiObjectiveQueries, ObjectiveQueries, clearml_objectives

_SIGNS = {"min": ("min", False), "minimize": ("min", False), "min_global": ("min", True),
          "max": ("max", False), "maximize": ("max", False), "max_global": ("max", True)}

MetricStats = Mapping[str, float | int]
Metrics = Mapping[str, Mapping[str, MetricStats]]


def parse_sign(sign: Any) -> tuple[str, bool]:
    """``(order, extremum)`` of a sign string; ValueError naming the accepted ones."""
    key = sign.strip().lower() if isinstance(sign, str) else sign
    if key not in _SIGNS:
        raise ValueError(f"objective_metric_sign {sign!r} is not one of "
                         f"{', '.join(sorted(_SIGNS))}")
    return _SIGNS[key]


class Objective(ObjectiveQueries):
    """One objective: a (title, series) scalar and a sign.

    ClearML's constructor, ``Objective(title, series, order="max", extremum=False)``: ``order``
    is ``"min"`` or ``"max"`` (or any sign above; ``sign=`` is the same argument) and
    ``extremum=True`` ranks by the global min/max instead of the last value. ClearML's queries
    (``get_objective``, ``get_top_tasks``, ...) come from
    :class:`~controller.clearml_objective.ObjectiveQueries`.
    """

    def __init__(self, title: str, series: str, order: str = "max", extremum: bool = False,
                 *, sign: str | None = None) -> None:
        if not isinstance(title, str) or not title or not isinstance(series, str) or not series:
            raise ValueError(f"objective title and series must be non-empty strings, got "
                             f"{title!r}/{series!r}")
        sign = order if sign is None else sign
        self.title = title
        self.series = series
        self.order, self.extremum = parse_sign(sign)
        if extremum and not self.extremum:
            self.extremum = True
            sign = f"{self.order}_global"
        #: the sign string (ClearML's ``sign`` attribute, +1/-1, is ``get_objective_sign()``)
        self.sign = sign

    @property
    def maximize(self) -> bool:
        return self.order == "max"

    def value(self, stats: MetricStats | None) -> float | None:
        """The objective from one series' stats (``last``/``min``/``max``), None if missing/NaN."""
        if not stats:
            return None
        key = ("max" if self.maximize else "min") if self.extremum else "last"
        value = stats.get(key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return float(value)

    def from_metrics(self, metrics: Metrics) -> float | None:
        """The objective from a task's ``get_last_scalar_metrics()``."""
        return self.value(metrics.get(self.title, {}).get(self.series))

    def normalize(self, value: float) -> float:
        """Lower is better: ``value`` for min, ``-value`` for max."""
        return -value if self.maximize else value

    def is_better(self, a: float, b: float) -> bool:
        """True if ``a`` is strictly better than ``b``."""
        return self.normalize(a) < self.normalize(b)

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "series": self.series, "sign": self.sign}

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> Objective:
        """Inverse of :meth:`to_dict`."""
        return cls(data["title"], data["series"], sign=data["sign"])

    def __repr__(self) -> str:
        return f"Objective({self.title!r}, {self.series!r}, {self.sign!r})"


class MultiObjective(MultiObjectiveQueries):
    """One or more objectives, ranked together.

    ``MultiObjective([Objective, ...])``, or ClearML's ``MultiObjective(title, series, order,
    extremum)`` with one list entry per objective. ClearML's queries come from
    :class:`~controller.clearml_objective.MultiObjectiveQueries`.
    """

    def __init__(self, objectives: Sequence[Objective] | Sequence[str] | str,
                 series: Sequence[str] | str | None = None,
                 order: Sequence[str] | str | None = None,
                 extremum: Sequence[bool] | bool | None = None) -> None:
        if series is not None or order is not None or extremum is not None:
            objectives = [Objective(t, s, o, bool(e)) for t, s, o, e in clearml_objectives(
                objectives, series or [], order or [],  # type: ignore[arg-type]
                False if extremum is None else extremum)]
        if not objectives or not all(isinstance(o, Objective) for o in objectives):
            raise ValueError(f"MultiObjective needs Objective objects or ClearML's (title, "
                             f"series, order, extremum) lists, got {objectives!r}")
        self.objectives: list[Objective] = list(objectives)  # type: ignore[arg-type]

    @classmethod
    def build(cls, titles: str | Sequence[str], series: str | Sequence[str],
              signs: str | Sequence[str]) -> MultiObjective:
        """From ClearML's constructor arguments: three strings, or three lists of equal length."""
        kinds = {isinstance(titles, str), isinstance(series, str), isinstance(signs, str)}
        if len(kinds) != 1:
            raise TypeError("objective_metric_title, _series and _sign must all be strings or all "
                            "be lists")
        if isinstance(titles, str):
            return cls([Objective(titles, series, signs)])  # type: ignore[arg-type]
        if not (len(titles) == len(series) == len(signs)):
            raise ValueError("objective_metric_title, _series and _sign lists must have the same "
                             "length")
        return cls([Objective(t, s, g) for t, s, g in zip(titles, series, signs)])

    @property
    def len(self) -> int:  # ClearML's attribute name
        return len(self.objectives)

    @property
    def title(self) -> list[str]:
        """The titles (ClearML's attribute)."""
        return [o.title for o in self.objectives]

    @property
    def series(self) -> list[str]:
        return [o.series for o in self.objectives]

    @property
    def order(self) -> list[str]:
        return [o.order for o in self.objectives]

    @property
    def extremum(self) -> list[bool]:
        return [o.extremum for o in self.objectives]

    def __len__(self) -> int:
        return len(self.objectives)

    def values(self, metrics: Metrics) -> list[float] | None:
        """Every objective's value from a task's metrics, or None if any is missing."""
        out = []
        for obj in self.objectives:
            v = obj.from_metrics(metrics)
            if v is None:
                return None
            out.append(v)
        return out

    def normalize(self, values: Sequence[float]) -> tuple[float, ...]:
        return tuple(o.normalize(v) for o, v in zip(self.objectives, values))

    def rank(self, items: Sequence[tuple[str, Sequence[float]]]) -> list[str]:
        """Ids of ``items`` (``(id, values)``) best first.

        One objective: by value (ties by input order). Several: non-dominated sort.
        """
        if len(self.objectives) == 1:
            obj = self.objectives[0]
            order = sorted(range(len(items)), key=lambda i: obj.normalize(items[i][1][0]))
            return [items[i][0] for i in order]
        points = [self.normalize(v) for _, v in items]
        out: list[str] = []
        for front in pareto_fronts(points):
            distance = crowding(points, front)
            out.extend(items[i][0] for i in sorted(front, key=lambda i: -distance[i]))
        return out

    def to_dicts(self) -> list[dict[str, str]]:
        return [o.to_dict() for o in self.objectives]


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """True if ``a`` is no worse than ``b`` everywhere and better somewhere (lower is better)."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_fronts(points: Sequence[Sequence[float]]) -> list[list[int]]:
    """Fast non-dominated sort (Deb et al. 2002): indices of ``points`` grouped in fronts."""
    n = len(points)
    dominated_by: list[list[int]] = [[] for _ in range(n)]
    counts = [0] * n
    for i in range(n):
        for j in range(i + 1, n):
            if dominates(points[i], points[j]):
                dominated_by[i].append(j)
                counts[j] += 1
            elif dominates(points[j], points[i]):
                dominated_by[j].append(i)
                counts[i] += 1
    fronts = []
    current = [i for i in range(n) if counts[i] == 0]
    while current:
        fronts.append(current)
        nxt = []
        for i in current:
            for j in dominated_by[i]:
                counts[j] -= 1
                if counts[j] == 0:
                    nxt.append(j)
        current = sorted(nxt)
    return fronts


def crowding(points: Sequence[Sequence[float]], front: Sequence[int]) -> dict[int, float]:
    """Crowding distance of each index of ``front`` (inf for the extremes of any objective)."""
    dist = {i: 0.0 for i in front}
    if len(front) <= 2:
        return {i: math.inf for i in front}
    for m in range(len(points[front[0]])):
        ordered = sorted(front, key=lambda i: points[i][m])
        lo, hi = points[ordered[0]][m], points[ordered[-1]][m]
        dist[ordered[0]] = dist[ordered[-1]] = math.inf
        if hi == lo:
            continue
        for k in range(1, len(ordered) - 1):
            dist[ordered[k]] += (points[ordered[k + 1]][m] - points[ordered[k - 1]][m]) / (hi - lo)
    return dist
