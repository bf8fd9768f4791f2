"""Polyaxon's published assertions on its 16 param generators, restated against the V1Hp classes.

Source: polyaxon/cli ``tests/test_polyflow/test_workflows/test_matrix.py`` (v2.16.4). Polyaxon's
``to_numpy``, ``sample``, ``get_length``, ``get_min``, ``get_max`` (hypertune) are the methods
``to_numpy``, ``sample``, ``length``, ``min``, ``max``; pydantic's ``ValidationError`` is
:class:`controller.polyaxon.ValidationError`; ``orjson_dumps`` is compact JSON. Values the
optimizer draws come from the same classes (``to_parameter``), checked at the end.
"""

from __future__ import annotations

import contextlib
import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from controller.parameters import SearchSpace
from controller.polyaxon import (
    V1HpChoice,
    V1HpDateRange,
    V1HpDateTimeRange,
    V1HpGeomSpace,
    V1HpLinSpace,
    V1HpLogNormal,
    V1HpLogSpace,
    V1HpLogUniform,
    V1HpNormal,
    V1HpParam,
    V1HpPChoice,
    V1HpQLogNormal,
    V1HpQLogUniform,
    V1HpQNormal,
    V1HpQUniform,
    V1HpRange,
    V1HpUniform,
    ValidationError,
    parameters_from_polyaxon,
)


def dumps(data: dict[str, Any]) -> str:
    """orjson's compact output of a plain dict."""
    return json.dumps(data, separators=(",", ":"))


def flags(config: V1HpParam) -> dict[str, bool]:
    return {"categorical": config.is_categorical, "distribution": config.is_distribution,
            "range": config.is_range, "uniform": config.is_uniform,
            "discrete": config.is_discrete, "continuous": config.is_continuous}


DISCRETE = {"categorical": False, "distribution": False, "range": False, "uniform": False,
            "discrete": True, "continuous": False}
RANGE = {**DISCRETE, "range": True}
CONTINUOUS = {"categorical": False, "distribution": True, "range": False, "uniform": False,
              "discrete": False, "continuous": True}


# ====================================================================== choice, pchoice
def test_matrix_values_option() -> None:
    config_dict: dict[str, Any] = {"kind": "choice", "value": [1, 2, 3]}
    config = V1HpChoice.from_dict(config_dict)
    assert config.to_dict() == config_dict
    assert config.to_numpy() == config_dict["value"]
    assert config.sample() in [1, 2, 3]
    assert config.length() == 3
    assert flags(config) == DISCRETE
    assert (config.min(), config.max()) == (1, 3)

    config_dict["value"] = ["ok", "nook"]
    config = V1HpChoice.from_dict(config_dict)
    assert config.to_dict() == config_dict
    assert config.to_numpy() == config_dict["value"]
    assert config.sample() in ["ok", "nook"]
    assert config.length() == 2
    assert flags(config) == {**DISCRETE, "categorical": True}
    assert (config.min(), config.max()) == (None, None)

    config_dict["value"] = [[1, 2], [2, 4]]
    config = V1HpChoice.from_dict(config_dict)
    assert config.to_dict() == config_dict
    assert config.to_numpy() == config_dict["value"]
    assert config.sample() in [[1, 2], [2, 4]]
    assert config.length() == 2
    assert flags(config) == {**DISCRETE, "categorical": True}
    assert (config.min(), config.max()) == (None, None)

    config_dict["value"] = "foo"
    with pytest.raises(ValidationError):
        V1HpChoice.from_dict(config_dict)


@pytest.mark.parametrize("value", [
    [(1, 0.1), (2, 0.3), (3, 6)],
    [(1, 0.1), (2, 0.3), (3, 0.8)],  # sums to 1.2
    [(1, 0.1), (2, 0.3), (3, -0.6)],
    [(1, 0.1), (2, 0.3), (3, "a")],
    ["ok", "nook"],
])
def test_matrix_pchoice_option_refuses(value: Any) -> None:
    with pytest.raises(ValidationError):
        V1HpPChoice.from_dict({"kind": "pchoice", "value": value})


