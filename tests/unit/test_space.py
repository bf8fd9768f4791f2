"""The search-space transform (controller/space.py): every parameter class as the models see it.

Each class is checked on all the transform offers: its finite points, the unit cube and the vector
(round trips), the Optuna codec, PBT's perturbation and the axis hints; Polyaxon's distributions
have no dimension and every strategy says what it does with them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from controller import polyaxon
from controller.objective import Objective
from controller.parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    NormalParameter,
    Parameter,
    ParameterSet,
    PChoiceParameter,
    QUniformParameter,
    SearchSpace,
    UniformIntegerParameterRange,
    UniformParameterRange,
    register_parameter_class,
)
from controller.space import Combinations, Interval, Points, Scalar, SpaceEncoder
from controller.strategies.base import Suggestion
from controller.strategies.bayes_gp import BayesianGP
from controller.strategies.bohb import OptimizerBOHB
from controller.strategies.grid_random import RandomSearch
from controller.strategies.optuna_search import OptimizerOptuna
from controller.strategies.pbt import PopulationBasedTraining
from controller.summary import dimensions
from controller.testing import DirectLoop, Outcomes

LOSS = Objective("val", "loss", "min")

CONTINUOUS = {
    "uniform": UniformParameterRange("General/u", -1.0, 2.0),
    "log": LogUniformParameterRange("General/lr", -4, -1),
    "log_e": LogUniformParameterRange("General/e", -2, 1.5, base=math.e),
    "log_half": LogUniformParameterRange("General/inv", -1, 1, base=0.5),
}
FINITE = {
    "stepped": UniformParameterRange("General/step", 0.0, 1.0, step_size=0.1),
    "off_grid": UniformParameterRange("General/off", 0.0, 1.0, step_size=0.3),
    "integer": UniformIntegerParameterRange("General/n", 2, 8, step_size=2,
                                            include_max_value=False),
    "integer_off_grid": UniformIntegerParameterRange("General/m", 0, 10, step_size=3),
    "log_stepped": LogUniformParameterRange("General/wd", -3, 0, step_size=1),
    "choice": DiscreteParameterRange("General/opt", ["adam", "sgd", "rms"]),
    "numeric_choice": DiscreteParameterRange("General/bs", [64, 16, 32]),
    "mixed_choice": DiscreteParameterRange("General/mixed", [1, True, None, [1, 2], 1.5]),
}
COMBINATIONS = ParameterSet([{"Model/depth": 2, "Model/act": "relu"},
                             {"Model/depth": 4, "Model/act": "tanh"}])
NESTED = ParameterSet([{"General/o": "sgd", "General/mom": UniformParameterRange(
    "General/mom", 0.5, 0.99)}, {"General/o": "adam", "General/mom": 0.9}])
POLYAXON = {
    "pchoice": PChoiceParameter("General/pc", [["a", 0.2], ["b", 0.5], ["c", 0.3]]),
    "quniform": QUniformParameter("General/qu", 0, 10, 0.5),
    "qloguniform": QUniformParameter("General/ql", 0, 3, 1, log=True),
    "normal": NormalParameter("General/no", 0, 1, q=0.25),
    "lognormal": NormalParameter("General/ln", 0, 1, log=True),
}
SAMPLES = 200


def samples(parameter: Parameter, n: int = SAMPLES) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    return [parameter.get_value(rng) for _ in range(n)]


def scalar(parameter: Parameter) -> Scalar:
    dimension = parameter.dimension()
    assert isinstance(dimension, Scalar)
    return dimension


# ---------------------------------------------------------------------- finite points
@pytest.mark.parametrize("key", sorted(FINITE))
def test_finite_points_are_the_grid(key: str) -> None:
    parameter = FINITE[key]
    dimension = scalar(parameter)
    assert isinstance(dimension, Points) and dimension.finite and parameter.is_finite()
    assert dimension.points == [p[parameter.name] for p in parameter.to_list()]
    assert all(parameter.get_value(np.random.default_rng(i))[parameter.name] in dimension.points
               for i in range(50))


@pytest.mark.parametrize("key", sorted(CONTINUOUS))
def test_a_continuous_range_has_no_points(key: str) -> None:
    parameter = CONTINUOUS[key]
    dimension = scalar(parameter)
    assert isinstance(dimension, Interval)
    assert dimension.points is None and not dimension.finite and not parameter.is_finite()


def test_a_parameter_set_is_finite_when_what_it_nests_is() -> None:
    assert COMBINATIONS.is_finite() and isinstance(COMBINATIONS.dimension(), Combinations)
    assert COMBINATIONS.dimension().points == [  # type: ignore[union-attr]
        {"Model/depth": 2, "Model/act": "relu"}, {"Model/depth": 4, "Model/act": "tanh"}]
    assert NESTED.dimension() is None and not NESTED.is_finite()
    finite_nest = ParameterSet([{"General/o": "sgd", "General/mom": DiscreteParameterRange(
        "General/mom", [0.5, 0.9])}])
    assert finite_nest.dimension() is None and finite_nest.is_finite()
    assert SearchSpace([finite_nest, FINITE["integer"]]).is_finite()
    assert not SearchSpace([finite_nest, CONTINUOUS["log"]]).is_finite()


def test_a_huge_range_is_described_without_listing_it() -> None:
    dimension = UniformIntegerParameterRange("General/seed", 0, 2 ** 62).dimension()
    assert dimension.finite and dimension.categories is None and not dimension.log_scale
    assert dimension.width == 1 and dimension.vector_size == 0  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- the unit cube
@pytest.mark.parametrize("key", sorted(FINITE))
def test_unit_cube_round_trips_every_point(key: str) -> None:
    parameter = FINITE[key]
    dimension = scalar(parameter)
    for point in parameter.to_list():
        code = np.array(dimension.encode(point))
        assert len(code) == dimension.width and ((0 <= code) & (code <= 1)).all()
        assert dimension.decode(code) == point


def test_unit_cube_width_is_one_for_numbers_and_one_hot_for_choices() -> None:
    assert {k: scalar(p).width for k, p in FINITE.items()} == {
        "stepped": 1, "off_grid": 1, "integer": 1, "integer_off_grid": 1, "log_stepped": 1,
        "choice": 3, "numeric_choice": 1, "mixed_choice": 5}
    assert scalar(FINITE["choice"]).encode({"General/opt": "sgd"}) == [0.0, 1.0, 0.0]
    # a numeric choice is placed by value: 16 .. 64 over [0, 1]
    assert scalar(FINITE["numeric_choice"]).encode({"General/bs": 32}) == [pytest.approx(1 / 3)]


@pytest.mark.parametrize("key", sorted(CONTINUOUS))
def test_unit_cube_round_trips_continuous_values(key: str) -> None:
    parameter = CONTINUOUS[key]
    dimension = scalar(parameter)
    for value in samples(parameter):
        code = np.array(dimension.encode(value))
        assert ((0 <= code) & (code <= 1)).all()
        assert dimension.decode(code)[parameter.name] == pytest.approx(value[parameter.name],
                                                                       rel=1e-9)
    for corner in (0.0, 1.0, -0.5, 1.5):  # outside the cube: clipped to the range
        assert parameter.contains(dimension.decode(np.array([corner])))


def test_log_coordinates_are_exponents() -> None:
    dimension = scalar(CONTINUOUS["log"])
    assert dimension.encode({"General/lr": 1e-4}) == [pytest.approx(0.0)]
    assert dimension.encode({"General/lr": 1e-1}) == [pytest.approx(1.0)]
    assert dimension.decode(np.array([0.5]))["General/lr"] == pytest.approx(10 ** -2.5)


def test_space_encoder_round_trips_a_mixed_space() -> None:
    space = SearchSpace([*FINITE.values(), COMBINATIONS])
    encoder = SpaceEncoder(space)
    assert encoder.width == 1 + 1 + 1 + 1 + 1 + 3 + 1 + 5 + 2
    for i in range(0, space.grid_size(), 97):
        point = space.grid_point(i)
        assert encoder.decode(encoder.encode(point)) == point
    continuous = SearchSpace(list(CONTINUOUS.values()))
    for point in (continuous.sample(np.random.default_rng(i)) for i in range(20)):
        decoded = SpaceEncoder(continuous).decode(SpaceEncoder(continuous).encode(point))
        assert decoded == pytest.approx(point, rel=1e-9)


@pytest.mark.parametrize("parameter, name", [(NESTED, "ParameterSet"),
                                             *((p, type(p).__name__) for p in POLYAXON.values())])
def test_space_encoder_rejects_a_parameter_without_a_dimension(parameter: Parameter,
                                                               name: str) -> None:
    with pytest.raises(ValueError, match=f"{name}.*cannot be encoded in the unit cube"):
        SpaceEncoder(SearchSpace([parameter]))


# ---------------------------------------------------------------------- the vector
@pytest.mark.parametrize("key", sorted(FINITE))
def test_vector_round_trips_every_point(key: str) -> None:
    parameter = FINITE[key]
    dimension = scalar(parameter)
    for point in parameter.to_list():
        x = dimension.to_vector(point[parameter.name])
        if dimension.vector_size:  # a choice: its index
            assert x == int(x) and 0 <= x < dimension.vector_size
        else:
            assert 0 < x < 1
        assert dimension.from_vector(x) == point[parameter.name]


def test_vector_places_grid_points_by_rank_and_choices_by_index() -> None:
    integer = scalar(FINITE["integer"])  # 2, 4, 6
    assert [integer.to_vector(v) for v in (2, 4, 6)] == [1 / 6, 0.5, 5 / 6]
    assert (integer.from_vector(0.0), integer.from_vector(1.0)) == (2, 6)
    choice = scalar(FINITE["numeric_choice"])
    assert choice.vector_size == 3 and choice.to_vector(16) == 1.0 and choice.from_vector(2) == 32


@pytest.mark.parametrize("key", sorted(CONTINUOUS))
def test_vector_round_trips_continuous_values(key: str) -> None:
    parameter = CONTINUOUS[key]
    dimension = scalar(parameter)
    assert dimension.vector_size == 0
    for value in samples(parameter):
        x = dimension.to_vector(value[parameter.name])
        assert 0 <= x <= 1
        assert dimension.from_vector(x) == pytest.approx(value[parameter.name], rel=1e-9)
    assert parameter.contains({parameter.name: dimension.from_vector(0.0)})
    assert parameter.contains({parameter.name: dimension.from_vector(1.0)})


# ---------------------------------------------------------------------- Optuna
OPTUNA = {
    "uniform": ("continuous", FloatDistribution(-1.0, 2.0)),
    "log": ("continuous", FloatDistribution(1e-4, 0.1, log=True)),
    "log_half": ("continuous", FloatDistribution(0.5, 2.0, log=True)),
    "stepped": ("grid", FloatDistribution(0.0, 1.0, step=0.1)),
    "off_grid": ("choice", CategoricalDistribution([0.0, 0.3, 0.6, 0.9, 1.0])),
    "integer": ("grid", IntDistribution(2, 6, step=2)),
    "integer_off_grid": ("choice", CategoricalDistribution([0, 3, 6, 9, 10])),
    "log_stepped": ("choice", CategoricalDistribution([0.001, 0.01, 0.1, 1.0])),
    "choice": ("choice", CategoricalDistribution(["adam", "sgd", "rms"])),
    "mixed_choice": ("index", CategoricalDistribution([0, 1, 2, 3, 4])),
}


@pytest.mark.parametrize("key", sorted(OPTUNA))
def test_optuna_distributions(key: str) -> None:
    parameter = {**CONTINUOUS, **FINITE}[key]
    codec = scalar(parameter).optuna_codec()
    mode, distribution = OPTUNA[key]
    assert (codec.name, codec.mode, codec.distribution) == (parameter.name, mode, distribution)
    values = ([p[parameter.name] for p in parameter.to_list()] if parameter.is_finite()
              else [v[parameter.name] for v in samples(parameter)])
    for value in values:
        assert codec.decode(codec.encode(value)) == value
        assert distribution._contains(distribution.to_internal_repr(codec.encode(value)))


def test_optuna_codec_rejects_values_that_are_not_ours() -> None:
    grid = scalar(FINITE["stepped"]).optuna_codec()
    with pytest.raises(ValueError, match="not on General/step's grid"):
        grid.decode(0.25)
    with pytest.raises(ValueError, match="outside General/u's range"):
        scalar(CONTINUOUS["uniform"]).optuna_codec().decode(3.0)
    with pytest.raises(ValueError, match="not an index"):
        scalar(FINITE["mixed_choice"]).optuna_codec().decode(7)


def test_a_zero_width_range_is_one_optuna_point() -> None:
    codec = scalar(UniformParameterRange("General/c", 0.5, 0.5)).optuna_codec()
    assert codec.points == [0.5] and codec.mode == "continuous"


@pytest.mark.parametrize("parameter", [COMBINATIONS, NESTED, *POLYAXON.values()],
                         ids=lambda p: type(p).__name__)
def test_optuna_rejects_parameters_without_a_distribution(parameter: Parameter) -> None:
    dimension = parameter.dimension()
    assert dimension is None or dimension.optuna_codec() is None
    with pytest.raises(ValueError, match=f"OptimizerOptuna does not support "
                                         f"{type(parameter).__name__}"):
        OptimizerOptuna(hyper_parameters=[parameter], objective_metric=LOSS)


# ---------------------------------------------------------------------- PBT, axes
@pytest.mark.parametrize("key", sorted({**CONTINUOUS, **FINITE}))
@pytest.mark.parametrize("factor", [0.8, 1.2, 0.01, 100.0])
def test_perturb_stays_in_the_range(key: str, factor: float) -> None:
    parameter = {**CONTINUOUS, **FINITE}[key]
    dimension = scalar(parameter)
    for value in samples(parameter, 30):
        moved = dimension.perturb(value[parameter.name], factor)
        assert parameter.contains({parameter.name: moved}), (value, moved)


def test_perturb_moves_numbers_by_the_factor_and_choices_by_one() -> None:
    assert scalar(CONTINUOUS["uniform"]).perturb(1.0, 1.2) == pytest.approx(1.2)
    assert scalar(CONTINUOUS["uniform"]).perturb(1.9, 1.2) == 2.0
    assert scalar(FINITE["numeric_choice"]).perturb(32, 1.2) == 64  # nearest is 32 itself
    assert scalar(FINITE["numeric_choice"]).perturb(32, 0.5) == 16
    assert scalar(FINITE["choice"]).perturb("sgd", 1.2) == "rms"
    assert scalar(FINITE["choice"]).perturb("sgd", 0.8) == "adam"


def test_axis_hints() -> None:
    hints = {k: (p.dimension().log_scale, p.dimension().categories)  # type: ignore[union-attr]
             for k, p in {**CONTINUOUS, **FINITE}.items()}
    assert hints == {"uniform": (False, None), "log": (True, None), "log_e": (True, None),
                     "log_half": (True, None), "stepped": (False, None),
                     "off_grid": (False, None), "integer": (False, None),
                     "integer_off_grid": (False, None), "log_stepped": (True, None),
                     "choice": (False, ["adam", "sgd", "rms"]),
                     "numeric_choice": (False, [64, 16, 32]),
                     "mixed_choice": (False, [1, True, None, [1, 2], 1.5])}


def test_report_axes_come_from_the_saved_space() -> None:
    config = {"hyper_parameters": [
        *SearchSpace([CONTINUOUS["log"], FINITE["choice"], COMBINATIONS,
                      *POLYAXON.values()]).to_dicts(),
        {"type": "SomeoneElsesParameter", "name": "General/x"}]}
    dims = dimensions(config)
    assert sorted(dims) == ["General/lr", "General/opt"]
    assert dims["General/lr"].log_scale
    assert dims["General/opt"].categories == ["adam", "sgd", "rms"]


# ---------------------------------------------------------------------- Polyaxon's classes
@pytest.mark.parametrize("key", sorted(POLYAXON))
def test_polyaxon_distributions_have_no_dimension(key: str) -> None:
    parameter = POLYAXON[key]
    assert parameter.dimension() is None and not parameter.is_finite()
    with pytest.raises(ValueError, match="cannot be used with grid search"):
        parameter.to_list()
    assert all(parameter.contains(v) for v in samples(parameter))


def test_polyaxon_classes_live_in_parameters_and_stay_importable() -> None:
    assert polyaxon.PChoiceParameter is PChoiceParameter
    assert polyaxon.QUniformParameter is QUniformParameter
    assert polyaxon.NormalParameter is NormalParameter
    assert PChoiceParameter.__module__ == "controller.parameters"


def test_saved_spaces_load_as_before() -> None:
    space = SearchSpace([*CONTINUOUS.values(), *FINITE.values(), COMBINATIONS, NESTED,
                         *POLYAXON.values()])
    assert SearchSpace.from_dicts(space.to_dicts()).parameters == space.parameters
    saved = [{"type": "PChoiceParameter", "name": "General/pc", "values": [["a", 0.4], ["b", 0.6]]},
             {"type": "QUniformParameter", "name": "General/q", "low": 0.0, "high": 1.0, "q": 0.5,
              "log": False},
             {"type": "NormalParameter", "name": "General/n", "loc": 0.0, "scale": 1.0, "q": None,
              "log": True},
             {"type": "LogUniformParameterRange", "name": "General/lr", "min_value": -4.0,
              "max_value": -1.0, "step_size": None, "include_max": True, "base": 10.0}]
    loaded = SearchSpace.from_dicts(saved)
    assert loaded.to_dicts() == saved
    assert loaded.parameters[0] == PChoiceParameter("General/pc", [["a", 0.4], ["b", 0.6]])


def run_sequentially(strategy: Any, n: int) -> list[Suggestion]:
    """``n`` trials one after the other; the objective is ``(x - 0.3) ** 2``."""
    model = Outcomes(lambda job, rng: ("completed", (job.parameters["General/x"] - 0.3) ** 2),
                     iteration=1)
    loop = DirectLoop(strategy, model, slots=1, max_jobs=n, prefix="job").run()
    assert len(loop.records) == n, loop.log[-1]
    return loop.starts()


def test_strategies_sample_or_reject_polyaxon_distributions() -> None:
    params = [UniformParameterRange("General/x", 0.0, 1.0), *POLYAXON.values()]
    with pytest.raises(ValueError, match="PChoiceParameter 'General/pc' cannot be encoded"):
        BayesianGP(hyper_parameters=params, objective_metric=LOSS, num_initial_runs=2,
                   max_iterations=2)
    space = SearchSpace(params)
    bohb = OptimizerBOHB(hyper_parameters=params, objective_metric=LOSS, min_budget=1,
                         max_budget=9, resource="General/epochs", seed=0, random_fraction=0.0,
                         total_max_jobs=60)
    assert [d.name for d in bohb._modelled] == ["General/x"]
    modelled = [s for s in run_sequentially(bohb, 60) if s.meta.get("model_based")]
    assert modelled
    assert all(space.contains({k: v for k, v in s.parameters.items() if k != "General/epochs"})
               for s in modelled)
    random = RandomSearch(hyper_parameters=params, objective_metric=LOSS, seed=0)
    assert all(space.contains(s.parameters) for s in run_sequentially(random, 30))


def test_pbt_resamples_a_parameter_without_a_dimension() -> None:
    params = [UniformParameterRange("General/x", 0.0, 1.0), *POLYAXON.values(), NESTED]
    pbt = PopulationBasedTraining(hyper_parameters=params, objective_metric=LOSS,
                                  resource="General/epochs", perturbation_interval=1,
                                  max_resource=5, resample_probability=0.0, seed=0)
    space = SearchSpace(params)
    config = space.sample(np.random.default_rng(1))
    for _ in range(20):
        explored = pbt._explore(config)
        assert space.contains(explored)
        assert explored["General/x"] in (pytest.approx(config["General/x"] * 0.8),
                                         pytest.approx(min(config["General/x"] * 1.2, 1.0)))


# ---------------------------------------------------------------------- your own class
@register_parameter_class
class Bounded(Parameter):
    """A user's parameter class that tells the models what it is."""

    name: str

    def __init__(self, name: str) -> None:
        self.name = name

    def get_value(self, rng: np.random.Generator | None = None) -> dict[str, Any]:
        return {self.name: float((rng or np.random.default_rng()).uniform(0, 5))}

    def to_list(self) -> list[dict[str, Any]]:
        return [{self.name: v} for v in (0.0, 2.5, 5.0)]

    def contains(self, values: dict[str, Any]) -> bool:  # type: ignore[override]
        return 0 <= values.get(self.name, -1) <= 5

    def dimension(self) -> Interval:
        return Interval(self.name, 0.0, 5.0)


def test_a_parameter_class_of_your_own_is_modelled_through_its_dimension() -> None:
    strategy = OptimizerOptuna(hyper_parameters=[Bounded("General/b")], objective_metric=LOSS,
                               seed=0)
    assert strategy._codecs[0].distribution == FloatDistribution(0.0, 5.0)
    encoder = SpaceEncoder(SearchSpace([Bounded("General/b")]))
    assert encoder.decode(encoder.encode({"General/b": 1.25})) == {"General/b": 1.25}
    saved = SearchSpace([Bounded("General/b")]).to_dicts()
    assert saved == [{"type": "Bounded", "name": "General/b"}]
    assert dimensions({"hyper_parameters": saved})["General/b"].bounds == (0.0, 5.0)
