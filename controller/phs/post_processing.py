"""phs's ``PostProcessing``: PNG plots of an experiment's results in
``experiment_dir/post_processing/`` (with matplotlib: :mod:`controller.plots`)::

    post = PostProcessing(experiment_dir="/runs/griewank")
    post.result_evolution(name="evolution")
    post.plot_3d(name="xy", first="x", second="y", third="result", contour=True)
    post.create_worker_timeline(name="timeline")
    post.create_parameter_combination(name="combinations")

Unlike phs, ``plot_3d``'s animated GIFs are not made (``animated=True`` is refused), and the
plots read the live results from Redis (the experiment may still run).
"""

from __future__ import annotations

from pathlib import Path

from workers.store import Store, get_store

from .. import plots
from ..export import ResultsTable, results_table
from .experiment_definition import read_experiment


class PostProcessing:
    """Plots of one experiment (see the module docstring).

    Raises:
        ValueError: ``experiment_dir`` is not an experiment, or it has not started.
    """

    def __init__(self, experiment_dir: str | Path, *, store: Store | None = None) -> None:
        self.experiment_dir = Path(experiment_dir)
        opt_id = read_experiment(self.experiment_dir).get("optimizer_id")
        if not opt_id:
            raise ValueError(f"{experiment_dir} has not run yet (start it with "
                             "ComputeDefinition(...).start_execution())")
        self.optimizer_id = opt_id
        self.store = store
        self.out = self.experiment_dir / "post_processing"
        self.out.mkdir(exist_ok=True)

    def _table(self) -> ResultsTable:
        return results_table(self.store or get_store(), self.optimizer_id)

    def result_evolution(self, name: str) -> Path:
        return plots.result_evolution(self._table(), self.out / f"{name}.png")

    def plot_3d(self, name: str, first: str, second: str, third: str = "result",
                contour: bool = False, animated: bool = False, animated_step_size: int = 1,
                animated_fps: int = 2) -> Path:
        """``third`` over ``first`` and ``second``: a contour (``contour``) or a 3-D scatter.

        Raises:
            ValueError: ``third`` is not ``result``, ``animated``, or a parameter that is not
                numeric.
        """
        if third != "result":
            raise ValueError(f"plot_3d draws the result over two parameters: third must be "
                             f"'result', got {third!r}")
        if animated:
            raise ValueError("animated plots (GIF) are not supported")
        return plots.objective_surface(self._table(), self.out / f"{name}.png", first, second,
                                       contour=contour)

    def create_worker_timeline(self, name: str) -> Path:
        return plots.worker_timeline(self._table(), self.out / f"{name}.png")

    def create_parameter_combination(self, name: str) -> Path:
        return plots.parameter_combinations(self._table(), self.out / f"{name}.png")