@pytest.mark.parametrize("value, outcomes", [
    ([(1, 0.1), (2, 0.1), (3, 0.8)], [1, 2, 3]),
    ([("a", 0.1), ("b", 0.1), ("c", 0.8)], ["a", "b", "c"]),
])
def test_matrix_pchoice_option(value: Any, outcomes: list[Any]) -> None:
    config_dict = {"kind": "pchoice", "value": value}
    config = V1HpPChoice.from_dict(config_dict)
    assert config.to_dict() == config_dict
    with pytest.raises(ValidationError):
        config.to_numpy()
    assert config.sample() in outcomes
    assert config.length() == 3
    assert flags(config) == {**DISCRETE, "distribution": True}
    assert (config.min(), config.max()) == (None, None)
    assert V1HpPChoice.from_dict(config_dict).to_dict() == config_dict


# ====================================================================== range and spaces
def check_range(config: V1HpParam, numpy: Any, values: dict[str, Any], v1: Any, v2: Any) -> None:
    """Polyaxon's ``assert_equal`` of range, linspace, geomspace and logspace."""
    assert config.to_dict()["value"] == values
    np.testing.assert_array_equal(config.to_numpy(), numpy(**values))
    assert config.length() == len(numpy(**values))
    assert config.sample() in numpy(**values)
    assert flags(config) == RANGE
    assert (config.min(), config.max()) == (v1, v2)


def test_matrix_range_option() -> None:
    def assert_equal(config: V1HpParam, v1: Any, v2: Any, v3: Any) -> None:
        check_range(config, np.arange, {"start": v1, "stop": v2, "step": v3}, v1, v2)

    with pytest.raises(ValidationError):
        V1HpRange.from_dict({"kind": "range", "value": ["1", "2", "b"]})
    config_dict: dict[str, Any] = {"kind": "range", "value": [1, 2, 3]}
    assert_equal(V1HpRange.from_dict(config_dict), *config_dict["value"])
    config_dict["value"] = "foobar"
    with pytest.raises(ValidationError):
        V1HpRange.from_dict(config_dict)
    config_dict["value"] = "0:10:1"
    assert_equal(V1HpRange.from_dict(config_dict), 0, 10, 1)
    config_dict["value"] = {"bar": 1, "foo": 2, "step": 3}
    with pytest.raises(ValidationError):
        V1HpRange.from_dict(config_dict)
    config_dict["value"] = {"start": 1.2, "stop": 1.8, "step": 0.1}
    config = V1HpRange.from_dict(config_dict)
    assert config.to_dict() == config_dict
    assert config.to_json() == dumps(config_dict)
    # numpy's values exactly (no rounding): np.arange(1.2, 1.8, 0.1) has 7 values, the last
    # one 1.7999999999999998
    assert config.json_values() == np.arange(1.2, 1.8, 0.1).tolist()
    assert len(config.json_values()) == 7


