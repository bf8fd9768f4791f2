"""phs's quick start definition (docs/quick_start.md), shared by the phs tests."""

from __future__ import annotations

from controller.phs import ParameterDefinition


def quick_start(seed: int) -> ParameterDefinition:
    """20 sets with x random in [-5, 5] and y from a list, then 10 Bayesian sets."""
    pardef = ParameterDefinition(seed=seed)
    pardef.set_data_types_and_order([("x", float), ("y", float)])
    pardef.add_individual_parameter_set(
        number_of_sets=20,
        set={"x": {"type": "random", "bounds": [-5, 5], "distribution": "uniform",
                   "round_digits": 3},
             "y": {"type": "random_from_list", "lst": [1.2, 3.4, 5.4, 6.3]}},
        prevent_duplicate=True)
    pardef.add_individual_parameter_set(
        number_of_sets=10,
        set={"x": {"type": "bayesian", "bounds": [-5, 5], "round_digits": 3},
             "y": {"type": "bayesian", "bounds": [-5, 5], "round_digits": 3}})
    return pardef
