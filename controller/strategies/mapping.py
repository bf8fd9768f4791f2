"""Mapping: a user-given list of configurations, run in order (Polyaxon's ``kind: mapping``).

Each entry of ``values`` is one trial's overrides, ``{"Section/name": value}`` (``General/`` is
added to keys without a section). A suggestion carries only those overrides: the optimizer's loop
clones the base task, so the entry is merged over the base task's parameters there, as Polyaxon's
``deepcopy(base_params).update(value)``. The loop asks :meth:`Mapping.suggest` only while a
concurrency slot is free, which is what throttles the list (``num_concurrent_workers=1`` runs it
sequentially). ``hyper_parameters`` are not sampled and may be empty.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from workers.task import normalize_parameters

from .base import Suggestion, Trial
from .clearml_compat import ClearMLSearchStrategy


def check_values(values: Any) -> list[dict[str, Any]]:
    """``values`` with full ``Section/name`` keys and plain JSON values.

    Raises:
        ValueError: for a non-list, an empty list, an entry that is not a dict, or a key or value
            that a task parameter cannot hold (not JSON-serialisable).
    """
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"values must be a list of dicts, got {type(values).__name__}")
    if not values:
        raise ValueError("values may not be empty")
    out = []
    for i, entry in enumerate(values):
        if not isinstance(entry, dict):
            raise ValueError(f"values[{i}] must be a dict, got {entry!r}")
        out.append(normalize_parameters(entry, f"values[{i}]"))
    return out


class Mapping(ClearMLSearchStrategy):
    """One trial per entry of ``values``, in list order; then exhausted.

    Args:
        values: the configurations (see the module docstring). Suggestion ``meta`` is
            ``{"index": i}``, the entry's position.

    Raises:
        TypeError: for an unknown argument.
        ValueError: for invalid ``values`` (see :func:`check_values`).
    """

    def __init__(self, *args: Any, values: Sequence[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.values = check_values(values)
        self.cursor = 0

    def suggest(self) -> Suggestion | None:
        """The next entry, or None after the last one."""
        if self.cursor >= len(self.values):
            return None
        index = self.cursor
        self.cursor += 1
        return Suggestion(copy.deepcopy(self.values[index]), meta={"index": index})

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "cursor": self.cursor}

    def load_state_dict(self, state: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
        super().load_state_dict(state, trials)
        self.cursor = int(state["cursor"])
