"""phs's ParameterDefinition (generators, types, groups, prevent_duplicate, the bad input the
issue lists) and the worker side of the function API (expressions, phs's hyperpar string)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from controller.phs import ParameterDefinition
from controller.phs.parameter_definition import load_parameter_definitions
from tests.phs_definitions import quick_start
from workers.function_trial import (
    ExpressionError,
    hyperpar,
    referenced_names,
    resolve,
)

XY = [("x", float), ("y", float)]


def definition(types: list[tuple[str, Any]] = XY, seed: int = 1) -> ParameterDefinition:
    pardef = ParameterDefinition(seed=seed)
    pardef.set_data_types_and_order(types)
    return pardef


def test_the_quick_start_groups_random_then_bayesian() -> None:
    pardef = quick_start(1)
    sets = pardef.get_parameter_definitions()
    assert sets.types == [("x", "float"), ("y", "float")]
    assert [s["group"] for s in sets.sets] == [0] * 20 + [1] * 10
    for s in sets.sets[:20]:
        assert -5 <= s["values"]["x"] <= 5 and round(s["values"]["x"], 3) == s["values"]["x"]
        assert s["values"]["y"] in (1.2, 3.4, 5.4, 6.3) and not s["bayesian"]
    assert len({tuple(s["values"].items()) for s in sets.sets[:20]}) == 20
    assert sets.sets[20] == {"group": 1, "values": {}, "prevent_duplicate": True, "bayesian": {
        "x": {"bounds": [-5.0, 5.0], "round_digits": 3},
        "y": {"bounds": [-5.0, 5.0], "round_digits": 3}}}


def test_types_rounding_and_explicit_values() -> None:
    pardef = definition([("n", int), ("r", float), ("s", str), ("b", bool)])
    pardef.add_individual_parameter_set(number_of_sets=30, set={
        "n": {"type": "random", "bounds": [1, 7], "round_digits": 0},
        "r": {"type": "random", "bounds": [0, 1], "round_digits": 0},
        "s": {"type": "random_from_list", "lst": ["a", "b"]},
        "b": {"type": "explicit", "value": True}}, prevent_duplicate=False)
    for s in pardef.get_parameter_definitions().sets:
        values = s["values"]
        assert isinstance(values["n"], int) and 1 <= values["n"] <= 7
        assert values["r"] in (0.0, 1.0) and isinstance(values["r"], float)
        assert values["s"] in ("a", "b") and values["b"] is True


def test_prevent_duplicate_draws_distinct_sets_or_says_it_cannot() -> None:
    pardef = definition([("y", float), ("z", int)])
    spec = {"y": {"type": "random_from_list", "lst": [1.2, 3.4, 5.4, 6.3]},
            "z": {"type": "explicit", "value": 3}}
    pardef.add_individual_parameter_set(number_of_sets=4, set=spec, prevent_duplicate=True)
    assert sorted(s["values"]["y"] for s in pardef.get_parameter_definitions().sets) == [
        1.2, 3.4, 5.4, 6.3]
    with pytest.raises(ValueError, match="prevent_duplicate: no new set found"):
        pardef.add_individual_parameter_set(number_of_sets=1, set=spec)
    pardef.add_individual_parameter_set(number_of_sets=3, set=spec, prevent_duplicate=False)


def test_listed_sets_and_listed_types() -> None:
    pardef = ParameterDefinition(seed=2)
    pardef.set_data_types_and_order_listed(["x1", "x2", "x3"], datatype_for_all=float)
    pardef.add_listed_parameter_set(number_of_sets=5, parameter_list=["x1", "x2", "x3"],
                                    options={"type_for_all": "random", "bounds_for_all": [1, 34],
                                             "round_digits_for_all": 2})
    sets = pardef.get_parameter_definitions().sets
    assert len(sets) == 5 and all(1 <= v <= 34 for s in sets for v in s["values"].values())


@pytest.mark.parametrize("types, spec, match", [
    (XY, {"x": {"type": "bayesian"}, "y": {"type": "explicit", "value": 1.0}},
     "parameter 'x': bayesian needs bounds"),
    ([("s", str)], {"s": {"type": "random_from_list", "lst": ["a"], "round_digits": 2}},
     "parameter 's': round_digits on a str parameter"),
    ([("s", str)], {"s": {"type": "bayesian", "bounds": [0, 1]}},
     "parameter 's': a bayesian value cannot be a str"),
    ([("x", float), ("f", "expr")], {"x": {"type": "explicit", "value": 1.0},
                                     "f": {"type": "explicit", "value": "math.sin(q)"}},
     "parameter 'f': expression 'math.sin\\(q\\)' refers to unknown name 'q'"),
    ([("f", "expr"), ("x", float)], {"x": {"type": "explicit", "value": 1.0},
                                     "f": {"type": "random_from_list", "lst": ["x * 2"]}},
     "parameter 'f': expression 'x \\* 2' refers to 'x', which is defined after it"),
    ([("f", "expr")], {"f": {"type": "explicit", "value": "1 +"}},
     "parameter 'f': expression '1 \\+' is not valid Python"),
    ([("f", "expr")], {"f": {"type": "random", "bounds": [0, 1]}},
     "parameter 'f': a random value cannot be a expr"),
    (XY, {"x": {"type": "random", "bounds": [0, 1]}}, "does not say how to generate .*'y'"),
    (XY, {"x": {"type": "explicit", "value": 1.0}, "y": {"type": "explicit", "value": 1.0},
          "z": {"type": "explicit", "value": 1}}, "names parameter\\(s\\) \\['z'\\]"),
    (XY, {"x": {"type": "gaussian"}, "y": {"type": "explicit", "value": 1.0}},
     "parameter 'x': 'type' must be one of"),
    (XY, {"x": {"type": "random", "bounds": [5, 1]}, "y": {"type": "explicit", "value": 1.0}},
     "parameter 'x': bounds low 5 > high 1"),
    (XY, {"x": {"type": "random", "bounds": [0, 1], "distribution": "normal"},
          "y": {"type": "explicit", "value": 1.0}}, "distribution 'normal' is not supported"),
    (XY, {"x": {"type": "explicit", "value": "one"}, "y": {"type": "explicit", "value": 1.0}},
     "parameter 'x': 'one' is not a float"),
    (XY, {"x": {"type": "random_from_list", "lst": []},
          "y": {"type": "explicit", "value": 1.0}}, "non-empty list"),
])
def test_bad_input_names_the_parameter(types: list[tuple[str, Any]], spec: dict[str, Any],
                                       match: str) -> None:
    with pytest.raises(ValueError, match=match):
        definition(types).add_individual_parameter_set(set=spec)


def test_bad_types_and_order() -> None:
    with pytest.raises(ValueError, match="data type <class 'complex'>"):
        definition([("x", complex)])
    with pytest.raises(ValueError, match="'hyperpar' is reserved"):
        definition([("hyperpar", float)])
    with pytest.raises(ValueError, match="Python identifier"):
        definition([("learning rate", float)])
    with pytest.raises(ValueError, match="call set_data_types_and_order first"):
        ParameterDefinition().add_individual_parameter_set(set={})


def test_export_and_load(tmp_path: Path) -> None:
    pardef = definition()
    pardef.add_individual_parameter_set(number_of_sets=3, set={
        "x": {"type": "random", "bounds": [0, 1]}, "y": {"type": "bayesian", "bounds": [0, 2]}})
    pardef.export_parameter_definitions(tmp_path / "defs")
    assert load_parameter_definitions(tmp_path / "defs") == pardef.get_parameter_definitions()
    with pytest.raises(ValueError, match="already exists"):
        pardef.export_parameter_definitions(tmp_path / "defs")


# ---------------------------------------------------------------------- the worker's side
ORDER = [["x", "float"], ["f", "expr"], ["iterations", "int"], ["s", "str"]]


def test_expressions_see_earlier_parameters_and_hyperpar_replays_the_set() -> None:
    parameters = {"General/x": 2.564, "General/f": "math.tan(x)", "General/iterations": 3,
                  "General/s": "string2"}
    values, record = resolve(ORDER, parameters)
    assert values["f"] == pytest.approx(math.tan(2.564))
    assert record == {"f": {"expression": "math.tan(x)", "value": values["f"]}}
    text = hyperpar(ORDER, parameters, values)
    assert text.splitlines()[0] == "x=2.564" and text.splitlines()[3] == "s='string2'"
    namespace: dict[str, Any] = {}
    exec(text, namespace)  # noqa: S102 - what a phs target does
    assert {k: namespace[k] for k in values} == values


def test_an_expression_without_a_literal_value_is_replayed_as_itself() -> None:
    parameters = {"General/x": 1.0, "General/f": "math.sin", "General/iterations": 1,
                  "General/s": "a"}
    values, record = resolve(ORDER, parameters)
    assert values["f"] is math.sin and record["f"]["value"] == repr(math.sin)
    assert "f=math.sin" in hyperpar(ORDER, parameters, values).splitlines()


def test_a_raising_expression_names_itself_and_the_error() -> None:
    parameters = {"General/x": 0.0, "General/f": "1 / x", "General/iterations": 1,
                  "General/s": "a"}
    with pytest.raises(ExpressionError) as caught:
        resolve(ORDER, parameters)
    assert str(caught.value) == ("expression f = '1 / x' failed: ZeroDivisionError: float "
                                 "division by zero")
    assert caught.value.record == {"f": {"expression": "1 / x",
                                         "error": "ZeroDivisionError: float division by zero"}}


def test_referenced_names_leave_out_what_the_expression_binds() -> None:
    assert referenced_names("sum(i * x for i in range(n)) + (lambda k: k)(y)") == {
        "sum", "range", "n", "x", "y"}
