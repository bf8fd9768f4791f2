"""phs (ParallelHyperparameterSearch) on hpqueue: the function API and phs's classes.

A phs script ports by changing its imports: replace ``import phs.parameter_definition``,
``import phs.experiment_definition``, ``import phs.compute_definition`` and
``import phs.post_processing`` with ``from controller import phs``; the rest
(``phs.parameter_definition.ParameterDefinition()``, ...) runs as it is, on Celery workers.

* :func:`search` -- optimize a plain function ``f(parameter) -> float`` in one call;
* :class:`ParameterDefinition` -- parameter sets with a generator per parameter (explicit,
  random, random from a list, Bayesian), typed (``expr`` for expressions), in groups;
* :class:`ExperimentDefinition`, :class:`ComputeDefinition`, :class:`PostProcessing` -- phs's
  experiment folder, its (resumable) run and its plots.

The results table (``hpq export OPT_ID``), the HTML report (``hpq report OPT_ID``) and PNG plots
(``hpq plots OPT_ID``) work on any optimizer, these ones included.
"""

from . import compute_definition, experiment_definition, parameter_definition, post_processing
from .compute_definition import ComputeDefinition
from .experiment_definition import ExperimentDefinition
from .parameter_definition import ParameterDefinition, ParameterSets
from .post_processing import PostProcessing
from .search import search

__all__ = ["ComputeDefinition", "ExperimentDefinition", "ParameterDefinition", "ParameterSets",
           "PostProcessing", "compute_definition", "experiment_definition",
           "parameter_definition", "post_processing", "search"]
