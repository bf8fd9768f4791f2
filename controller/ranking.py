"""The leaderboard: finished jobs with an objective, ranked, and the top-k archive set."""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from .objective import MultiObjective


class Leaderboard:
    """Ranks finished jobs by their objective values (best first).

    One objective: a sorted list (insertion O(log n) search). Several: a non-dominated sort,
    recomputed lazily when asked after a change.
    """

    def __init__(self, objective: MultiObjective) -> None:
        self.objective = objective
        self._values: dict[str, list[float]] = {}
        self._order: dict[str, int] = {}
        self._sorted: list[tuple[float, int, str]] = []  # single objective
        self._ranked: list[str] | None = None  # multi-objective cache

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._values

    def add(self, job_id: str, order: int, values: list[float]) -> int:
        """Add a finished job; returns its rank (0 = best)."""
        self._values[job_id] = values
        self._order[job_id] = order
        if len(self.objective) == 1:
            entry = (self.objective.objectives[0].normalize(values[0]), order, job_id)
            pos = bisect.bisect(self._sorted, entry)
            self._sorted.insert(pos, entry)
            return pos
        self._ranked = None
        return self.ranked().index(job_id)

    def values(self, job_id: str) -> list[float]:
        return self._values[job_id]

    def ranked(self) -> list[str]:
        """Every job id, best first."""
        if len(self.objective) == 1:
            return [e[2] for e in self._sorted]
        if self._ranked is None:
            items = sorted(self._values.items(), key=lambda kv: self._order[kv[0]])
            self._ranked = self.objective.rank(items)
        return self._ranked

    def top(self, k: int | None = None) -> list[str]:
        """The best ``k`` job ids (all when k is None)."""
        if len(self.objective) == 1:
            return [e[2] for e in (self._sorted if k is None else self._sorted[:max(k, 0)])]
        ranked = self.ranked()
        return ranked if k is None else ranked[:max(k, 0)]

    def best(self) -> str | None:
        top = self.top(1)
        return top[0] if top else None

    def merged(self, extra: Iterable[tuple[str, int, list[float]]]) -> list[str]:
        """Ranking of the finished jobs plus ``extra`` ``(id, order, values)`` (running jobs)."""
        items = [(j, self._order[j], v) for j, v in self._values.items()] + list(extra)
        items.sort(key=lambda t: t[1])
        return self.objective.rank([(j, v) for j, _, v in items])