@pytest.mark.parametrize("cls, kind, numpy", [
    (V1HpLinSpace, "linspace", np.linspace),
    (V1HpGeomSpace, "geomspace", np.geomspace),
])
def test_matrix_linspace_and_geomspace_options(cls: type[V1HpParam], kind: str,
                                               numpy: Any) -> None:
    def assert_equal(config: V1HpParam, v1: Any, v2: Any, v3: Any) -> None:
        check_range(config, numpy, {"start": v1, "stop": v2, "num": int(v3)}, v1, v2)

    with pytest.raises(ValidationError):
        cls.from_dict({"kind": kind, "value": ["1", "2", "b"]})
    config_dict: dict[str, Any] = {"kind": kind, "value": [1, 2, 3]}
    assert_equal(cls.from_dict(config_dict), *config_dict["value"])
    config_dict["value"] = "foobar"
    with pytest.raises(ValidationError):
        cls.from_dict(config_dict)
    config_dict["value"] = "1:10:1"
    assert_equal(cls.from_dict(config_dict), 1, 10, 1)
    for bad in ({"start": 1.2, "stop": 1.8, "num": 0.1},  # num must be an int
                {"start": 1.2, "stop": 1.8, "step": 2},  # wrong keys
                {"start": 1.2, "stop": 1.8, "num": 1.2}):  # pydantic 2 refuses num 1.2
        config_dict["value"] = bad
        with pytest.raises(ValidationError):
            cls.from_dict(config_dict)
    config_dict["value"] = {"start": 1.2, "stop": 1.8, "num": 1}
    config = cls.from_dict(config_dict)
    assert config.to_dict() == config_dict
    assert_equal(config, *config_dict["value"].values())
    assert config.to_json() == dumps(config_dict)


def test_matrix_logspace_option() -> None:
    def assert_equal(config: V1HpParam, v1: Any, v2: Any, v3: Any, v4: Any = None) -> None:
        values = {"start": v1, "stop": v2, "num": int(v3)}
        if v4:
            values["base"] = v4
        check_range(config, np.logspace, values, v1, v2)

    with pytest.raises(ValidationError):
        V1HpLogSpace.from_dict({"kind": "logspace", "value": ["1", "2", "b"]})
    config_dict: dict[str, Any] = {"kind": "logspace", "value": [1, 2, 3]}
    assert_equal(V1HpLogSpace.from_dict(config_dict), *config_dict["value"])
    config_dict["value"] = [1, 2, 3, 2]
    assert_equal(V1HpLogSpace.from_dict(config_dict), *config_dict["value"])
    config_dict["value"] = "foobar"
    with pytest.raises(ValidationError):
        V1HpLogSpace.from_dict(config_dict)
    config_dict["value"] = "0:10:1"
    assert_equal(V1HpLogSpace.from_dict(config_dict), 0, 10, 1)
    config_dict["value"] = "0:10:1:2"
    assert_equal(V1HpLogSpace.from_dict(config_dict), 0, 10, 1, 2)
    for bad in ({"start": 1.2, "stop": 1.8, "num": 0.1}, {"start": 1.2, "stop": 1.8, "num": 1.2}):
        config_dict["value"] = bad
        with pytest.raises(ValidationError):
            V1HpLogSpace.from_dict(config_dict)
    for good in ({"start": 1.2, "stop": 1.8, "num": 1},
                 {"start": 1.2, "stop": 1.8, "num": 1, "base": 2}):
        config_dict["value"] = good
        config = V1HpLogSpace.from_dict(config_dict)
        assert_equal(config, *good.values())
        assert config.to_json() == dumps(config_dict)


def test_spaces_give_numpy_values_exactly() -> None:
    for config, expected in [
        (V1HpLinSpace(value=[0, 1, 11]), np.linspace(0, 1, 11)),
        (V1HpLogSpace(value=[-3, -1, 5]), np.logspace(-3, -1, 5)),
        (V1HpLogSpace(value="0:3:4:2"), np.logspace(0, 3, 4, base=2)),
        (V1HpGeomSpace(value=[0.001, 1, 4]), np.geomspace(0.001, 1, 4)),
        (V1HpRange(value=[0.1, 0.5, 0.1]), np.arange(0.1, 0.5, 0.1)),
        (V1HpRange(value=[1, 10, 2]), np.arange(1, 10, 2)),
    ]:
        assert config.json_values() == expected.tolist()  # bit for bit, no rounding
        parameter = config.to_parameter("General/p")
        assert [v["General/p"] for v in parameter.to_list()] == expected.tolist()
    assert V1HpLinSpace(value=[0, 1, 11]).json_values()[3] == 0.30000000000000004
    assert all(type(v) is int for v in V1HpRange(value=[1, 10, 2]).json_values())


