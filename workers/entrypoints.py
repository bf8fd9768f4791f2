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

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


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


def placeholders(command: Sequence[str]) -> set[str]:
    """Parameter names referenced as ``{{ Section/name }}`` in a command."""
    return {m.group(1) for arg in command for m in _PLACEHOLDER.finditer(arg)}


def render_command(command: Sequence[str], parameters: Mapping[str, Any]) -> list[str]:
    """Replace each ``{{ Section/name }}`` with the parameter's value.

    Strings are inserted as they are, other values as JSON (``0.05``, ``true``, ``[1, 2]``).
    Raises PlaceholderError naming the placeholders that match no parameter.
    """
    missing = sorted(placeholders(command) - set(parameters))
    if missing:
        raise PlaceholderError(
            f"command placeholder(s) {', '.join('{{ ' + m + ' }}' for m in missing)} match no "
            f"parameter; parameters are: {', '.join(sorted(parameters)) or '(none)'}")

    def sub(match: re.Match[str]) -> str:
        value = parameters[match.group(1)]
        return value if isinstance(value, str) else json.dumps(value)

    return [_PLACEHOLDER.sub(sub, arg) for arg in command]
