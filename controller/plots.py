"""PNG plots of an optimizer's results table (phs's post-processing), with matplotlib:

* :func:`result_evolution` -- the objective of every job by its number, and the best so far
  (sets with GP-suggested parameters marked ``+``);
* :func:`objective_surface` -- the objective over two parameters: a 2-D contour of the results
  with the jobs on it, or a 3-D scatter;
* :func:`worker_timeline` -- one bar per job on its worker process's row (idle time shows as
  gaps);
* :func:`parameter_combinations` -- one line per job across the parameters (parallel
  coordinates), coloured by the objective.

matplotlib is optional (``pip install matplotlib``; the test extras have it): without it these
raise RuntimeError saying so. ``hpq plots OPT_ID -o DIR`` writes all four; the HTML report draws
the same charts as SVG without matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .export import ResultsTable

_STATUS_COLOURS = {"completed": "#3b6fb6", "stopped": "#999999", "failed": "#d9534f",
                   "in_progress": "#f0ad4e", "queued": "#dddddd"}


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend; RuntimeError if matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("PNG plots need matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def result_evolution(table: ResultsTable, path: str | Path) -> Path:
    plt = pyplot()
    maximize = table.objectives[0].maximize
    points = table.scored()
    fig, ax = plt.subplots(figsize=(9, 5))
    for bayes, marker, colour, label in ((False, "o", "#3b6fb6", "drawn"),
                                         (True, "+", "#d9534f", "GP-suggested")):
        mine = [(r.index, v) for r, v in points if bool(r.bayesian) == bayes]
        if mine:
            ax.scatter(*zip(*mine), marker=marker, color=colour, label=label)
    best: list[tuple[int, float]] = []
    for row, value in sorted(points, key=lambda p: p[0].index):
        if not best or (value > best[-1][1] if maximize else value < best[-1][1]):
            best.append((row.index, value))
    if best:
        xs, ys = zip(*best)
        ax.step([*xs, max(r.index for r, _ in points)], [*ys, ys[-1]], where="post",
                color="black", linewidth=1, label="best so far")
    ax.set(xlabel="job #", ylabel=table.result_columns[0], title="result evolution")
    ax.grid(True)
    ax.legend()
    return _save(plt, fig, path)


def objective_surface(table: ResultsTable, path: str | Path, first: str, second: str, *,
                      contour: bool = True) -> Path:
    """The objective over ``first`` and ``second`` (numeric parameters): a filled contour of the
    results (with at least three jobs not on one line) and the jobs on it; or, without
    ``contour``, a 3-D scatter.

    Raises:
        ValueError: ``first`` or ``second`` is not a numeric parameter of the table.
    """
    _check_numeric(table, first, second)
    plt = pyplot()
    points = table.scored()
    xs = [r.parameters[first] for r, _ in points]
    ys = [r.parameters[second] for r, _ in points]
    zs = [v for _, v in points]
    label = table.result_columns[0]
    if contour:
        fig, ax = plt.subplots(figsize=(7, 6))
        if len(set(zip(xs, ys))) >= 3 and len(set(xs)) > 1 and len(set(ys)) > 1:
            try:
                filled = ax.tricontourf(xs, ys, zs, levels=14, cmap="viridis")
                fig.colorbar(filled, ax=ax, label=label)
            except (ValueError, RuntimeError):  # all points on one line: no triangulation
                pass
        ax.scatter(xs, ys, c="white", edgecolors="black", s=25)
        ax.set(xlabel=first, ylabel=second, title=f"{label} over {first} and {second}")
    else:
        fig = plt.figure(figsize=(7, 6))
        ax = fig.add_subplot(projection="3d")
        ax.scatter(xs, ys, zs, c=zs, cmap="viridis")
        ax.set(xlabel=first, ylabel=second, zlabel=label)
    return _save(plt, fig, path)


def worker_timeline(table: ResultsTable, path: str | Path) -> Path:
    plt = pyplot()
    rows = [r for r in table.rows if r.start is not None]
    lanes = sorted({r.worker for r in rows}, key=lambda w: min(r.start or 0 for r in rows
                                                               if r.worker == w))
    origin = min((r.start for r in rows if r.start is not None), default=0.0)
    fig, ax = plt.subplots(figsize=(10, 1 + 0.4 * max(len(lanes), 1)))
    for row in rows:
        assert row.start is not None
        ax.barh(lanes.index(row.worker), row.run_time(table.read_at) or 0.0,
                left=row.start - origin, color=_STATUS_COLOURS.get(row.status, "#666666"),
                edgecolor="white")
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set(xlabel="seconds since the first start", title="worker timeline")
    return _save(plt, fig, path)


def parameter_combinations(table: ResultsTable, path: str | Path) -> Path:
    plt = pyplot()
    points = table.scored()
    axes = list(table.parameters)
    fig, ax = plt.subplots(figsize=(max(6, 2 * len(axes) + 2), 5))
    if points and axes:
        values = [v for _, v in points]
        lo, hi = min(values), max(values)
        cmap = plt.get_cmap("viridis_r" if table.objectives[0].maximize else "viridis")
        columns = [_unit_column([r.parameters.get(a) for r, _ in points]) for a in axes]
        for i, (_, value) in enumerate(points):
            ax.plot(range(len(axes)), [c[i] for c in columns],
                    color=cmap((value - lo) / ((hi - lo) or 1.0)), alpha=0.8)
        ax.set_xticks(range(len(axes)), axes)
        mappable = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(lo, hi))
        fig.colorbar(mappable, ax=ax, label=table.result_columns[0])
    ax.set(yticks=[], title="parameter combinations (each parameter scaled to its range)")
    return _save(plt, fig, path)


def write_plots(table: ResultsTable, directory: str | Path, first: str | None = None,
                second: str | None = None) -> list[Path]:
    """The four plots as PNG files in ``directory`` (created); the surface over ``first`` and
    ``second`` (default: the first two numeric parameters; left out with fewer than two)."""
    numeric = table.numeric_parameters()
    if first is None and second is None and len(numeric) >= 2:
        first, second = numeric[:2]
    if (first is None) != (second is None):
        raise ValueError("give both parameters of the surface plot (or neither)")
    _check_numeric(table, *(n for n in (first, second) if n is not None))
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    out = [result_evolution(table, folder / "result_evolution.png"),
           worker_timeline(table, folder / "worker_timeline.png"),
           parameter_combinations(table, folder / "parameter_combinations.png")]
    if first is not None and second is not None:
        out += [objective_surface(table, folder / f"contour_{first}_{second}.png", first,
                                  second),
                objective_surface(table, folder / f"scatter3d_{first}_{second}.png", first,
                                  second, contour=False)]
    return out


def _check_numeric(table: ResultsTable, *names: str) -> None:
    numeric = table.numeric_parameters()
    for name in names:
        if name not in numeric:
            raise ValueError(f"{name!r} is not a numeric parameter of optimizer "
                             f"{table.optimizer_id}; numeric parameters: {numeric}")


def _unit_column(values: Sequence[Any]) -> list[float]:
    """Numbers scaled to [0, 1]; other values spread evenly by their sorted text."""
    if all(_is_number(v) for v in values):
        lo, hi = min(values), max(values)
        return [(v - lo) / ((hi - lo) or 1.0) for v in values]
    labels = sorted({str(v) for v in values})
    return [labels.index(str(v)) / max(len(labels) - 1, 1) for v in values]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(
        value)


def _save(plt: Any, fig: Any, path: str | Path) -> Path:
    target = Path(path)
    fig.savefig(target, bbox_inches="tight", dpi=100)
    plt.close(fig)
    return target
