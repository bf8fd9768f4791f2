"""phs's quick start (its docs/quick_start.md), ported by changing its imports: the three
``import phs.xxx`` lines became ``from controller import phs``.

20 random sets (x random in [-5, 5], y from a list), then 10 Bayesian sets that learn from all
earlier results, of the Griewank function in ``examples/phs_functions.py``; then a second
experiment with typed parameters, an expression among them. The experiments are written under
a new temporary folder; each result is appended to ``results/result_frame.csv`` as it arrives,
and the post-processing plots land in ``post_processing/``.

Runs as it is (local mode without ``HPQ_REDIS_URL``: two local worker processes). Run it again
on the same experiment folder and it continues with the sets that have not run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from controller import phs  # was: import phs.parameter_definition, ...

HERE = Path(__file__).resolve().parent


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="phs-quickstart-"))

    # 2. Define your search strategy
    pardef = phs.parameter_definition.ParameterDefinition()
    pardef.set_data_types_and_order([('x', float), ('y', float)])
    pardef.add_individual_parameter_set(
        number_of_sets=20,
        set={'x': {'type': 'random', 'bounds': [-5, 5], 'distribution': 'uniform',
                   'round_digits': 3},
             'y': {'type': 'random_from_list', 'lst': [1.2, 3.4, 5.4, 6.3]}},
        prevent_duplicate=True)
    pardef.add_individual_parameter_set(
        number_of_sets=10,
        set={'x': {'type': 'bayesian', 'bounds': [-5, 5], 'round_digits': 3},
             'y': {'type': 'bayesian', 'bounds': [-5, 5], 'round_digits': 3}})

    # 3. Setup your experiment
    phs.experiment_definition.ExperimentDefinition(
        experiment_dir=str(root / "griewank"),
        target_module_root_dir=str(HERE),
        target_module_name='phs_functions',
        target_function_name='test_griewank',
        parameter_definitions=pardef.get_parameter_definitions())

    # 4. Setup your computation
    compdef = phs.compute_definition.ComputeDefinition(
        experiment_dir=str(root / "griewank"),
        parallelization='local_processes',
        local_processes_num_workers=2)
    compdef.start_execution()

    # 5. Post process the results
    post_pro = phs.post_processing.PostProcessing(experiment_dir=str(root / "griewank"))
    post_pro.plot_3d(name='plot_xyr_post', first='x', second='y', third='result', contour=True)
    post_pro.result_evolution(name='evo_post')
    post_pro.create_worker_timeline(name='worker_timeline_post')
    post_pro.create_parameter_combination(name='parameter_combination_post')

    # phs's examples/data_types_and_order.py: an expression over x, evaluated on the worker
    pardef = phs.parameter_definition.ParameterDefinition()
    pardef.set_data_types_and_order([('x', float), ('f', 'expr'), ('iterations', int),
                                     ('s', str)])
    pardef.add_individual_parameter_set(
        number_of_sets=3,
        set={'x': {'type': 'random', 'bounds': [-5, 5], 'distribution': 'uniform',
                   'round_digits': 3},
             'f': {'type': 'random_from_list', 'lst': ['math.sin(x)', 'math.cos(x)',
                                                      'math.tan(x)']},
             'iterations': {'type': 'random', 'bounds': [1, 7], 'distribution': 'uniform',
                            'round_digits': 0},
             's': {'type': 'random_from_list', 'lst': ['string1', 'string2', 'string3']}},
        prevent_duplicate=True)
    phs.experiment_definition.ExperimentDefinition(
        experiment_dir=str(root / "types"), target_module_root_dir=str(HERE),
        target_module_name='phs_functions', target_function_name='data_types_and_order_func',
        parameter_definitions=pardef.get_parameter_definitions())
    phs.compute_definition.ComputeDefinition(
        experiment_dir=str(root / "types"), parallelization='local_processes',
        local_processes_num_workers=1, redirect_stdout=True).start_execution()

    for name in ("griewank", "types"):
        print(f"\n{root / name / 'results' / 'result_frame.csv'}:")
        print((root / name / "results" / "result_frame.csv").read_text())
    print(f"plots: {sorted(p.name for p in (root / 'griewank' / 'post_processing').iterdir())}")


if __name__ == "__main__":
    main()
