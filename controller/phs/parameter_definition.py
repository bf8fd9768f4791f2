"""phs's ``ParameterDefinition``: parameter sets, each parameter with its own generator.

Same calls as phs (``phs/parameter_definition.py``)::

    pardef = ParameterDefinition()
    pardef.set_data_types_and_order([("x", float), ("f", "expr"), ("s", str)])
    pardef.add_individual_parameter_set(
        number_of_sets=20,
        set={"x": {"type": "random", "bounds": [-5, 5], "distribution": "uniform",
                   "round_digits": 3},
             "f": {"type": "random_from_list", "lst": ["math.sin(x)", "math.cos(x)"]},
             "s": {"type": "explicit", "value": "adam"}},
        prevent_duplicate=True)
    pardef.add_individual_parameter_set(
        number_of_sets=10, set={"x": {"type": "bayesian", "bounds": [-5, 5]}, ...})

Generators (``type``): ``explicit`` (``value``), ``random`` (uniform in ``bounds``, rounded to
``round_digits``; an int when ``round_digits <= 0``), ``random_from_list`` (``lst``) and
``bayesian`` (``bounds``, optional ``round_digits``: suggested when the set runs, by a GP fitted
on every result so far, conditioned on the set's other values; see
:class:`controller.strategies.parameter_sets.ParameterSets`). Strategies mix freely within a set
and between groups of sets; groups run in the order they were added.

As in phs, the values of the non-Bayesian generators are drawn here, when the sets are added
(with this definition's ``seed``), and ``prevent_duplicate`` redraws a set equal to one defined
before it (a set with a Bayesian parameter is checked when it runs instead).

Data types: ``float``, ``int``, ``str``, ``bool`` and ``"expr"`` (a Python expression over the
parameters defined before it, ``math`` and the builtins, evaluated where the trial runs: see
:mod:`workers.function_trial`). The order of the types is the order of evaluation.

Bad input is refused when it is added, naming the parameter: an unknown type or key, a
Bayesian parameter without bounds (or on a text parameter), ``round_digits`` on a text
parameter, an expression naming a later or unknown parameter (or that is not a string), a set
that misses a parameter or names an unknown one.
"""

from __future__ import annotations

import json
import keyword
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workers.function_trial import TYPES, known_globals, referenced_names

from ..strategies.parameter_sets import round_value

GENERATORS: dict[str, set[str]] = {
    "explicit": {"value"},
    "random": {"bounds", "distribution", "round_digits"},
    "random_from_list": {"lst"},
    "bayesian": {"bounds", "round_digits"},
}
#: Keys of phs's ``parameter`` dict that a parameter may not be named.
RESERVED = ("hyperpar", "worker_save_path")
_MAX_REDRAWS = 1000
_FILE = "parameter_definitions.json"


@dataclass
class ParameterSets:
    """What :meth:`ParameterDefinition.get_parameter_definitions` returns: the parameters'
    ``types`` (``[(name, type), ...]`` in order) and the ``sets``, each
    ``{"group": g, "values": {name: value}, "bayesian": {name: {"bounds": [lo, hi],
    "round_digits": r}}, "prevent_duplicate": bool}`` (JSON, as the strategy takes them)."""

    types: list[tuple[str, str]]
    sets: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"types": self.types, "sets": self.sets}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> ParameterSets:
        data = json.loads(text)
        return cls([(n, t) for n, t in data["types"]], data["sets"])


def type_name(kind: Any, name: str = "") -> str:
    """``float``/``int``/``str``/``bool``/``expr`` of a Python type or its name.

    Raises:
        ValueError: another type (naming the parameter).
    """
    text = kind.__name__ if isinstance(kind, type) else kind
    if text not in TYPES:
        raise ValueError(f"parameter {name!r}: data type {kind!r} is not one of float, int, str, "
                         "bool or 'expr'")
    return str(text)


