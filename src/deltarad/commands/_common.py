"""What every command shares: one-line errors (traceback only with --debug) and logging."""

from __future__ import annotations

import functools
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import typer

from deltarad.errors import DeltaradError

F = TypeVar("F", bound=Callable[..., object])

DEBUG_OPTION = typer.Option(False, "--debug", help="Show full tracebacks.")
WORKERS_OPTION = typer.Option(
    None, "--workers", min=0, help="worker processes for image feature extraction (default: one per core; 0: no Dask)"
)
SCHEDULER_OPTION = typer.Option(
    None, "--scheduler", help="run extraction on an existing Dask cluster, e.g. tcp://HOST:8786 (shared file paths)"
)


def _below_error_from_radiomics(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR or not record.name.startswith("radiomics")


def setup_logging(debug: bool = False) -> None:
    """Log lines on stderr; Python warnings become log lines too (see `quiet_numerics` for
    numerical RuntimeWarnings)."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    logging.captureWarnings(True)
    # PyRadiomics' logger at INFO, as its own import sets it (deltarad's import leaves it as found):
    # its DEBUG lines, one per feature computed, stay out of a --debug run.
    logging.getLogger("radiomics").setLevel(logging.INFO)
    if not debug:
        # PyRadiomics warns once per feature class and mask (e.g. "GLCM is symmetrical"); forked
        # workers inherit this process's handlers, so its records would reach our stderr. A
        # filter on our handler, as importing radiomics resets its logger's level.
        for handler in logging.getLogger().handlers:
            handler.addFilter(_below_error_from_radiomics)


@contextmanager
def quiet_numerics(quiet: bool = True) -> Iterator[None]:
    """Numerical RuntimeWarnings (overflow in exp while a separated logistic fit converges, and
    the like) hidden while a command runs (shown with --debug): the conditions behind them are
    reported as deltarad's own warnings. Scoped to the command, so library calls see Python's
    filters unchanged."""
    with warnings.catch_warnings():
        if quiet:
            warnings.filterwarnings("ignore", category=RuntimeWarning)
        yield


def exit_if_patients_failed(failures, listing: str, what: str = "failed") -> None:
    """Say how many patients `what` (see `listing`, their failures.csv) and exit with status 1;
    nothing when `failures` (a table with patient_id) is empty."""
    if len(failures):
        typer.echo(f"{failures['patient_id'].nunique()} patient(s) {what}: see {listing}", err=True)
        raise typer.Exit(code=1)


def output_folder(out: Path) -> Path:
    """`--out` as a folder to write into: an existing file there is a user error."""
    if out.exists() and not out.is_dir():
        raise DeltaradError("--out names a file; give a folder to write into", file=out)
    return out


def output_file(out: Path) -> Path:
    """`--out` as a file to write: an existing folder there is a user error."""
    if out.is_dir():
        raise DeltaradError("--out names a folder; give a file name", file=out)
    return out


def _os_problem(exc: OSError) -> str:
    """'cannot write x: Permission denied' from an OSError of the file system."""
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{exc.strerror or type(exc).__name__}: {' -> '.join(names)}" if names else str(exc)


def user_errors(func: F) -> F:
    """Turn DeltaradError and the file system's errors (a missing, unreadable or unwritable
    path, a file where a folder is needed) into one `error: ...` line on stderr and exit
    status 2. Anything else is a bug and keeps its traceback.

    The wrapped command must take a `debug: bool` keyword argument.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        debug = bool(kwargs.get("debug", False))
        setup_logging(debug)
        try:
            with quiet_numerics(not debug):
                return func(*args, **kwargs)
        except (DeltaradError, OSError) as exc:
            if debug:
                raise
            typer.echo(f"error: {exc if isinstance(exc, DeltaradError) else _os_problem(exc)}", err=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]
