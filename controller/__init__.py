"""hpqueue's optimization layer: the ClearML-compatible HyperParameterOptimizer, parameter
ranges, search strategies and early-stopping policies.

    from controller import HyperParameterOptimizer, RandomSearch, UniformParameterRange
"""

from typing import TYPE_CHECKING

from .clearml_job import ClearmlJob
from .lazy import lazy_attributes
from .objective import MultiObjective, Objective
from .optimizer import HyperParameterOptimizer, LocalJob
from .parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    NormalParameter,
    Parameter,
    ParameterSet,
    PChoiceParameter,
    QUniformParameter,
    RandomSeed,
    SearchSpace,
    UniformIntegerParameterRange,
    UniformParameterRange,
)
from .stopping import FailureRate, MedianStopping, MetricThreshold, StoppingPolicy
from .strategies import (
    WAIT,
    ClearMLSearchStrategy,
    Decision,
    GridSearch,
    RandomSearch,
    SearchStrategy,
    Suggestion,
    Trial,
)

if TYPE_CHECKING:
    from .polyaxon import matrix_from_polyaxon, optimizer_from_polyaxon, parameters_from_polyaxon
    from .strategies import (
        ASHA,
        BayesianGP,
        Hyperband,
        Mapping,
        OptimizerBOHB,
        OptimizerOptuna,
        PBTServer,
        PopulationBasedTraining,
        parameters_from_csv,
    )

# imported on first use (a script's start-up imports only what it uses)
__getattr__ = lazy_attributes(__name__, {
    **{name: ".polyaxon" for name in ("matrix_from_polyaxon", "optimizer_from_polyaxon",
                                      "parameters_from_polyaxon")},
    **{name: ".strategies" for name in ("ASHA", "BayesianGP", "Hyperband", "Mapping",
                                        "OptimizerBOHB", "OptimizerOptuna", "PBTServer",
                                        "PopulationBasedTraining", "parameters_from_csv")},
})

__all__ = [
    "ASHA",
    "WAIT",
    "BayesianGP",
    "ClearMLSearchStrategy",
    "ClearmlJob",
    "Decision",
    "DiscreteParameterRange",
    "FailureRate",
    "GridSearch",
    "HyperParameterOptimizer",
    "Hyperband",
    "LocalJob",
    "LogUniformParameterRange",
    "Mapping",
    "MedianStopping",
    "MetricThreshold",
    "MultiObjective",
    "NormalParameter",
    "Objective",
    "OptimizerBOHB",
    "OptimizerOptuna",
    "PBTServer",
    "PChoiceParameter",
    "Parameter",
    "ParameterSet",
    "PopulationBasedTraining",
    "QUniformParameter",
    "RandomSearch",
    "RandomSeed",
    "SearchSpace",
    "SearchStrategy",
    "StoppingPolicy",
    "Suggestion",
    "Trial",
    "UniformIntegerParameterRange",
    "UniformParameterRange",
    "matrix_from_polyaxon",
    "optimizer_from_polyaxon",
    "parameters_from_csv",
    "parameters_from_polyaxon",
]

