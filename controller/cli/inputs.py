"""``hpq optimize``'s input made into hpqueue objects: parameters, objectives, the strategy, a
Polyaxon matrix and the ``--script`` base task. Every bad value raises :class:`UsageError`
naming the flag."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..parameters import DiscreteParameterRange, Parameter
from ..strategies.base import SearchStrategy
from .base import UsageError, message

if TYPE_CHECKING:
    from workers.store import Store

#: clearml-param-search's default
DEFAULT_STRATEGY = "OptimizerOptuna"


def parse_params(search: Sequence[str], override: Sequence[str]) -> list[Parameter]:
    """``--params-search`` and ``--params-override`` as Parameters (UsageError if invalid)."""
    out = [_parameter(d, text) for text in search
           for d in _json_items(text, "--params-search")]
    for text in override:
        for d in _json_items(text, "--params-override"):
            pairs = [(d["name"], d["value"])] if set(d) == {"name", "value"} else d.items()
            for name, value in pairs:
                out.append(DiscreteParameterRange(_full_name(name, "--params-override"),
                                                  [value]))
    if not out:
        raise UsageError("give at least one parameter with --params-search (or "
                         "--params-override)")
    return out


def _json_items(text: str, flag: str) -> list[dict[str, Any]]:
    """A JSON object, or a list of them."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{flag}: invalid JSON {text!r}: {exc}") from None
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, dict):
            raise UsageError(f"{flag}: expected a JSON object, got {json.dumps(item)}")
    return items


def _full_name(name: Any, flag: str) -> str:
    if not isinstance(name, str) or not name:
        raise UsageError(f"{flag}: parameter name must be a non-empty string, got {name!r}")
    return name if "/" in name else f"General/{name}"


def _parameter(data: dict[str, Any], text: str) -> Parameter:
    """One ``--params-search`` object (ClearML's field names accepted)."""
    if "type" not in data:
        raise UsageError(f"--params-search: {text} has no \"type\"")
    data = dict(data)
    if "include_max_value" in data:
        data["include_max"] = data.pop("include_max_value")
    if "name" in data:
        data["name"] = _full_name(data["name"], "--params-search")
    if data["type"] == "ParameterSet":
        data["parameter_combinations"] = [
            {_full_name(k, "--params-search"): v for k, v in combo.items()}
            for combo in data.get("parameter_combinations", []) if isinstance(combo, dict)]
    try:
        return Parameter.from_dict(data)
    except KeyError as exc:
        raise UsageError(f"--params-search: {data['type']} {text} lacks field {exc}") from None
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--params-search: {message(exc)}") from None


def read_polyaxon_matrix(path: str, replaced: Sequence[str] = ()) -> dict[str, Any]:
    """The ``--polyaxon-matrix`` file's object: JSON, or YAML for a ``.yaml``/``.yml`` file.
    UsageError if it is unreadable, or if ``replaced`` names flags that were given and that the
    matrix replaces."""
    import yaml  # type: ignore[import-untyped]

    if replaced:
        raise UsageError(f"--polyaxon-matrix cannot be combined with {', '.join(replaced)}")
    try:
        text = Path(path).read_text()
        matrix = (yaml.safe_load(text) if Path(path).suffix in (".yaml", ".yml")
                  else json.loads(text))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise UsageError(f"--polyaxon-matrix: {exc}") from None
    if not isinstance(matrix, dict):
        raise UsageError(f"--polyaxon-matrix: expected a JSON object in {path}")
    return matrix


def json_object(text: str | None, flag: str) -> dict[str, Any]:
    """``text`` as a JSON object (``{}`` for None)."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{flag}: invalid JSON {text!r}: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{flag}: expected a JSON object, got {text}")
    return value


def objectives(titles: Sequence[str], series: Sequence[str], signs: Sequence[str]
               ) -> tuple[Any, Any, Any]:
    """Strings for one objective, lists for several (a single sign applies to all; none means
    ``min``)."""
    signs = list(signs) or ["min"]
    if len(signs) == 1:
        signs = signs * len(titles)
    if not len(titles) == len(series) == len(signs):
        raise UsageError("give as many --objective-metric-series (and signs) as titles")
    from ..objective import parse_sign

    for sign in signs:
        try:
            parse_sign(sign)
        except ValueError as exc:
            raise UsageError(f"--objective-metric-sign: {exc}") from None
    if len(titles) == 1:
        return titles[0], series[0], signs[0]
    return list(titles), list(series), signs


def resolve_strategy(name: str) -> type[SearchStrategy]:
    """A strategy class by name (any in :mod:`controller.strategies`) or ``module:Class``."""
    if ":" in name or "." in name:
        module, _, attr = name.partition(":") if ":" in name else name.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise UsageError(f"--optimizer-class {name!r}: {exc}") from None
    else:
        known = strategy_classes()
        if name not in known:
            raise UsageError(f"--optimizer-class: unknown strategy {name!r}; known: "
                             f"{', '.join(sorted(known))} (or module:Class)")
        cls = known[name]
    if not (isinstance(cls, type) and issubclass(cls, SearchStrategy)):
        raise UsageError(f"--optimizer-class {name!r} is not a SearchStrategy class")
    return cls


def strategy_classes() -> dict[str, type[SearchStrategy]]:
    """Every concrete strategy class of :mod:`controller.strategies` and its modules, by name
    (not the abstract bases ``SearchStrategy`` and ``ClearMLSearchStrategy``)."""
    from .. import strategies

    found: dict[str, type[SearchStrategy]] = {}
    modules = [strategies]
    for info in pkgutil.iter_modules(strategies.__path__):
        with contextlib.suppress(ImportError):  # a strategy whose optional package is missing
            modules.append(importlib.import_module(f"{strategies.__name__}.{info.name}"))
    for module in modules:
        for attr, value in vars(module).items():
            if (isinstance(value, type) and issubclass(value, SearchStrategy)
                    and not inspect.isabstract(value) and not attr.startswith("_")):
                found.setdefault(attr, value)
    return found


def create_script_task(script: str, args: Sequence[str], params: Sequence[Parameter],
                       store: Store, *, project: str | None = None,
                       task_name: str | None = None) -> str:
    """The ``--script`` base task: ``[python, script, --name, {{ Section/name }}, ...]``.

    Its parameters are the ``--args`` values (``NAME=VALUE``, kept as strings), plus each
    searched parameter that ``--args`` does not name (with its first value) so that every job
    passes all of them. Returns its id.
    """
    from workers.task import Task

    path = Path(script).resolve()
    if not path.is_file():
        raise UsageError(f"--script: no file {path}")
    defaults: dict[str, Any] = {}
    for item in args:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--args: expected NAME=VALUE, got {item!r}")
        defaults[_full_name(name, "--args")] = value
    for p in params:
        for name, value in p.to_list()[0].items():
            defaults.setdefault(name, value)
    command = [sys.executable, str(path)]
    for name in defaults:
        command += [f"--{name.rsplit('/', 1)[-1]}", f"{{{{ {name} }}}}"]
    task = Task.create(project or "", task_name or path.stem, command=command,
                       parameters=defaults, store=store)
    print(f"hpq: created base task {task.id} running {path.name}", file=sys.stderr)
    return task.id
