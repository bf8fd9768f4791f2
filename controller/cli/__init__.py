"""``hpq``: run workers and optimizations from the command line, and look at optimizers.

::

    hpq worker -Q default -c 4                      # a Celery worker (celery -A workers.app worker)
    hpq optimize --task-id BASE_ID \\
        --params-search '{"type": "UniformParameterRange", "name": "lr",
                          "min_value": 0.01, "max_value": 0.3}' \\
        --objective-metric-title validation --objective-metric-series loss \\
        --objective-metric-sign min --total-max-jobs 20
    hpq resume OPTIMIZER_ID                         # continue a stopped or killed optimization
    hpq top OPTIMIZER_ID -k 10                      # best jobs, from Redis
    hpq status [OPTIMIZER_ID]                       # workers and optimizers, or one optimizer
    hpq job JOB_ID                                  # one job: parameters, scalars, traceback
    hpq report OPTIMIZER_ID -o report.html          # one self-contained HTML page
    hpq export OPTIMIZER_ID --format csv            # the results table, one row per job
    hpq plots OPTIMIZER_ID -o plots/                # PNG plots (matplotlib)
    hpq run -f polyaxonfile.yaml [-f preset.yaml] [--eager]   # a Polyaxon operation
    hpq delete OPTIMIZER_ID [--force] [--yes]       # delete an optimizer and all it owns
    hpq gc --older-than 7d [--dry-run]              # delete old ended optimizations

``hpq optimize`` mirrors ClearML's ``clearml-param-search`` (same flags and defaults), except that
``--optimizer-class`` defaults to ``RandomSearch`` (ClearML: ``OptimizerOptuna``) and also takes
any strategy of :mod:`controller.strategies` or a ``module:Class`` path.

Every subcommand uses the process's store: ``HPQ_REDIS_URL``, or the local mode when it is unset.
Exit codes: 0 done, 1 the optimization or a command failed, 2 bad input (a one-line message on
stderr), 130 interrupted.

The commands are click commands, one module per group: :mod:`.worker`, :mod:`.optimize`
(``optimize``, ``resume``), :mod:`.run` (``run``, Polyaxon's operations), :mod:`.views`
(``top``, ``status``, ``job``, ``report``), :mod:`.export` (``export``, ``plots``),
:mod:`.retention` (``delete``, ``gc``); :mod:`.inputs`
turns flags into hpqueue objects and :mod:`.output` draws progress and tables with rich.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

from ..dashboard.cli import dashboard as dashboard_command
from . import export, optimize, retention, run, views, worker
from .base import INTERRUPTED


class _Group(click.Group):
    """Lists its commands in the order they were added (most used first), not sorted."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(name="hpq", cls=_Group, context_settings={"help_option_names": ["-h", "--help"],
                                           "max_content_width": 100})
def cli() -> None:
    """Run hpqueue workers and optimizations, and look at optimizers.

    Every command uses HPQ_REDIS_URL, or the local mode when it is unset.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


for _command in (worker.worker, optimize.optimize, optimize.resume, run.run, views.top,
                 views.status, views.job, views.report_page, export.export, export.plots,
                 retention.delete, retention.gc, dashboard_command):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hpq`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return int(cli.main(args=args, prog_name="hpq", standalone_mode=False) or 0)
    except click.ClickException as exc:  # a usage error: click printed nothing yet
        exc.show()
        return exc.exit_code
    except click.Abort:  # Ctrl-C outside a command
        print("hpq: interrupted", file=sys.stderr)
        return INTERRUPTED

