"""What a task runs: a Python callable (``module:function``) or a command with placeholders."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import EntryPointError, PlaceholderError

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}|]+?)\s*(?:\|\s*([^{}|]*?)\s*)?\}\}")
#: The section of a parameter named without one (``lr`` is ``General/lr``).
DEFAULT_SECTION = "General"
#: Prefix of the context values a worker provides (``{{ globals.uuid }}``).
CONTEXT_PREFIX = "globals."
_PARAMS_FORMS = {"value": None, "as_str": None, "as_arg": "as_arg"}
_FILTERS = frozenset({"as_arg", "flag"})


def check_entry_point_syntax(spec: str) -> tuple[str, str]:
    """Split ``module:function`` (or ``path/to/file.py:function``); EntryPointError if malformed."""
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise EntryPointError(
            f"entry point {spec!r} must look like 'package.module:function' or 'file.py:function'")
    module, func = spec.split(":")
    if not module or not func or not all(part.isidentifier() for part in func.split(".")):
        raise EntryPointError(
            f"entry point {spec!r} must look like 'package.module:function' or 'file.py:function'")
    return module, func


def load_entry_point(spec: str, working_dir: str | None = None) -> Callable[..., Any]:
    """Import the callable named by ``spec``; EntryPointError says why it cannot be used."""
    module_name, func_name = check_entry_point_syntax(spec)
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_absolute() and working_dir:
                path = Path(working_dir) / path
            if not path.is_file():
                raise FileNotFoundError(f"no file {path}")
            name = f"_hpq_entry_{path.stem}_{abs(hash(str(path.resolve())))}"
            module = sys.modules.get(name)
            if module is None:  # load each file once per process
                mod_spec = importlib.util.spec_from_file_location(name, path)
                assert mod_spec is not None and mod_spec.loader is not None
                module = importlib.util.module_from_spec(mod_spec)
                mod_spec.loader.exec_module(module)
                sys.modules[name] = module
        else:
            if working_dir and working_dir not in sys.path:
                sys.path.insert(0, working_dir)
            module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure of user code
        raise EntryPointError(
            f"entry point {spec!r} does not import: {type(exc).__name__}: {exc}") from exc
    target: Any = module
    for part in func_name.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise EntryPointError(
                f"entry point {spec!r}: module {module_name!r} has no attribute {func_name!r}"
            ) from None
    if not callable(target):
        raise EntryPointError(
            f"entry point {spec!r} names a {type(target).__name__}, which is not callable")
    return target


def full_name(name: str) -> str:
    """A parameter's ``Section/name``: ``General/lr`` for ``lr``."""
    return name if "/" in name else f"{DEFAULT_SECTION}/{name}"


class _Placeholder:
    """One ``{{ ... }}`` of a command: what it names and how it is written out.

    ``{{ Section/name }}`` is hpqueue's form (a string as it is, any other value as JSON);
    ``{{ name }}`` is Polyaxon's (the value as Jinja prints it, ``str(value)``), as are
    ``{{ params.name.value }}`` and ``{{ params.name.as_str }}``; ``{{ params.name.as_arg }}`` is
    ``--name=VALUE`` (nothing for None); ``{{ globals.key }}`` is a context value of the run.
    A ``| flag`` filter writes ``--name`` for a true value and nothing for a false one (a
    Polyaxon ``isFlag`` input), ``| as_arg`` as ``params.name.as_arg``.
    """

    def __init__(self, text: str, expression: str, filter_name: str | None) -> None:
        self.text = text
        self.context = expression.startswith(CONTEXT_PREFIX)
        style = filter_name or None
        name = expression
        if expression.startswith("params."):
            name, _, form = expression[len("params."):].rpartition(".")
            if not name or form not in _PARAMS_FORMS:
                raise PlaceholderError(
                    f"command placeholder {text} is not supported: write params.NAME.value, "
                    f"params.NAME.as_str or params.NAME.as_arg")
            style = style or _PARAMS_FORMS[form]
        if style is not None and style not in _FILTERS:
            raise PlaceholderError(f"command placeholder {text}: unknown filter {style!r}; "
                                   f"known: {', '.join(sorted(_FILTERS))}")
        self.key = expression if self.context else full_name(name)
        self.polyaxon = self.context or "/" not in name
        self.style = style

    def render(self, value: Any) -> str:
        """``value`` written out (see the class docstring)."""
        arg = self.key.rsplit("/", 1)[-1]
        if self.style == "flag":
            return f"--{arg}" if value else ""
        text = (str(value) if self.polyaxon or isinstance(value, str)
                else json.dumps(value))
        if self.style == "as_arg":
            return "" if value is None else f"--{arg}={text}"
        return text


def _placeholders(command: Sequence[str]) -> list[list[tuple[re.Match[str], _Placeholder]]]:
    return [[(m, _Placeholder(m.group(0), m.group(1), m.group(2)))
             for m in _PLACEHOLDER.finditer(arg)] for arg in command]


def placeholders(command: Sequence[str]) -> set[str]:
    """The ``Section/name`` keys of the parameters a command references (``{{ lr }}`` is
    ``General/lr``; context values such as ``{{ globals.uuid }}`` are not parameters).

    Raises:
        PlaceholderError: for a placeholder of an unsupported form.
    """
    return {p.key for arg in _placeholders(command) for _, p in arg if not p.context}


def context_placeholders(command: Sequence[str]) -> set[str]:
    """The context values (``globals.*``) a command references."""
    return {p.key for arg in _placeholders(command) for _, p in arg if p.context}


def render_command(command: Sequence[str], parameters: Mapping[str, Any],
                   context: Mapping[str, Any] | None = None) -> list[str]:
    """Replace each placeholder with its value (see :class:`_Placeholder` for the forms).

    ``context`` holds the ``globals.*`` values. An argument that had placeholders and renders
    to nothing (a false flag) is left out.

    Raises:
        PlaceholderError: naming the placeholders that match no parameter or context value, or
            one of an unsupported form.
    """
    context = context or {}
    parsed = _placeholders(command)
    missing = sorted({p.text for arg in parsed for _, p in arg
                      if p.key not in (context if p.context else parameters)})
    if missing:
        known = sorted(parameters) + sorted(context)
        raise PlaceholderError(
            f"command placeholder(s) {', '.join(missing)} match no parameter or context value; "
            f"there are: {', '.join(known) or '(none)'}")
    out = []
    for arg, found in zip(command, parsed):
        if not found:
            out.append(arg)
            continue
        rendered, end = [], 0
        for match, p in found:
            rendered += [arg[end:match.start()],
                         p.render(context[p.key] if p.context else parameters[p.key])]
            end = match.end()
        text = "".join(rendered) + arg[end:]
        if text:
            out.append(text)
    return out
