"""`jbts reset`: drop the service's collections and re-apply every migration, after asking."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from scripts.common import DataDirOption, console, fail, open_database, run, use_target

if TYPE_CHECKING:
    from api.database.migrations import ResetResult
    from scripts.target import Target

# The migration runner (and with it the driver) is imported inside the commands: see common.py.

YesOption = Annotated[
    bool,
    typer.Option(
        "--yes",
        "-y",
        help="Drop without asking (needed when the input is not a terminal).",
    ),
]


def confirm_reset(target: Target, *, yes: bool) -> None:
    """Go on only with `--yes`, or when the person at the terminal says so.

    Input that is not a terminal (a pipe, CI) never confirms: `yes | jbts reset` is refused, so
    a script drops data only when it says `--yes` itself.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        fail(
            f"dropping the service's collections in {target.description} needs confirmation, "
            "and the input is not a terminal: pass --yes"
        )
    question = (
        f"Drop every collection of the service in {target.description}, with all their "
        "documents, and re-create them empty?"
    )
    if not typer.confirm(question, default=False):
        fail("not confirmed: nothing was dropped")


async def reset_database(target: Target) -> ResetResult:
    from api.database import migrations

    async with open_database(target) as db:
        return await migrations.reset(db)


def report_reset(result: ResetResult) -> None:
    dropped = ", ".join(result.dropped) or "none existed"
    console.print(f"Dropped the service's collections: {dropped}", highlight=False, soft_wrap=True)
    for migration in result.applied:
        console.print(f"Applied {migration.version:04d} {migration.name}")


def reset(yes: YesOption = False, data_dir: DataDirOption = None) -> None:
    """Drop the service's collections, then re-apply every migration: an empty database.

    Drops the collections the migrations create, the GridFS buckets (screenshots, reports) and
    the migration record; keeps any other.

    Asks first, naming the database; when the input is not a terminal, pass --yes.
    """
    with use_target(data_dir=data_dir) as target:
        confirm_reset(target, yes=yes)
        result = run(reset_database(target))
    report_reset(result)
