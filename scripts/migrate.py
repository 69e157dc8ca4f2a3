"""`jbts migrate up|down|status`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from scripts.common import DataDirOption, console, open_database, run, use_target

if TYPE_CHECKING:
    from api.database import migrations
    from scripts.target import Target

# The migration runner (and with it the driver) is imported inside the commands: see common.py.
app = typer.Typer(help="Apply, revert and inspect versioned migrations.", no_args_is_help=True)


async def _up(target: Target, version: int | None) -> list[migrations.Migration]:
    from api.database import migrations

    async with open_database(target) as db:
        return await migrations.up(db, target=version)


async def _down(target: Target, version: int | None) -> list[migrations.Migration]:
    from api.database import migrations

    async with open_database(target) as db:
        return await migrations.down(db, target=version)


async def _status(target: Target) -> list[migrations.MigrationState]:
    from api.database import migrations

    async with open_database(target) as db:
        return await migrations.status(db)


@app.command()
def up(
    data_dir: DataDirOption = None,
    to: Annotated[int | None, typer.Option(help="Stop at this version.")] = None,
) -> None:
    """Apply every pending migration (or those up to --to)."""
    with use_target(data_dir=data_dir, create=True) as target:
        applied = run(_up(target, to))
    if not applied:
        console.print("Nothing to apply: the database is up to date.")
    for migration in applied:
        console.print(f"Applied {migration.version:04d} {migration.name}")


@app.command()
def down(
    data_dir: DataDirOption = None,
    to: Annotated[
        int | None,
        typer.Option(help="Revert every migration newer than this version (0 = all)."),
    ] = None,
) -> None:
    """Revert the newest applied migration (or every one newer than --to)."""
    with use_target(data_dir=data_dir) as target:
        reverted = run(_down(target, to))
    if not reverted:
        console.print("Nothing to revert.")
    for migration in reverted:
        console.print(f"Reverted {migration.version:04d} {migration.name}")


@app.command()
def status(data_dir: DataDirOption = None) -> None:
    """Show every known migration and whether it is applied."""
    from rich.table import Table

    with use_target(data_dir=data_dir) as target:
        states = run(_status(target))
    table = Table("version", "name", "applied at", title=target.description)
    for state in states:
        applied = state.applied_at.isoformat() if state.applied_at else "pending"
        table.add_row(f"{state.version:04d}", state.name, applied)
    console.print(table)