class ParameterDefinition:
    """phs's parameter definition (see the module docstring).

    Args:
        seed: seed of the random draws (phs's are unseeded: None draws a fresh one).
    """

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._types: list[tuple[str, str]] | None = None
        self._sets: list[dict[str, Any]] = []
        self._groups = 0

    # ------------------------------------------------------------------ types and order
    def set_data_types_and_order(self, parameter_data_types_and_order: Sequence[tuple[str, Any]]
                                 ) -> None:
        """The parameters as ``[(name, type), ...]``, in the order expressions see them.

        Raises:
            ValueError: a name that is not a Python identifier, is reserved or repeated, or an
                unknown type; or sets were already added.
        """
        if self._sets:
            raise ValueError("set the data types and order before adding parameter sets")
        types: list[tuple[str, str]] = []
        for entry in parameter_data_types_and_order:
            name, kind = entry
            if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
                raise ValueError(f"parameter name {name!r} must be a Python identifier")
            if name in RESERVED:
                raise ValueError(f"parameter name {name!r} is reserved (phs's parameter dict "
                                 "has it)")
            if name in (n for n, _ in types):
                raise ValueError(f"parameter {name!r} is defined twice")
            types.append((name, type_name(kind, name)))
        if not types:
            raise ValueError("define at least one parameter")
        self._types = types

    def set_data_types_and_order_listed(self, parameter_list: Sequence[str],
                                        datatype_list: Sequence[Any] = (),
                                        datatype_for_all: Any = None) -> None:
        """:meth:`set_data_types_and_order` from names and a type per name (or one for all)."""
        if datatype_list and datatype_for_all is not None:
            raise ValueError("give datatype_list or datatype_for_all, not both")
        if datatype_list and len(datatype_list) != len(parameter_list):
            raise ValueError(f"datatype_list has {len(datatype_list)} types for "
                             f"{len(parameter_list)} parameters")
        kinds = list(datatype_list) or [datatype_for_all] * len(parameter_list)
        self.set_data_types_and_order(list(zip(parameter_list, kinds)))

    # ------------------------------------------------------------------ sets
    def add_individual_parameter_set(self, number_of_sets: int = 1,
                                     set: Mapping[str, Mapping[str, Any]] | None = None,
                                     prevent_duplicate: bool = True) -> None:
        """Add a group of ``number_of_sets`` sets; ``set`` names each parameter's generator.

        Raises:
            ValueError: naming the parameter (see the module docstring); or ``prevent_duplicate``
                cannot find a new set in 1000 draws.
        """
        types = self._checked_types()
        spec = dict(set or {})
        unknown = sorted(spec.keys() - dict(types).keys())
        if unknown:
            raise ValueError(f"set names parameter(s) {unknown} that are not defined; defined: "
                             f"{[n for n, _ in types]}")
        missing = [n for n, _ in types if n not in spec]
        if missing:
            raise ValueError(f"set does not say how to generate parameter(s) {missing}")
        for position, (name, kind) in enumerate(types):
            _check_generator(name, kind, spec[name], [n for n, _ in types[:position]],
                             [n for n, _ in types[position + 1:]])
        if isinstance(number_of_sets, bool) or not isinstance(number_of_sets, int) or \
                number_of_sets < 1:
            raise ValueError(f"number_of_sets must be a positive integer, got {number_of_sets!r}")
        group = self._groups
        self._groups += 1
        for _ in range(number_of_sets):
            self._sets.append(self._draw(types, spec, group, bool(prevent_duplicate)))

    def add_listed_parameter_set(self, number_of_sets: int, parameter_list: Sequence[str],
                                 options: Mapping[str, Any], prevent_duplicate: bool = True
                                 ) -> None:
        """:meth:`add_individual_parameter_set` with one generator for every parameter of
        ``parameter_list``: ``options`` has ``type_for_all`` and ``bounds_for_all``,
        ``round_digits_for_all``, ``lst_for_all`` or ``value_for_all``."""
        if "type_for_all" not in options:
            raise ValueError("options needs 'type_for_all'")
        spec = {"type": options["type_for_all"]}
        for key, value in options.items():
            if key != "type_for_all":
                if not key.endswith("_for_all"):
                    raise ValueError(f"option {key!r} is not one of type_for_all, "
                                     "bounds_for_all, round_digits_for_all, lst_for_all, "
                                     "value_for_all")
                spec[key[:-len("_for_all")]] = value
        self.add_individual_parameter_set(number_of_sets, {n: spec for n in parameter_list},
                                          prevent_duplicate)

    # ------------------------------------------------------------------ results
    def get_parameter_definitions(self) -> ParameterSets:
        """The definitions, for :func:`controller.phs.search` or an ``ExperimentDefinition``.

        Raises:
            ValueError: no set was added.
        """
        types = self._checked_types()
        if not self._sets:
            raise ValueError("add at least one parameter set")
        return ParameterSets(list(types), [dict(s) for s in self._sets])

    def export_parameter_definitions(self, export_path: str | Path) -> None:
        """Save the definitions in a new folder ``export_path`` (``parameter_definitions_root_
        dir_in`` of an ``ExperimentDefinition`` reads it). Raises ValueError if it exists."""
        folder = Path(export_path)
        if folder.exists():
            raise ValueError(f"directory {folder} already exists. Please choose a different "
                             "experiment name.")
        definitions = self.get_parameter_definitions()
        folder.mkdir(parents=True)
        (folder / _FILE).write_text(definitions.to_json(), encoding="utf-8")

    # ------------------------------------------------------------------ drawing
    def _checked_types(self) -> list[tuple[str, str]]:
        if self._types is None:
            raise ValueError("call set_data_types_and_order first")
        return self._types

    def _draw(self, types: list[tuple[str, str]], spec: Mapping[str, Mapping[str, Any]],
              group: int, prevent_duplicate: bool) -> dict[str, Any]:
        bayesian = {n: {"bounds": [float(b) for b in spec[n]["bounds"]],
                        "round_digits": spec[n].get("round_digits")}
                    for n, _ in types if spec[n]["type"] == "bayesian"}
        for _ in range(_MAX_REDRAWS):
            values = {n: self._value(n, kind, spec[n]) for n, kind in types if n not in bayesian}
            if not prevent_duplicate or bayesian or all(
                    s["values"] != values or s["bayesian"] for s in self._sets):
                return {"group": group, "values": values, "bayesian": bayesian,
                        "prevent_duplicate": prevent_duplicate}
        raise ValueError(f"prevent_duplicate: no new set found in {_MAX_REDRAWS} draws (set "
                         f"{len(self._sets)}); the generators allow too few distinct sets")

    def _value(self, name: str, kind: str, spec: Mapping[str, Any]) -> Any:
        generator = spec["type"]
        if generator == "explicit":
            return _cast(spec["value"], kind, name)
        if generator == "random_from_list":
            return _cast(self._rng.choice(list(spec["lst"])), kind, name)
        low, high = spec["bounds"]
        value = low + self._rng.random() * (high - low)
        return _cast(round_value(value, spec.get("round_digits"), kind), kind, name)


