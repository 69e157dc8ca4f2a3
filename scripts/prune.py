"""`jbts prune`: delete the runs older than a given age, with everything that belongs to them,
then the GridFS files nothing references."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from scripts.common import (
    CommandError,
    DataDirOption,
    console,
    err_console,
    open_database,
    run,
    use_target,
)

if TYPE_CHECKING:
    from api.artifacts.buckets import Removed
    from api.executions.retention import OldRun
    from api.executions.runs import RunDeletion
    from scripts.target import Target

# The driver, Beanie and the services are imported inside the functions: see common.py.

_AGE = re.compile(r"^\s*(\d{1,6})\s*([hdw])\s*$", re.IGNORECASE)
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
MIN_AGE = timedelta(hours=1)
MAX_AGE = timedelta(days=3650)


class AgeError(ValueError):
    pass


def parse_age(text: str) -> timedelta:
    """`90d`, `12h`, `2w`: from 1 hour to 10 years (3650 days)."""
    match = _AGE.match(text)
    if match is None:
        raise AgeError(
            f"invalid --older-than {text!r}: give a number and a unit, h, d or w (e.g. 90d)"
        )
    age = int(match.group(1)) * _UNITS[match.group(2).lower()]
    if not MIN_AGE <= age <= MAX_AGE:
        raise AgeError(f"invalid --older-than {text!r}: it must be between 1h and 3650d")
    return age


@dataclass(slots=True)
class PruneResult:
    deleted: RunDeletion
    kept: list[OldRun]
    orphans: dict[str, Removed]
    gone: int = 0
    """Runs deleted meanwhile by someone else (nothing left to count)."""


async def _prune(target: Target, *, age: timedelta, dry_run: bool) -> PruneResult:
    from beanie import init_beanie
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from api.artifacts import buckets
    from api.database import migrations
    from api.errors import NotFound
    from api.executions import retention
    from api.executions.runs import RunDeletion, purge_run
    from documents import ALL_DOCUMENTS
    from documents.base import utcnow
    from documents.executions import RunStatus

    async with open_database(target) as db:
        current, latest = await migrations.current_version(db), migrations.latest_version()
        if current != latest:
            raise CommandError(
                f"{target.description} is at migration {current}, this code needs {latest}: "
                "run `jbts migrate up` first"
            )
        await init_beanie(database=db, document_models=ALL_DOCUMENTS, skip_indexes=True)
        now = utcnow()
        old = await retention.old_runs(created_before=now - age)
        kept = [found for found in old if found.kept]
        doomed = [found for found in old if not found.kept]
        deleted = RunDeletion()
        gone = 0
        dry = retention.DryRun()
        columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            label = "counting runs" if dry_run else "pruning runs"
            task = progress.add_task(label, total=len(doomed))
            for found in doomed:
                status = await retention.current_status(id=found.id)
                if status is None:
                    gone += 1
                elif status is RunStatus.RUNNING:  # started since the list was read
                    kept.append(replace(found, status=status))
                elif dry_run:
                    await dry.count_run(id=found.id)
                else:
                    try:
                        deleted += await purge_run(id=found.id)
                    except NotFound:
                        gone += 1
                progress.advance(task)
        if dry_run:
            deleted = await dry.total()
        orphans = await buckets.remove_orphans(db, now=now, dry_run=dry_run)
        return PruneResult(deleted=deleted, kept=kept, orphans=orphans, gone=gone)


def _report(result: PruneResult, *, target: Target, age: str, dry_run: bool) -> None:
    from rich.table import Table

    verb = "would delete" if dry_run else "deleted"
    deleted = result.deleted
    console.print(
        f"Prune of the runs older than {age} in {target.description}",
        highlight=False,
        soft_wrap=True,
    )
    table = Table("what", verb, "GridFS files", "GridFS bytes")
    table.add_row("runs", str(deleted.runs), "", "")
    table.add_row("executions", str(deleted.executions), "", "")
    shots = deleted.screenshots
    table.add_row("screenshots", str(shots.documents), str(shots.files), str(shots.bytes))
    table.add_row("log lines", str(deleted.log_lines), "", "")
    reports = deleted.reports
    table.add_row("reports", str(reports.documents), str(reports.files), str(reports.bytes))
    for bucket, removed in result.orphans.items():
        table.add_row(f"orphan files ({bucket})", "", str(removed.files), str(removed.bytes))
    freed_files = shots.files + reports.files + sum(r.files for r in result.orphans.values())
    freed_bytes = shots.bytes + reports.bytes + sum(r.bytes for r in result.orphans.values())
    table.add_row("total", "", str(freed_files), str(freed_bytes))
    console.print(table)
    if dry_run:
        console.print("Dry run: nothing was written.")
    if result.gone:
        console.print(f"{result.gone} run(s) were deleted meanwhile by someone else.")
    for found in result.kept:
        console.print(
            f"Kept run {found.id} ({found.name!r}): it is running, cancel it first",
            highlight=False,
            soft_wrap=True,
        )


OlderThanOption = Annotated[
    str,
    typer.Option(
        "--older-than",
        help="Delete runs created longer ago than this: a number and a unit, h (hours), "
        "d (days) or w (weeks), e.g. 90d; from 1h to 3650d.",
        show_default=False,
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Count what would be deleted; write nothing."),
]


def prune(
    older_than: OlderThanOption, dry_run: DryRunOption = False, data_dir: DataDirOption = None
) -> None:
    """Delete runs older than --older-than with their executions, screenshots, log lines and
    reports, then GridFS files nothing references (uploaded over an hour ago).

    Runs still running are kept (cancel them first). Does not ask for confirmation: the
    required --older-than is the intent, so it can run from cron; try --dry-run first.
    Safe to interrupt and run again.
    """
    try:
        age = parse_age(older_than)
    except AgeError as exc:
        err_console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None
    with use_target(data_dir=data_dir) as target:
        result = run(_prune(target, age=age, dry_run=dry_run))
    _report(result, target=target, age=older_than.strip(), dry_run=dry_run)
