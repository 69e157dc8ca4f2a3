"""`jbts seed`: realistic, linked fake data in a named size, the same for the same `--seed`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from scripts.common import (
    CommandError,
    DataDirOption,
    console,
    load_settings,
    open_database,
    run,
    use_target,
)
from scripts.reset import YesOption, confirm_reset, report_reset
from scripts.seeding import SIZES, SizeName

if TYPE_CHECKING:
    from rich.progress import TaskID

    from scripts.seeding import SeedSummary
    from scripts.target import Target

# The seeding modules (Faker, the documents), the driver and the migration runner are imported
# inside the command: see common.py. `scripts.seeding` itself is light.

SIZE_HELP = ", ".join(
    f"{size.name}: {size.test_cases:,} test cases, {size.suites} suites, {size.runs:,} runs"
    for size in SIZES.values()
)


class _Bars:
    """`SeedProgress` as one Rich progress bar per collection, shown from the first one on."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        self._progress = Progress(*columns, console=console)
        self._task: TaskID | None = None

    def start(self, collection: str, total: int) -> None:
        if self._task is None:
            self._progress.start()
        self._task = self._progress.add_task(collection, total=total)

    def advance(self, n: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)

    def close(self) -> None:
        if self._task is not None:
            self._progress.stop()


async def _seed(target: Target, *, size: str, seed: int, reset: bool, migrate: bool) -> SeedSummary:
    from api.database import migrations
    from scripts.seeding import SeedError, seed_database

    async with open_database(target) as db:
        if reset:
            report_reset(await migrations.reset(db))
        elif migrate:
            for migration in await migrations.up(db):
                console.print(f"Applied {migration.version:04d} {migration.name}")
        bars = _Bars()
        try:
            return await seed_database(db, size=size, seed=seed, progress=bars)
        except SeedError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bars.close()


def seed(
    size: Annotated[SizeName, typer.Option(help=f"How much data: {SIZE_HELP}.")] = "medium",
    seed_number: Annotated[
        int, typer.Option("--seed", help="The same number gives the same documents and ids.")
    ] = 0,
    reset: Annotated[
        bool,
        typer.Option("--reset", help="First drop the service's collections, as `jbts reset` does."),
    ] = False,
    yes: YesOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Fill an empty database with realistic, linked test definitions, configurations and runs.

    Browser configurations (one default), environments, templates, test cases, suites, and
    runs with their executions and step results.

    Reproducible: the same --seed gives the same documents and ids, with timestamps in 2025.

    A database already holding any of them is refused: --reset drops the service's collections.

    --reset asks first, as `jbts reset` does: answer on a terminal, or pass --yes.

    Embedded engine: pending migrations are applied first. MongoDB: `jbts migrate up` first.
    """
    settings = load_settings()
    with use_target(data_dir=data_dir, create=True) as target:
        if reset:
            confirm_reset(target, yes=yes)
        summary = run(
            _seed(
                target,
                size=size,
                seed=seed_number,
                reset=reset,
                # As `jbts serve`: the embedded engine is ours to migrate, MongoDB's is not.
                migrate=not settings.mongodb_uri,
            )
        )
    _report(summary, target)


def _report(summary: SeedSummary, target: Target) -> None:
    from rich.table import Table

    console.print(
        f"Seeded {target.description}: size {summary.size}, seed {summary.seed}",
        highlight=False,
        soft_wrap=True,
    )
    table = Table("collection", "documents", "seconds")
    for collection in summary.collections:
        table.add_row(collection.name, str(collection.documents), f"{collection.seconds:.1f}")
    table.add_row("total", str(sum(summary.documents.values())), f"{summary.seconds:.1f}")
    console.print(table)
    for collection in summary.collections:
        if collection.note:
            console.print(f"{collection.name}: {collection.note}", highlight=False, soft_wrap=True)
