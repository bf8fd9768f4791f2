"""Polyaxon's optimization, as it is: its ``matrix`` section, its Python ``V1*`` classes and its
polyaxonfiles.

* :mod:`.params` -- the 16 param generators (``V1HpChoice`` ... ``V1HpQLogNormal``) and
  :func:`parameters_from_polyaxon`;
* :mod:`.matrix` -- the matrix kinds (``V1Mapping``, ``V1GridSearch``, ``V1RandomSearch``,
  ``V1Hyperband``, ``V1Bayes``, ``V1Hyperopt``, ``V1Iterative``), :func:`matrix_from_polyaxon`
  and :func:`optimizer_from_polyaxon`;
* :mod:`.early_stopping` -- ``V1MetricEarlyStopping``, ``V1FailureEarlyStopping`` and the
  median, diff and truncation policies;
* :mod:`.optimization` -- ``V1Optimization``, ``V1OptimizationMetric``,
  ``V1OptimizationResource``;
* :mod:`.operation` -- polyaxonfiles (``kind: operation`` with a component), which
  ``hpq run -f`` runs.

A Polyaxon script ports by changing its imports::

    from controller.polyaxon import types
    from controller.polyaxon import (
        V1Hyperband, V1HpLogSpace, V1HpChoice, V1FailureEarlyStopping, V1MetricEarlyStopping,
        V1OptimizationMetric, V1Optimization, V1OptimizationResource, optimizer_from_polyaxon,
    )
    matrix = V1Hyperband(
        concurrency=20, max_iterations=81, eta=3,
        params={"lr": V1HpLogSpace(value="0.01:0.1:5"), "act": V1HpChoice(value=["relu", "tanh"])},
        resume=True,
        metric=V1OptimizationMetric(name="loss", optimization=V1Optimization.MINIMIZE),
        resource=V1OptimizationResource(name="num_steps", type=types.INT),
        early_stopping=[V1FailureEarlyStopping(percent=50),
                        V1MetricEarlyStopping(metric="loss", value=0.01,
                                              optimization=V1Optimization.MINIMIZE)])
    opt = optimizer_from_polyaxon(matrix, base_task.id, "loss", "loss")

Every dict form (camelCase or snake_case keys) is accepted where a ``V1*`` instance is, and
``V1*.from_dict``/``to_dict``/``to_json``/``read`` convert. Invalid input raises
:class:`ValidationError` (a ``ValueError``) naming the field or parameter.
"""

from ..parameters import NormalParameter, PChoiceParameter, QUniformParameter
from . import types
from .early_stopping import (
    V1DiffStoppingPolicy,
    V1FailureEarlyStopping,
    V1MedianStoppingPolicy,
    V1MetricEarlyStopping,
    V1TruncationStoppingPolicy,
    early_stopping_from_polyaxon,
)
from .matrix import (
    GaussianProcessConfig,
    PolyaxonMatrix,
    UtilityFunctionConfig,
    V1Bayes,
    V1GridSearch,
    V1Hyperband,
    V1Hyperopt,
    V1Iterative,
    V1Mapping,
    V1Matrix,
    V1RandomSearch,
    V1Tuner,
    matrix_from_polyaxon,
    optimizer_from_polyaxon,
    read_matrix,
)
from .optimization import V1Optimization, V1OptimizationMetric, V1OptimizationResource
from .params import (
    DISTRIBUTIONS,
    PolyaxonPChoice,
    PolyaxonRange,
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
    parameters_from_polyaxon,
)
from .schema import ValidationError

__all__ = [
    "DISTRIBUTIONS", "GaussianProcessConfig", "NormalParameter", "PChoiceParameter",
    "PolyaxonMatrix", "PolyaxonPChoice", "PolyaxonRange", "QUniformParameter", "UtilityFunctionConfig",
    "V1Bayes", "V1DiffStoppingPolicy", "V1FailureEarlyStopping", "V1GridSearch", "V1HpChoice",
    "V1HpDateRange", "V1HpDateTimeRange", "V1HpGeomSpace", "V1HpLinSpace", "V1HpLogNormal",
    "V1HpLogSpace", "V1HpLogUniform", "V1HpNormal", "V1HpPChoice", "V1HpParam", "V1HpQLogNormal",
    "V1HpQLogUniform", "V1HpQNormal", "V1HpQUniform", "V1HpRange", "V1HpUniform", "V1Hyperband",
    "V1Hyperopt", "V1Iterative", "V1Mapping", "V1Matrix", "V1MedianStoppingPolicy",
    "V1MetricEarlyStopping", "V1Optimization", "V1OptimizationMetric", "V1OptimizationResource",
    "V1RandomSearch", "V1TruncationStoppingPolicy", "V1Tuner", "ValidationError",
    "early_stopping_from_polyaxon", "matrix_from_polyaxon", "optimizer_from_polyaxon",
    "parameters_from_polyaxon", "read_matrix", "types",
]
