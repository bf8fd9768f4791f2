"""``hpq run -f FILE [-f OVERRIDE ...] [--eager]``: run a Polyaxon operation (a polyaxonfile)."""

from __future__ import annotations

import os

import click

from workers.errors import InvalidTaskError

from .base import Command, UsageError, message
from .optimize import RunOptions, run_and_report


@click.command(cls=Command, short_help="run a Polyaxon operation (polyaxonfile)")
@click.option("-f", "--file", "files", multiple=True, required=True, metavar="FILE",
              help="the polyaxonfile (YAML or JSON); more -f files are presets merged over it")
@click.option("--eager", is_flag=True,
              help="run the trials here, on local worker processes (at most one per CPU); "
              "without it, on the workers of HPQ_REDIS_URL (the local mode starts its own)")
@click.option("-p", "--project", default="polyaxon", show_default=True,
              help="project of the base task and the trials")
@click.option("--top-k", type=int, default=10, show_default=True, help="results to print")
def run(files: tuple[str, ...], eager: bool, project: str, top_k: int) -> int:
    """Run a Polyaxon operation: its component becomes the base task (inputs -> parameters of
    section General, container command + args -> the command) and its matrix the optimization
    (see controller/polyaxon/operation.py)."""
    from workers import get_store

    from ..polyaxon.operation import read_polyaxonfiles

    try:
        operation = read_polyaxonfiles(files)
        store = get_store()
        base = operation.create_base_task(project, store)
        opt = operation.optimizer(base.id, store=store, spawn_project=project)
    except (ValueError, InvalidTaskError) as exc:
        raise UsageError(message(exc)) from None
    workers = min(operation.concurrency or 1, os.cpu_count() or 1) if eager else None
    click.echo(f"hpq: {operation.name}: base task {base.id}, objective "
               f"{'/'.join(operation.objective[:2])} ({operation.objective[2]})", err=True)
    return run_and_report(opt, store, RunOptions(eager, workers, top_k))
