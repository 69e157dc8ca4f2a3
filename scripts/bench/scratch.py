"""One benchmark run: a scratch database migrated and seeded, measured, and dropped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from rich.progress import Progress, TaskID

from api.database import migrations
from api.settings import Settings
from scripts.bench.harness import measure_database
from scripts.bench.recorder import CommandRecorder
from scripts.bench.report import Report, machine
from scripts.common import CommandError, err_console, open_database
from scripts.failures import describe_database_error
from scripts.seeding import SeedError, SeedSummary, seed_database
from scripts.target import Target

SCRATCH_RETENTION = {"log_retention_days": 3650}


class SeedingBars:
    """The seeder's progress (`SeedProgress`) as one bar per collection on `progress`."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None

    def start(self, collection: str, total: int) -> None:
        self._task = self._progress.add_task(f"Seeding {collection}", total=total)

    def advance(self, n: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)


async def benchmark(
    target: Target,
    *,
    settings: Settings,
    engine: str,
    size: str,
    reps: int,
    seed: int,
    progress: Progress | None = None,
) -> Report:
    """Migrate and seed the scratch database `target` names, measure it, and drop it.

    The drop happens however the work ends: done, failed, or interrupted (Ctrl-C cancels the
    work, and the drop runs as it unwinds).
    """
    date = datetime.now(UTC).isoformat(timespec="seconds")
    raw_commands = CommandRecorder()
    async with open_database(target, command_listeners=[raw_commands]) as db:
        build = await db.client.admin.command("buildInfo")  # unreachable: fails, nothing created
        err_console.print(f"Benchmark on {target.description}", highlight=False, soft_wrap=True)
        try:
            # The seeded history lies in the past year: a retention that keeps its log lines
            # (the scratch database's own; the user's setting stays as it is).
            await migrations.up(db, settings=settings.model_copy(update=SCRATCH_RETENTION))
            try:
                bars = SeedingBars(progress) if progress is not None else None
                seeded = await seed_database(db, size=size, seed=seed, progress=bars)
            except SeedError as exc:
                raise CommandError(str(exc)) from exc
            app_settings = settings.model_copy(
                update={"mongodb_uri": target.uri, "mongodb_db": target.db_name}
            )
            measurement = await measure_database(
                db, raw_commands, settings=app_settings, reps=reps, progress=progress
            )
        finally:
            await _drop(db, target)
    return Report(
        date=date,
        size=size,
        seed=seed,
        reps=reps,
        machine=machine(),
        database={
            "engine": engine,
            "server_version": build.get("version"),
            "git_version": build.get("gitVersion"),
            "capabilities": measurement.capabilities.model_dump(),
            "where": target.description,
        },
        seeded=_seeded(seeded),
        picks=measurement.picks.describe(),
        operations=measurement.operations,
        app_commands_outside_requests=measurement.app_commands_outside_requests,
        app_log=measurement.app_log,
    )


def _seeded(summary: SeedSummary) -> dict[str, Any]:
    return {"documents": summary.documents, "seconds": round(summary.seconds, 1)}


async def _drop(db: AsyncDatabase[Any], target: Target) -> None:
    try:
        await db.client.drop_database(target.db_name)
    except PyMongoError as exc:
        raise CommandError(
            f"{describe_database_error(exc, where=target.where)}; the scratch database "
            f"{target.db_name} may be left there: drop it by hand"
        ) from exc