# ====================================================================== dates
def test_matrix_date_range_option() -> None:
    def assert_equal(config: V1HpParam, v1: Any, v2: Any, v3: Any) -> None:
        v1, v2, v3 = (date.fromisoformat(v) if isinstance(v, str) else v for v in (v1, v2, v3))
        result = {"start": v1, "stop": v2, "step": int(v3)}
        assert (config.value.start, config.value.stop, config.value.step) == (v1, v2, int(v3))
        np.testing.assert_array_equal(config.to_numpy(), np.arange(**result))
        assert config.length() == len(np.arange(**result))
        assert config.sample() in np.arange(**result)
        assert flags(config) == RANGE
        assert (config.min(), config.max()) == (v1, v2)

    with pytest.raises(ValidationError):
        V1HpDateRange.from_dict({"kind": "daterange", "value": ["1", "2", "b"]})
    config_dict: dict[str, Any] = {"kind": "daterange", "value": ["2019-06-22", "2019-07-25", 1]}
    assert_equal(V1HpDateRange.from_dict(config_dict), *config_dict["value"])
    config_dict["value"] = {"bar": 1, "foo": 2, "step": 3}
    with pytest.raises(ValidationError):
        V1HpDateRange.from_dict(config_dict)
    config_dict["value"] = {"start": "2019-06-22", "stop": "2019-07-25", "step": 4}
    config = V1HpDateRange.from_dict(config_dict)
    assert_equal(config, *config_dict["value"].values())
    assert config.to_json() == dumps(config_dict)
    config_dict["value"] = {"start": "2019-06-22", "stop": "2019-07-25", "step": 4.0}
    config = V1HpDateRange.from_dict(config_dict)
    assert_equal(config, *config_dict["value"].values())
    assert config.to_json() != dumps(config_dict)
    config_dict["value"]["step"] = 4
    assert config.to_json() == dumps(config_dict)


def test_matrix_datetime_range_option() -> None:
    def assert_equal(config: V1HpParam, v1: Any, v2: Any, v3: Any) -> None:
        v1, v2 = (datetime.fromisoformat(v) if isinstance(v, str) else v for v in (v1, v2))
        result = {"start": v1, "stop": v2, "step": timedelta(seconds=v3)}
        assert (config.value.start, config.value.stop) == (v1, v2)
        assert config.value.step == timedelta(seconds=v3)
        with pytest.warns(UserWarning) if v1.tzinfo else contextlib.nullcontext():
            expected = np.arange(**result)
        np.testing.assert_array_equal(config.to_numpy(), expected)
        assert config.length() == len(expected)
        assert config.sample() in expected
        assert flags(config) == RANGE
        assert (config.min(), config.max()) == (v1, v2)

    with pytest.raises(ValidationError):
        V1HpDateTimeRange.from_dict({"kind": "datetimerange", "value": ["1", "2", "b"]})
    config_dict: dict[str, Any] = {"kind": "datetimerange",
                                   "value": ["2019-06-22 00:00", "2019-07-25 00:00", 3600]}
    assert_equal(V1HpDateTimeRange.from_dict(config_dict), *config_dict["value"])
    config_dict["value"] = {"bar": 1, "foo": 2, "step": 3}
    with pytest.raises(ValidationError):
        V1HpDateTimeRange.from_dict(config_dict)
    config_dict["value"] = {"start": "2019-06-22T12:12:00", "stop": "2019-07-25T13:34:00",
                            "step": 4 * 3600}
    config = V1HpDateTimeRange.from_dict(config_dict)
    assert_equal(config, *config_dict["value"].values())
    assert config.to_json() != dumps(config_dict)
    config_dict["value"] = {"start": "2019-06-22T12:12:00+00:00",
                            "stop": "2019-07-25T13:34:00+00:00", "step": 4.0 * 3600}
    config = V1HpDateTimeRange.from_dict(config_dict)
    assert_equal(config, *config_dict["value"].values())
    assert config.to_json() == dumps(config_dict)


