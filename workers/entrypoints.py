"""What a task runs: a Python callable (``module:function``) or a command with placeholders.

An entry point is checked twice: where the task is created, statically (:func:`check_entry_point`
finds and parses the module's source without running it, so the training module and what it
imports -- scikit-learn, torch -- stay out of the controller), and where it runs
(:func:`load_entry_point` imports it; a failure there fails the trial with an EntryPointError
naming the entry point).
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
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


def _entry_file(module_name: str, working_dir: str | None) -> Path:
    """The file of a ``file.py`` entry point (relative to ``working_dir``); FileNotFoundError."""
    path = Path(module_name)
    if not path.is_absolute() and working_dir:
        path = Path(working_dir) / path
    if not path.is_file():
        raise FileNotFoundError(f"no file {path}")
    return path


def load_entry_point(spec: str, working_dir: str | None = None) -> Callable[..., Any]:
    """Import the callable named by ``spec``; EntryPointError says why it cannot be used."""
    module_name, func_name = check_entry_point_syntax(spec)
    try:
        if module_name.endswith(".py"):
            path = _entry_file(module_name, working_dir)
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


def check_entry_point(spec: str, working_dir: str | None = None) -> None:
    """Check, without importing or running anything, that ``spec`` names a function.

    The module is found as the worker will find it (``working_dir`` first, then ``sys.path``;
    for ``a.b.c`` the packages' search paths, so no package's ``__init__`` runs) and its source is
    parsed: the first name of the function must be bound at the module's top level (a ``def``,
    ``class``, import or assignment, also inside a top-level ``if``/``try``). What only running the
    module can tell is left to the worker, which fails the trial with an EntryPointError naming
    the entry point: an error raised while the module imports, a name made at run time (``from m
    import *``, a module ``__getattr__``, ``globals()``), a module that is not Python source.

    Raises EntryPointError: a malformed spec, no such module or file, a syntax error, no such
    name, or a name bound only to a literal (which is not callable).
    """
    module_name, func_name = check_entry_point_syntax(spec)
    try:
        if module_name.endswith(".py"):
            source: Path | None = _entry_file(module_name, working_dir)
        else:
            source = _module_source(module_name, working_dir)
        if source is None:
            return  # not Python source (built-in, extension, namespace package): the worker checks
        tree = ast.parse(source.read_bytes(), filename=str(source))
    except (ImportError, OSError, SyntaxError, ValueError) as exc:
        raise EntryPointError(
            f"entry point {spec!r} does not import: {type(exc).__name__}: {exc}") from exc
    name = func_name.split(".")[0]
    bindings = _TopLevelNames(tree)
    if bindings.dynamic:
        return
    kinds = bindings.names.get(name)
    if kinds is None:
        raise EntryPointError(
            f"entry point {spec!r}: module {module_name!r} has no attribute {name!r}")
    literals = sorted(k for k in kinds if k is not None)
    if len(literals) == len(kinds) and "." not in func_name:
        raise EntryPointError(
            f"entry point {spec!r} names a {' or '.join(literals)}, which is not callable")


def _module_source(module_name: str, working_dir: str | None) -> Path | None:
    """The source file of ``module_name`` (None when it has none); ModuleNotFoundError."""
    parts = module_name.split(".")
    top = parts[0]
    found = importlib.machinery.PathFinder.find_spec(top, [working_dir]) if working_dir else None
    if found is None:
        found = importlib.util.find_spec(top)  # a top-level name: nothing is imported
    for i in range(1, len(parts)):
        if found is None:
            break
        if found.submodule_search_locations is None:
            raise ModuleNotFoundError(f"No module named {'.'.join(parts[:i + 1])!r}; "
                                      f"{'.'.join(parts[:i])!r} is not a package")
        found = importlib.machinery.PathFinder.find_spec(
            ".".join(parts[:i + 1]), list(found.submodule_search_locations))
    if found is None:
        raise ModuleNotFoundError(f"No module named {module_name!r}")
    origin = found.origin
    return Path(origin) if origin and origin.endswith(".py") else None


#: Literal node types and the Python type they build (a name bound only to these is not callable).
_LITERALS: dict[type[ast.expr], str] = {ast.List: "list", ast.Tuple: "tuple", ast.Dict: "dict",
                                        ast.Set: "set", ast.JoinedStr: "str"}
#: Calls at module level that can bind names the parser cannot see.
_DYNAMIC_CALLS = frozenset({"globals", "exec", "setattr", "vars"})


class _TopLevelNames(ast.NodeVisitor):
    """The names a module binds at its top level: ``names[name]`` holds, per binding, the type
    of a literal assigned to it, or None for anything else (def, class, import, expression).
    ``dynamic`` when the module can bind names the parser cannot see."""

    def __init__(self, tree: ast.Module) -> None:
        self.names: dict[str, set[str | None]] = {}
        self.dynamic = False
        for stmt in tree.body:
            self.visit(stmt)

    def _bind(self, name: str, kind: str | None = None) -> None:
        self.names.setdefault(name, set()).add(kind)
        if name == "__getattr__":
            self.dynamic = True

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._bind(node.name)  # its body is another scope

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._bind(node.name)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._bind(node.name)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        """Another scope: binds nothing here."""

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._bind(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.dynamic = True
            else:
                self._bind(alias.asname or alias.name)

    def visit_Assign(self, node: ast.Assign) -> None:
        kind = _literal_type(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                self._bind(target.id, kind)
            else:
                self.visit(target)
        self.visit(node.value)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self._bind(node.id)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in _DYNAMIC_CALLS:
            self.dynamic = True
        self.generic_visit(node)


def _literal_type(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant):
        return type(node.value).__name__
    return _LITERALS.get(type(node))


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