def load_parameter_definitions(import_path: str | Path) -> ParameterSets:
    """Definitions saved by :meth:`ParameterDefinition.export_parameter_definitions`."""
    path = Path(import_path) / _FILE
    if not path.is_file():
        raise ValueError(f"{import_path} holds no exported parameter definitions ({_FILE})")
    return ParameterSets.from_json(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------- checks
def _check_generator(name: str, kind: str, spec: Any, earlier: list[str], later: list[str]
                     ) -> None:
    """ValueError naming ``name`` if ``spec`` cannot generate a value of type ``kind``."""
    if not isinstance(spec, Mapping) or spec.get("type") not in GENERATORS:
        raise ValueError(f"parameter {name!r}: 'type' must be one of {sorted(GENERATORS)}, got "
                         f"{spec.get('type') if isinstance(spec, Mapping) else spec!r}")
    generator = spec["type"]
    textual = kind in ("str", "expr", "bool")
    if spec.get("round_digits") is not None and textual:
        raise ValueError(f"parameter {name!r}: round_digits on a {kind} parameter")
    extra = sorted(set(spec) - GENERATORS[generator] - {"type"})
    if extra:
        raise ValueError(f"parameter {name!r}: {generator} does not take {extra} (it takes "
                         f"{sorted(GENERATORS[generator])})")
    digits = spec.get("round_digits")
    if digits is not None and (isinstance(digits, bool) or not isinstance(digits, int)):
        raise ValueError(f"parameter {name!r}: round_digits must be an integer, got "
                             f"{spec['round_digits']!r}")
    if generator in ("random", "bayesian"):
        if textual:
            raise ValueError(f"parameter {name!r}: a {generator} value cannot be a {kind}; use "
                             "explicit or random_from_list")
        _check_bounds(name, generator, spec.get("bounds"))
        if spec.get("distribution", "uniform") != "uniform":
            raise ValueError(f"parameter {name!r}: distribution {spec['distribution']!r} is not "
                             "supported (only 'uniform')")
    if generator == "random_from_list":
        choices = spec.get("lst")
        if isinstance(choices, (str, bytes)) or not isinstance(choices, Iterable) or \
                not list(choices):
            raise ValueError(f"parameter {name!r}: random_from_list needs a non-empty list 'lst'")
        candidates = list(choices)
    elif generator == "explicit":
        if "value" not in spec:
            raise ValueError(f"parameter {name!r}: explicit needs a 'value'")
        candidates = [spec["value"]]
    else:
        return
    for value in candidates:
        if kind == "expr":
            _check_expression(name, value, earlier, later)
        else:
            _cast(value, kind, name)


def _check_bounds(name: str, generator: str, bounds: Any) -> None:
    if bounds is None:
        raise ValueError(f"parameter {name!r}: {generator} needs bounds [low, high]")
    if isinstance(bounds, (str, bytes)) or not isinstance(bounds, Sequence) or len(bounds) != 2 \
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and
                       math.isfinite(b) for b in bounds):
        raise ValueError(f"parameter {name!r}: bounds must be [low, high] (two numbers), got "
                         f"{bounds!r}")
    if bounds[0] > bounds[1]:
        raise ValueError(f"parameter {name!r}: bounds low {bounds[0]} > high {bounds[1]}")