class _no_warning:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_date_kinds_keep_time_zones_as_polyaxon_and_read_back_as_its_types() -> None:
    aware = V1HpDateTimeRange(value=["2019-06-22T12:00:00+02:00", "2019-06-22T15:00:00+02:00",
                                     3600])
    # the section keeps the zone; the values are numpy's: naive, in UTC
    assert aware.value.start.tzinfo == timezone(timedelta(hours=2))
    assert list(aware.to_numpy()) == [datetime(2019, 6, 22, 10), datetime(2019, 6, 22, 11),
                                      datetime(2019, 6, 22, 12)]
    # a trial's parameter is str(value); fromisoformat reads it back as Polyaxon's type
    assert aware.json_values() == ["2019-06-22 10:00:00", "2019-06-22 11:00:00",
                                   "2019-06-22 12:00:00"]
    assert [datetime.fromisoformat(v) for v in aware.json_values()] == list(aware.to_numpy())
    assert isinstance(aware.sample(np.random.default_rng(0)), datetime)
    days = V1HpDateRange(value=["2019-06-22", "2019-06-25", 1])
    assert days.json_values() == ["2019-06-22", "2019-06-23", "2019-06-24"]
    assert [date.fromisoformat(v) for v in days.json_values()] == list(days.to_numpy())
    assert type(days.sample(np.random.default_rng(0))) is date
    with pytest.raises(ValidationError, match="start and stop"):
        V1HpDateTimeRange(value=["2019-06-22T12:00:00+02:00", "2019-06-23 00:00", 60])


def test_grid_backfill_dates_as_pydantic_reads_them() -> None:
    # polyaxon/cli test_grid_search.py: pydantic 2 reads "2019-06-22 00:00" as a date, and a
    # date as a datetime at midnight
    config = V1HpDateRange(value=["2019-05-25", "2019-06-22 00:00", 2])
    assert (str(config.value.start), str(config.value.stop)) == ("2019-05-25", "2019-06-22")
    assert config.value.step == 2
    config2 = V1HpDateTimeRange(value=["2019-05-25", "2019-06-22 00:00:00", 3600 * 24])
    assert str(config2.value.start) != "2019-05-25"
    assert str(config2.value.stop) == "2019-06-22 00:00:00"
    assert config2.value.step.total_seconds() == 3600 * 24
    for bad in (V1HpDateRange, ["2019-07-25", "2019-06-22", 2]), (
            V1HpDateTimeRange, ["2019-07-25 00:00", "2019-06-22 00:00", 3600 * 24]):
        with pytest.raises(ValidationError):
            bad[0](value=bad[1])  # type: ignore[operator]


