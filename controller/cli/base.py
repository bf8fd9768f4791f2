"""What every ``hpq`` command shares: bad-input errors, exit codes and multi-value options."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any

import click

from workers.errors import HpqError, TaskNotFoundError

#: Exit codes: the command did its work; it (or the optimization) failed; bad input;
#: interrupted (Ctrl-C).
OK, FAILED, BAD_INPUT, INTERRUPTED = 0, 1, 2, 130
#: What argparse takes for a negative number, which is a value and not an option.
_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


def message(exc: BaseException) -> str:
    """The first line of an exception's text (its class name if it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class MultiValue(click.Option):
    """An option that takes several values after one flag, as ``clearml-param-search`` does:
    ``--params-search A B`` is ``--params-search A --params-search B``.

    The values end at the next argument that starts with ``-`` (a negative number is a value).
    One value at least, unless ``allow_empty`` (then a bare flag gives no values). The
    parameter is a tuple, as for click's ``multiple=True``.
    """

    def __init__(self, *args: Any, allow_empty: bool = False, **kwargs: Any) -> None:
        kwargs["multiple"] = True
        super().__init__(*args, **kwargs)
        self.allow_empty = allow_empty


def expand_multi_values(args: Sequence[str], options: Sequence[MultiValue]) -> list[str]:
    """``args`` with the flag of a :class:`MultiValue` option repeated before each of its
    values after the first, and an ``allow_empty`` flag without values dropped."""
    flags = {flag: option for option in options for flag in option.opts}
    out: list[str] = []
    flag: str | None = None  # the multi-value flag whose values are being read
    count = 0

    def end_values() -> None:
        if flag is not None and count == 0 and flags[flag].allow_empty:
            out.pop()

    for i, arg in enumerate(args):
        if arg == "--":
            end_values()
            return out + list(args[i:])
        if arg.startswith("-") and len(arg) > 1 and not _NEGATIVE_NUMBER.match(arg):
            end_values()
            flag, count = (arg if arg in flags else None), 0
        elif flag is not None:
            if count:
                out.append(flag)
            count += 1
        out.append(arg)
    end_values()
    return out


class Command(click.Command):
    """An ``hpq`` subcommand: accepts :class:`MultiValue` options, and turns errors into one
    line on stderr and an exit code (the command's return value).

    :class:`UsageError` and an unknown task id give 2, any other hpqueue error 1, Ctrl-C 130.
    Click's own usage errors (a missing argument, an unknown option) also give 2.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        multi = [p for p in self.params if isinstance(p, MultiValue)]
        return super().parse_args(ctx, expand_multi_values(args, multi) if multi else args)

    def invoke(self, ctx: click.Context) -> int:
        try:
            return int(super().invoke(ctx) or OK)
        except (UsageError, TaskNotFoundError) as exc:
            self._error(message(exc))
            return BAD_INPUT
        except HpqError as exc:
            self._error(str(exc))
            return FAILED
        except KeyboardInterrupt:
            print("hpq: interrupted", file=sys.stderr)
            return INTERRUPTED

    def _error(self, text: str) -> None:
        print(f"hpq {self.name}: {text}", file=sys.stderr)
