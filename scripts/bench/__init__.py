"""`jbts bench`: the API's basic operations, measured on a scratch database seeded for the run.

Never the user's data: on the embedded engine a fresh in-memory engine, on `MONGODB_URI` a new
database with a unique name on that server, dropped afterwards (also on an error or Ctrl-C).
Slowness is reported, never an error; an error answer from the API is one line and exit code 1.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scripts.common import console, err_console, fail, load_settings, run
from scripts.seed import SIZE_HELP
from scripts.seeding import SizeName
from scripts.signals import unwind_on_sigterm

if TYPE_CHECKING:
    from rich.progress import Progress

# The app, the driver, the engine and the seeder are imported inside the command: see common.py.
SCRATCH_PREFIX = "jbts_bench"
SIGINT_EXIT = 130  # 128 + the signal's number, as a shell reports a process a signal ended
SIGTERM_EXIT = 143


def _progress() -> AbstractContextManager[Progress | None]:
    """Progress bars on a terminal; nothing in a log (where Rich would leave blank lines)."""
    from rich.progress import Progress

    if not err_console.is_terminal:
        return nullcontext()
    return Progress(console=err_console, transient=True)


def bench(
    size: Annotated[
        SizeName, typer.Option(help=f"How much data to seed, as `jbts seed` does: {SIZE_HELP}.")
    ] = "medium",
    reps: Annotated[
        int,
        typer.Option(
            min=1, max=10_000, help="Measured requests per operation (bulk writes: fewer)."
        ),
    ] = 20,
    out: Annotated[
        Path | None, typer.Option(help="Also write the results, with the machine, as JSON here.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 0,
) -> None:
    """Measure the API's basic operations on a scratch database.

    Per operation: latency, round trips, the service's own time, the same work in raw PyMongo.

    Never touches your data. Exits non-zero only on errors, never on slowness.
    """
    from importlib.metadata import version

    from rich.console import Console

    from scripts.bench.report import TABLE_WIDTH, table
    from scripts.bench.scratch import benchmark
    from scripts.target import scratch_target

    if out is not None and not out.parent.is_dir():
        fail(f"cannot write {out}: no directory {out.parent}")  # before a long run, not after
    settings = load_settings()
    engine = "MongoDB" if settings.mongodb_uri else f"mongoeco {version('mongoeco')}, in memory"
    try:
        with (
            unwind_on_sigterm(exit_code=SIGTERM_EXIT),
            scratch_target(settings, prefix=SCRATCH_PREFIX) as target,
            _progress() as progress,
        ):
            report = run(
                benchmark(
                    target,
                    settings=settings,
                    engine=engine,
                    size=size,
                    reps=reps,
                    seed=seed,
                    progress=progress,
                )
            )
    except KeyboardInterrupt:
        # The work unwound through the scratch database's drop (a failed drop is an error line).
        err_console.print("Interrupted: the scratch database is dropped.")
        raise typer.Exit(code=SIGINT_EXIT) from None
    title = f"jbts bench --size {size} --reps {reps} on {engine}, {report.date}"
    # A terminal wraps cells to fit; a file or a pipe gets every row on one line.
    output = console if console.is_terminal else Console(width=max(console.width, TABLE_WIDTH))
    output.print(table(report, title=title))
    if out is not None:  # after the table: a run's results are shown even if the file fails
        try:
            out.write_text(json.dumps(report.to_json(), indent=2) + "\n")
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror}")
        console.print(f"Results written to {out}", highlight=False)