# ====================================================================== distributions
@pytest.mark.parametrize("cls, kind, keys, values, uniform", [
    (V1HpUniform, "uniform", ("low", "high"), (0, 1), True),
    (V1HpLogUniform, "loguniform", ("low", "high"), (0, 1), False),
    (V1HpNormal, "normal", ("loc", "scale"), (0, 1), False),
    (V1HpLogNormal, "lognormal", ("loc", "scale"), (0, 1), False),
    (V1HpQUniform, "quniform", ("low", "high", "q"), (0, 1, 0.1), False),
    (V1HpQLogUniform, "qloguniform", ("low", "high", "q"), (0, 1, 0.1), False),
    (V1HpQNormal, "qnormal", ("loc", "scale", "q"), (0, 1, 0.1), False),
    (V1HpQLogNormal, "qlognormal", ("loc", "scale", "q"), (0, 1, 0.1), False),
])
def test_matrix_distribution_options(cls: type[V1HpParam], kind: str, keys: tuple[str, ...],
                                     values: tuple[Any, ...], uniform: bool) -> None:
    def assert_equal(config: V1HpParam, *vs: Any) -> None:
        assert config.to_dict()["value"] == dict(zip(keys, vs))
        with pytest.raises(ValidationError):
            config.to_numpy()
        with pytest.raises(ValidationError):
            config.length()
        sampled = config.sample()
        assert isinstance(sampled, float)
        if uniform:
            assert vs[0] <= sampled <= vs[1]
            assert flags(config) == {**CONTINUOUS, "uniform": True}
            assert (config.min(), config.max()) == (vs[0], vs[1])
        else:
            assert flags(config) == CONTINUOUS
            assert (config.min(), config.max()) == (None, None)

    config_dict: dict[str, Any] = {"kind": kind, "value": list(values)}
    assert_equal(cls.from_dict(config_dict), *values)
    config_dict["value"] = ":".join(map(str, values))
    assert_equal(cls.from_dict(config_dict), *values)
    config_dict["value"] = "foobar"
    with pytest.raises(ValidationError):
        cls.from_dict(config_dict)
    config_dict["value"] = {"start": 1.2, keys[1]: 1.8, "num": 0.1}
    with pytest.raises(ValidationError):
        cls.from_dict(config_dict)
    config_dict["value"] = dict(zip(keys, values))  # ints where Polyaxon's fields are floats
    config = cls.from_dict(config_dict)
    assert config.to_dict() == config_dict
    assert config.to_json() != dumps(config_dict)
    config_dict["value"] = dict(zip(keys, (float(values[0]), float(values[1]), *values[2:])))
    config = cls.from_dict(config_dict)
    assert_equal(config, *config_dict["value"].values())
    assert config.to_json() == dumps(config_dict)


def test_matrix_uniform_refuses_a_third_non_number() -> None:
    with pytest.raises(ValidationError):
        V1HpUniform.from_dict({"kind": "uniform", "value": ["1", "2", "b"]})


def test_matrix_normal_with_other_numbers() -> None:
    for value, expected in (([66, 30], (66, 30)), ("66:30", (66, 30))):
        config = V1HpNormal.from_dict({"kind": "normal", "value": value})
        assert config.to_dict()["value"] == {"loc": expected[0], "scale": expected[1]}
    config = V1HpNormal.from_dict({"kind": "normal", "value": {"loc": 60, "scale": 30}})
    assert config.to_json() != dumps({"kind": "normal", "value": {"loc": 60, "scale": 30}})
    config = V1HpNormal.from_dict({"kind": "normal", "value": {"loc": 60.0, "scale": 30.0}})
    assert config.to_json() == dumps({"kind": "normal", "value": {"loc": 60.0, "scale": 30.0}})


# ====================================================================== what trials get
def test_the_optimizer_draws_from_the_same_values() -> None:
    params = {"c": {"kind": "choice", "value": [1, "a"]},
              "r": {"kind": "range", "value": [1.2, 1.8, 0.1]},
              "g": {"kind": "geomspace", "value": [1, 8, 4]},
              "d": {"kind": "daterange", "value": ["2019-06-22", "2019-06-25", 1]},
              "t": {"kind": "datetimerange", "value": ["2019-06-22 21:00", "2019-06-23", 3600]},
              "u": {"kind": "uniform", "value": [0.5, 2]}}
    space = SearchSpace(parameters_from_polyaxon(params))
    rng = np.random.default_rng(3)
    for _ in range(200):
        config = space.sample(rng)
        assert config["General/r"] in np.arange(1.2, 1.8, 0.1).tolist()
        assert config["General/g"] in np.geomspace(1, 8, 4).tolist()
        assert date.fromisoformat(config["General/d"]) in V1HpDateRange(
            value=params["d"]["value"]).to_numpy()
        assert datetime.fromisoformat(config["General/t"]).hour in (21, 22, 23)
        assert 0.5 <= config["General/u"] < 2
    with pytest.raises(ValidationError, match="General/r: range generates no values"):
        parameters_from_polyaxon({"r": {"kind": "range", "value": [1, 10, -1]}})
