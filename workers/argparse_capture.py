"""argparse capture for ``Task.init`` (ClearML's ``auto_connect_arg_parser``).

Importing this module wraps ``argparse.ArgumentParser.parse_known_args`` (which ``parse_args``
calls) once per process. The wrapper only remembers the last few ``(parser, namespace)`` pairs
until a task binds itself with :func:`bind`; from then on, and for the pairs parsed before the
binding, every parse is connected to the task:

* a task run by hand records the parsed values as ``Args/<dest>`` (the parser's types; a value
  that JSON cannot hold is stored as its ``str``), the code's values winning;
* a trial (a clone run by a worker) gets its own ``Args/<dest>`` values back in the namespace,
  converted by the argument's ``type`` when stored as text, and records the arguments it lacks.

Only the outermost parse of a call is connected (sub-parsers parse inside their parent's).
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import codec
from .errors import HpqError

if TYPE_CHECKING:
    from .task import Task

log = logging.getLogger("hpqueue.task")

ARGS_SECTION = "Args"
#: How many parses made before a task is bound are remembered.
_REMEMBERED = 16

_original = getattr(argparse.ArgumentParser.parse_known_args, "__wrapped__",
                    argparse.ArgumentParser.parse_known_args)
_depth = threading.local()
_parsed: deque[tuple[argparse.ArgumentParser, argparse.Namespace]] = deque(maxlen=_REMEMBERED)
_binding: ArgsBinding | None = None


class ArgsBinding:
    """Connects parsed arguments to ``task``: ``remote`` (a trial) takes the task's values,
    otherwise the parsed values are recorded. ``include(dest)`` says which arguments count."""

    def __init__(self, task: Task, *, remote: bool, include: Callable[[str], bool]) -> None:
        self.task = task
        self.remote = remote
        self.include = include

    def connect(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> None:
        """Record (or, in a trial, override) the arguments of one parse."""
        values = {dest: value for dest, value in vars(namespace).items()
                  if value is not argparse.SUPPRESS and self.include(dest)}
        if not values:
            return
        if self.remote:
            stored = self.task.get_parameters()
            types = action_types(parser)
            for dest in values:
                key = f"{ARGS_SECTION}/{dest}"
                if key in stored:
                    value = convert(stored[key], types.get(dest))
                    setattr(namespace, dest, value)
                    values[dest] = value
            missing = {f"{ARGS_SECTION}/{d}": v for d, v in values.items()
                       if f"{ARGS_SECTION}/{d}" not in stored}
            if missing:
                self.task.update_parameters(json_values(missing))
        else:
            self.task.update_parameters(json_values(
                {f"{ARGS_SECTION}/{d}": v for d, v in values.items()}))


def include_filter(setting: bool | Mapping[str, bool]) -> Callable[[str], bool] | None:
    """ClearML's ``auto_connect_arg_parser``: False/empty dict = off (None); True = every
    argument; a dict excludes ``{dest: False}`` and, with ``"*": False``, keeps only the
    ``{dest: True}`` ones."""
    if isinstance(setting, Mapping):
        if not setting:
            return None
        default = bool(setting.get("*", True))
        return lambda dest: bool(setting.get(dest, default))
    return (lambda dest: True) if setting else None


def bind(binding: ArgsBinding | None) -> None:
    """Connect every later parse, and the remembered earlier ones, through ``binding``
    (None unbinds)."""
    global _binding
    _binding = binding
    if binding is None:
        return
    for parser, namespace in list(_parsed):
        _connect_safely(binding, parser, namespace)


def forget_parsed() -> None:
    """Forget the remembered parses (a test process's own command line, say)."""
    _parsed.clear()


def parsed_namespace(parser: argparse.ArgumentParser) -> argparse.Namespace | None:
    """The namespace of ``parser``'s last remembered parse, or None."""
    for known, namespace in reversed(_parsed):
        if known is parser:
            return namespace
    return None


def action_types(parser: argparse.ArgumentParser) -> dict[str, Any]:
    """``{dest: type callable}`` of ``parser``'s arguments, sub-parsers included."""
    types: dict[str, Any] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                types.update(action_types(sub))
        elif action.type is not None:
            types[action.dest] = action.type
    return types


def convert(value: Any, kind: Any) -> Any:
    """A stored value as the argument's ``type`` would give it: text goes through ``kind``
    (element-wise for a list); a number becomes an int/float argument's kind. A value that
    ``kind`` rejects is returned as it is."""
    if kind is None or not callable(kind):
        return value
    if isinstance(value, list):
        return [convert(v, kind) for v in value]
    try:
        if isinstance(value, str) and kind is not str:
            return kind(value)
        if kind in (int, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
            converted = kind(value)
            return converted if converted == value else value
    except (TypeError, ValueError):
        return value
    return value


def json_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every value JSON cannot hold replaced by its ``str``."""
    out = {}
    for key, value in values.items():
        try:
            codec.dumps(value)
            out[key] = value
        except HpqError:
            out[key] = str(value)
    return out


def _connect_safely(binding: ArgsBinding, parser: argparse.ArgumentParser,
                    namespace: argparse.Namespace) -> None:
    try:
        binding.connect(parser, namespace)
    except HpqError as exc:  # the script's parse must not fail because a record cannot be written
        log.warning("task %s: arguments not recorded: %s", binding.task.id, exc)


def _parse_known_args(self: argparse.ArgumentParser, args: Sequence[str] | None = None,
                      namespace: argparse.Namespace | None = None
                      ) -> tuple[argparse.Namespace, list[str]]:
    depth = getattr(_depth, "value", 0)
    _depth.value = depth + 1
    try:
        result = _original(self, args, namespace)
    finally:
        _depth.value = depth
    if depth == 0:
        parsed = result[0]
        _parsed.append((self, parsed))
        if _binding is not None:
            _connect_safely(_binding, self, parsed)
    return result


_parse_known_args.__wrapped__ = _original  # type: ignore[attr-defined]
argparse.ArgumentParser.parse_known_args = _parse_known_args  # type: ignore[method-assign,assignment]
