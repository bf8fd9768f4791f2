"""``hpq export`` and ``hpq plots``: an optimizer's results table, and its PNG plots.

::

    hpq export OPTIMIZER_ID                         # CSV on stdout (one row per job)
    hpq export OPTIMIZER_ID --format json -o results.json
    hpq plots OPTIMIZER_ID -o plots/ [--x lr --y dropout]

Both read what the optimizer saved, so they can be run again while it runs.
"""

from __future__ import annotations

import sys

import click

from .base import Command, UsageError, message


@click.command("export", cls=Command, short_help="an optimizer's results table (CSV or JSON)")
@click.argument("optimizer_id")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True, help="the table's format")
@click.option("-o", "--output", metavar="FILE", help="file to write (default: stdout)")
def export(optimizer_id: str, fmt: str, output: str | None) -> int:
    """Write one row per job: index, parameters, result, start, end, run time, worker, status
    (see controller.export)."""
    from workers import get_store

    from ..export import results_table

    try:
        table = results_table(get_store(), optimizer_id)
    except ValueError as exc:
        raise UsageError(message(exc)) from None
    if output is None:
        sys.stdout.write(table.to_csv() if fmt == "csv" else table.to_json() + "\n")
        return 0
    try:
        table.write(output, fmt)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from None
    print(f"wrote {output} ({len(table.rows)} jobs)", file=sys.stderr)
    return 0


@click.command("plots", cls=Command, short_help="PNG plots of an optimizer's results")
@click.argument("optimizer_id")
@click.option("-o", "--output", metavar="DIR", default=".", show_default=True,
              help="folder for the PNG files (created)")
@click.option("--x", "first", metavar="NAME", help="first parameter of the surface plots")
@click.option("--y", "second", metavar="NAME", help="second parameter of the surface plots")
def plots(optimizer_id: str, output: str, first: str | None, second: str | None) -> int:
    """Result evolution, worker timeline, parameter combinations and the objective over two
    parameters (contour and 3-D; default: the first two numeric parameters). Needs
    matplotlib."""
    from workers import get_store

    from .. import plots as png
    from ..export import results_table

    try:
        paths = png.write_plots(results_table(get_store(), optimizer_id), output, first, second)
    except (ValueError, RuntimeError) as exc:
        raise UsageError(message(exc)) from None
    for path in paths:
        print(f"wrote {path}")
    return 0
