"""Shared pieces of the command line: the ``main`` group, error mapping, progress, JSON output.

Exit codes: 0 success; 1 a package or file failed validation or fixity; 2 a user mistake
(bad path, bad option, invalid description); 3 an unexpected internal error.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from .. import __version__
from ..errors import (
    DescriptionError,
    FondsRecordError,
    InvalidPackageError,
    OaisPreserveError,
    Problem,
    UserInputError,
)

EXIT_INVALID = 1
EXIT_USER = 2
EXIT_INTERNAL = 3

workers_option = click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: one per core; 1 = no subprocesses).",
)
scheduler_option = click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Run the work on this Dask scheduler's workers (they must see the same paths).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON result for machines.")


class Progress:
    """Adapts the library's (stage, done, total) callback to a click progress bar on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.stage = ""
        self.done = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None or stage != self.stage:
            self.close()
            self.bar = click.progressbar(
                length=total, label=stage, file=sys.stderr, show_eta=True, show_pos=True
            ).__enter__()
            self.stage, self.done = stage, 0
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def fail(code: int, message: str) -> NoReturn:
    click.echo(f"oais-preserve: {message}", err=True)
    sys.exit(code)


def problem_lines(problems: list[Problem], limit: int = 50) -> Iterator[str]:
    for problem in problems[:limit]:
        yield f"  - {problem}"
    if len(problems) > limit:
        yield f"  … and {len(problems) - limit} more (use --json for all)"


@contextmanager
def handle_errors(as_json: bool) -> Iterator[None]:
    """Turn library errors into one-line messages and exit codes; never a traceback for a user."""
    try:
        yield
    except FondsRecordError as exc:
        report_problems(as_json, exc.path, exc.problems)
        count = len(exc.problems)
        fail(
            EXIT_USER, f"{exc.path}: bản mô tả phông không hợp lệ / invalid fonds record: {count} problem(s)"
        )
    except DescriptionError as exc:
        report_problems(as_json, "description", exc.problems)
        fail(EXIT_USER, f"mô tả không hợp lệ / invalid description: {len(exc.problems)} problem(s)")
    except InvalidPackageError as exc:
        report_problems(as_json, exc.path, exc.problems)
        fail(EXIT_INVALID, f"{exc.path}: invalid ({len(exc.problems)} problem(s))")
    except UserInputError as exc:
        fail(EXIT_USER, str(exc))
    except OaisPreserveError as exc:
        fail(EXIT_INVALID, str(exc))
    except KeyboardInterrupt:
        fail(130, "interrupted; nothing partial was left at the destination")
    except OSError as exc:
        fail(EXIT_USER, f"{exc.filename or ''}: {exc.strerror or exc}")
    except Exception as exc:  # a bug of ours: say so plainly, keep the details in the log
        logging.getLogger(__name__).debug("internal error", exc_info=True)
        fail(EXIT_INTERNAL, f"internal error ({type(exc).__name__}: {exc}); run with -vv for details")


def report_problems(as_json: bool, where: str, problems: list[Problem]) -> None:
    if not as_json:
        for line in problem_lines(problems):
            click.echo(line, err=True)
        return
    listed = [{"where": p.where, "rule": p.rule, "message": p.message, "value": p.value} for p in problems]
    emit(True, {"ok": False, "where": where, "problems": listed}, lambda: None)


def emit(as_json: bool, data: dict[str, Any], human: Callable[[], None]) -> None:
    """Print the result; a reader that stops early (``| head -1``) does not change the exit code."""
    try:
        if as_json:
            click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            human()
        sys.stdout.flush()
    except BrokenPipeError:
        stdout_closed()


def stdout_closed() -> None:
    """Send the rest of the output nowhere once stdout's reader has gone (the usual way, see the
    Python docs on SIGPIPE), so the command still ends with its own exit code and Python does
    not complain again when it flushes stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a file descriptor (e.g. captured by a test runner)
        pass


@click.group()
@click.version_option(__version__, prog_name="oais-preserve")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """TT05 / E-ARK preservation packages (SIP_hoso, AIP_hoso) in BagIt bags."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