def _check_expression(name: str, expression: Any, earlier: list[str], later: list[str]) -> None:
    try:
        names = referenced_names(_cast(expression, "expr", name))
    except SyntaxError as exc:
        raise ValueError(f"parameter {name!r}: expression {expression!r} is not valid Python: "
                         f"{exc.msg}") from None
    for used in sorted(names):
        if used in earlier or used in known_globals():
            continue
        if used in later or used == name:
            raise ValueError(f"parameter {name!r}: expression {expression!r} refers to "
                             f"{used!r}, which is defined after it (order: "
                             f"{', '.join([*earlier, name, *later])})")
        raise ValueError(f"parameter {name!r}: expression {expression!r} refers to unknown name "
                         f"{used!r} (an expression may use the parameters defined before it, "
                         "math and Python's builtins)")


def _cast(value: Any, kind: str, name: str) -> Any:
    """``value`` as ``kind`` (an expression stays its text); ValueError naming ``name``."""
    try:
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError
            return float(value)
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not float(value).is_integer():
                raise TypeError
            return int(value)
        if kind == "bool":
            if not isinstance(value, bool):
                raise TypeError
            return value
        if kind in ("str", "expr"):
            if not isinstance(value, str):
                raise TypeError
            return value
    except TypeError:
        what = "a string of Python" if kind == "expr" else f"a {kind}"
        raise ValueError(f"parameter {name!r}: {value!r} is not {what}") from None
    raise ValueError(f"parameter {name!r}: unknown type {kind!r}")
