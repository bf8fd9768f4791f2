"""``hpq worker``: become a Celery worker that runs trials."""

from __future__ import annotations

import os
import sys

import click

from workers.connection import mask_url
from workers.errors import GpuError
from workers.gpus import worker_options as gpu_worker_options
from workers.local import local_mode_url
from workers.procs import celery_worker_argv

from .base import Command, UsageError

#: Marks an argument for celery that click must not parse (see PassThrough).
_RAW = "--hpq-pass-through="


class PassThrough(Command):
    """A command whose unknown options and arguments go, in order, to another program.

    Click reads an unknown short-option cluster letter by letter, so ``-Psolo`` would set
    ``-l`` to ``o``. A single-dash argument whose first letter is not one of this command's
    short options is wrapped into an unknown long option before parsing, which click passes
    through whole, and unwrapped by :func:`unwrap`.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        short = {opt for p in self.params for opt in getattr(p, "opts", ())
                 if len(opt) == 2 and opt[0] == "-"} | set(ctx.help_option_names)
        wrapped = []
        for i, arg in enumerate(args):
            if arg == "--":
                wrapped += args[i:]
                break
            cluster = len(arg) > 2 and arg[0] == "-" and arg[1] != "-"
            wrapped.append(_RAW + arg if cluster and arg[:2] not in short else arg)
        return super().parse_args(ctx, wrapped)


def unwrap(args: tuple[str, ...]) -> list[str]:
    """The pass-through arguments as they were given."""
    return [a.removeprefix(_RAW) for a in args]


@click.command(cls=PassThrough, short_help="start a Celery worker that runs trials",
               context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("-Q", "--queues", default="default", show_default=True,
              help="comma-separated queues to consume")
@click.option("-c", "--concurrency", type=int, default=None,
              help="worker processes (default: celery's, the number of CPUs; with --gpus, "
              "the number of GPU slots)")
@click.option("-l", "--loglevel", default="info", show_default=True, help="celery log level")
@click.option("--gpus", default=None, metavar="IDS",
              help="GPUs to run trials on: 0,1,2,3 or auto (nvidia-smi -L); each pool process "
              "owns one slot of them for its life (CUDA_VISIBLE_DEVICES)")
@click.option("--gpus-per-trial", type=int, default=1, show_default=True, metavar="K",
              help="GPUs in a slot, i.e. per trial")
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(queues: str, concurrency: int | None, loglevel: str, gpus: str | None,
           gpus_per_trial: int, celery_args: tuple[str, ...]) -> int:
    """Replace this process with `celery -A workers.app worker` with hpqueue's defaults.

    Arguments not listed here (after `--` or not) go to celery as they are. The worker uses
    HPQ_REDIS_URL, or joins a running local-mode hpqueue process's Redis; its broker is
    HPQ_BROKER_URL if set (e.g. RabbitMQ).
    """
    url = os.environ.get("HPQ_REDIS_URL") or local_mode_url()
    if not url:
        raise UsageError(
            "set HPQ_REDIS_URL to the Redis the optimizer uses (e.g. redis://host:6379/0); "
            "no running local-mode hpqueue process was found to join")
    if not os.environ.get("HPQ_REDIS_URL"):
        print(f"hpq worker: joining the local-mode Redis at {mask_url(url)}; this worker loses "
              "its broker when the hpqueue process that owns it ends", file=sys.stderr)
    extra, env = unwrap(celery_args), {**os.environ, "HPQ_REDIS_URL": url}
    if gpus is not None:
        try:
            concurrency, gpu_env = gpu_worker_options(gpus, gpus_per_trial, concurrency, extra)
        except GpuError as exc:
            raise UsageError(str(exc)) from None
        env.update(gpu_env)
    elif gpus_per_trial != 1:
        raise UsageError("--gpus-per-trial needs --gpus")
    argv = celery_worker_argv(queues, concurrency=concurrency, loglevel=loglevel, extra=extra)
    _exec(argv, env)
    return 0


def _exec(argv: list[str], env: dict[str, str]) -> None:
    """``os.execve`` (a seam for tests)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, env)
