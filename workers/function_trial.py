"""Run a plain Python function as a trial: the worker's side of the function API
(:func:`controller.phs.search`, the phs wrappers).

The base task's entry point is ``workers.function_trial:run``; its parameters say what to call:

* ``Function/target``: the function, ``package.module:function`` or ``path/file.py:function``;
* ``Function/order``: ``[[name, type], ...]``, the parameters in their defined order (``type`` one
  of ``float``, ``int``, ``str``, ``bool``, ``expr``);
* ``Function/worker_path``: whether to give the function a folder of its own;
* ``General/<name>``: each parameter's value (a clone's, set by the optimizer).

:func:`run` evaluates the ``expr`` parameters in order, then calls the function with phs's
``parameter`` dict (a function without arguments is called without, and can read its task
through ``Task.current_task()``), and reports its return value as the scalar ``result/value``
(the objective of the function API).

Expressions. An ``expr`` parameter's value is a Python expression (``"math.sin(x)"``) over the
parameters defined before it, ``math`` and Python's builtins. It is evaluated here, on the worker,
with the same trust as the function itself: it is code written by the experiment's author, run
with the worker's rights (do not take expressions from untrusted input). The expression and its
value are stored on the trial (the JSON artifact ``expressions``: ``{name: {"expression",
"value"}}``); an expression that raises fails its trial alone, with the expression and the error
in the record's ``error`` (and ``{"expression", "error"}`` in the artifact).

The ``parameter`` dict is phs's: ``parameter["hyperpar"]`` is the set as Python assignments, one
per line (``x=2.564\\nf=-0.5366\\ns='string2'``) for ``exec(parameter['hyperpar'], globals(),
globals())``; an expression's value is written as a literal when it has one, else as the
expression itself (evaluated again by that ``exec``). ``parameter["worker_save_path"]`` is a
folder of the trial's own under the artifacts directory (False when not provided). Every
parameter is in the dict by name as well.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from . import codec
from .entrypoints import load_entry_point
from .errors import HpqError
from .task import Task, full_name

RESULT_TITLE = "result"
RESULT_SERIES = "value"
TARGET = "Function/target"
ORDER = "Function/order"
WORKER_PATH = "Function/worker_path"
EXPRESSIONS_ARTIFACT = "expressions"
#: What an expression sees besides the parameters defined before it (and Python's builtins).
EXPRESSION_GLOBALS: dict[str, Any] = {"math": math}
TYPES = ("float", "int", "str", "bool", "expr")


class ExpressionError(HpqError, ValueError):
    """An ``expr`` parameter whose expression raised: the message has the expression and the
    error; ``record`` is what :func:`run` stores of the expressions evaluated so far."""

    def __init__(self, message: str, record: dict[str, dict[str, Any]]) -> None:
        super().__init__(message)
        self.record = record


def evaluate(expression: str, earlier: Mapping[str, Any]) -> Any:
    """The value of ``expression`` over the ``earlier`` parameters, ``math`` and the builtins."""
    namespace = {"__builtins__": builtins, **EXPRESSION_GLOBALS}
    return eval(expression, namespace, dict(earlier))


def resolve(order: Sequence[Sequence[str]], parameters: Mapping[str, Any]
            ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The values of the parameters in ``order`` (from the task's ``parameters``), expressions
    evaluated in order; and what to record of each expression.

    Raises:
        ExpressionError: an expression raised.
    """
    values: dict[str, Any] = {}
    record: dict[str, dict[str, Any]] = {}
    for name, kind in order:
        value = parameters.get(full_name(name))
        if kind == "expr":
            try:
                result = evaluate(str(value), values)
            except Exception as exc:  # the author's code may raise anything
                record[name] = {"expression": value, "error": f"{type(exc).__name__}: {exc}"}
                raise ExpressionError(f"expression {name} = {value!r} failed: "
                                      f"{type(exc).__name__}: {exc}", record) from exc
            record[name] = {"expression": value, "value": _json_value(result)}
            value = result
        values[name] = value
    return values, record


def hyperpar(order: Sequence[Sequence[str]], parameters: Mapping[str, Any],
             values: Mapping[str, Any]) -> str:
    """phs's ``parameter['hyperpar']``: one ``name=literal`` line per parameter (an expression
    without a literal value is written as itself)."""
    lines = []
    for name, kind in order:
        literal = _literal(values[name])
        if literal is None and kind == "expr":
            literal = str(parameters.get(full_name(name)))
        lines.append(f"{name}={literal if literal is not None else repr(values[name])}")
    return "\n".join(lines)


def run(task: Task) -> float:
    """The entry point of a function-API trial (see the module docstring).

    Raises:
        ExpressionError: an expression raised.
        TypeError: the function returned something that is not a number.
    """
    parameters = task.get_parameters()
    target, order = parameters[TARGET], parameters[ORDER]
    try:
        values, record = resolve(order, parameters)
    except ExpressionError as exc:
        task.upload_artifact(EXPRESSIONS_ARTIFACT, exc.record)
        raise
    if record:
        task.upload_artifact(EXPRESSIONS_ARTIFACT, record)
    func = load_entry_point(target, task.record.get("working_dir") or None)
    folder: Any = False
    if parameters.get(WORKER_PATH, True):
        folder = task._task_dir("worker_out")
        folder.mkdir(parents=True, exist_ok=True)
        folder = str(folder)
    argument = {**values, "hyperpar": hyperpar(order, parameters, values),
                "worker_save_path": folder}
    result = func(argument) if _takes_an_argument(func) else func()
    try:
        value = codec.to_float(result, "value")
    except HpqError:
        raise TypeError(f"{target} returned {result!r}, not a number") from None
    task.get_logger().report_scalar(RESULT_TITLE, RESULT_SERIES, value=value, iteration=0)
    return value


def referenced_names(expression: str) -> set[str]:
    """The free names an expression reads (names bound inside it, by a comprehension or a
    lambda, left out).

    Raises:
        SyntaxError: ``expression`` is not a Python expression.
    """
    tree = ast.parse(expression, mode="eval")
    read: set[str] = set()
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return read - bound


def known_globals() -> set[str]:
    """The names an expression may use besides earlier parameters."""
    return set(EXPRESSION_GLOBALS) | set(dir(builtins))


def _takes_an_argument(func: Any) -> bool:
    try:
        return bool(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return True


def _literal(value: Any) -> str | None:
    """Python source that evaluates to ``value`` (None when there is none short)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, (list, tuple, dict)):
        text = repr(value)
        try:
            return text if ast.literal_eval(text) == value else None
        except (ValueError, SyntaxError):
            return None
    return None


def _json_value(value: Any) -> Any:
    """``value`` if JSON can hold it, else its ``repr``."""
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return repr(value)
    return value
