"""Grid search and random search."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from .base import Suggestion, Trial
from .clearml_compat import ClearMLSearchStrategy

_MAX_ENUMERATED = 1_000_000
_REJECTION_TRIES = 64


def config_key(parameters: dict[str, Any]) -> str:
    """Canonical text of a configuration, for de-duplication."""
    return json.dumps(parameters, sort_keys=True, separators=(",", ":"))


class GridSearch(ClearMLSearchStrategy):
    """Every point of the Cartesian grid, in order (the last parameter varies fastest).

    Duplicate points (overlapping ParameterSets, repeated values) run once. The cursor is part of
    the state, so a resumed optimizer continues where it stopped instead of starting over.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cursor = 0
        self._size = self.space.grid_size()
        self._seen: set[str] = set()

    def suggest(self) -> Suggestion | None:
        while self.cursor < self._size:
            point = self.space.grid_point(self.cursor)
            self.cursor += 1
            key = config_key(point)
            if key not in self._seen:
                self._seen.add(key)
                return Suggestion(point, meta={"grid_index": self.cursor - 1})
        return None

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "cursor": self.cursor}

    def load_state_dict(self, state: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
        super().load_state_dict(state, trials)
        self.cursor = int(state["cursor"])
        self._seen = {config_key(self.space.grid_point(i)) for i in range(self.cursor)}


class RandomSearch(ClearMLSearchStrategy):
    """Seeded random sampling without duplicates; ends when a finite space is exhausted.

    Unlike ClearML (which gives up after 42 duplicate draws in a row), once rejection sampling
    stops finding new points in a finite space the remaining points are enumerated, so every
    point runs exactly once before the search ends.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seen: set[str] = set()
        self._finite = self.space.is_finite()
        self._size = self.space.grid_size() if self._finite else math.inf

    def suggest(self) -> Suggestion | None:
        if len(self._seen) >= self._size:
            return None
        for _ in range(_REJECTION_TRIES):
            config = self.space.sample(self.rng)
            key = config_key(config)
            if key not in self._seen:
                self._seen.add(key)
                return Suggestion(config)
        if self._finite and self._size <= _MAX_ENUMERATED:
            remaining = [i for i in range(int(self._size))
                         if config_key(self.space.grid_point(i)) not in self._seen]
            if remaining:
                config = self.space.grid_point(remaining[int(self.rng.integers(len(remaining)))])
                self._seen.add(config_key(config))
                return Suggestion(config)
            self._size = len(self._seen)  # duplicates on the grid: fewer distinct points
        return None

    def load_state_dict(self, state: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
        super().load_state_dict(state, trials)
        self._seen = {config_key(t.parameters) for t in trials}

