"""Names a package exports but imports on first use (what a controller script does not use is
not imported: its start-up is the time to its first trial)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, modules: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package``: the name ``n`` in ``modules`` is
    imported from the submodule ``modules[n]`` (relative to ``package``) when first asked for;
    any other name raises AttributeError."""
    def __getattr__(name: str) -> Any:
        if name not in modules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(modules[name], package), name)

    return __getattr__
