"""Measuring a filled, migrated database through the real app, in-process.

The app is `api.main.create_app` with its lifespan, reached through `httpx.ASGITransport` (as
the tests reach it); a `CommandRecorder` on its database client sees every command it sends. The
raw equivalents go through a second client, with its own recorder.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase
from rich.progress import Progress

from api.database.capabilities import Capabilities, probe
from api.database.connection import Database
from api.main import create_app
from api.settings import AuthMode, Settings
from scripts.bench.measure import AppLog, Bench, OperationResult
from scripts.bench.operations import Picks, build_operations, pick
from scripts.bench.recorder import CommandRecorder

APP_LOGGER = "api"


@dataclass(frozen=True, slots=True)
class Measurement:
    operations: list[OperationResult]
    picks: Picks
    capabilities: Capabilities
    app_commands_outside_requests: dict[str, int]
    app_log: list[str]


@contextmanager
def _collect_app_log() -> Iterator[AppLog]:
    """The app's log records go to an `AppLog` while the benchmark runs, not to the terminal:
    an unhandled error's traceback would bury the one line the command prints."""
    logger = logging.getLogger(APP_LOGGER)
    log = AppLog()
    propagate = logger.propagate
    logger.addHandler(log)
    logger.propagate = False
    try:
        yield log
    finally:
        logger.removeHandler(log)
        logger.propagate = propagate


@asynccontextmanager
async def bench_app(settings: Settings, raw_commands: CommandRecorder) -> AsyncIterator[Bench]:
    """The app `settings` describe, run with its lifespan and reached in-process, ready to be
    measured: a recorder on its database client, its log collected."""
    app_commands = CommandRecorder()
    # API keys off: the operations' round trips stay comparable with earlier runs. With keys
    # required, every request adds one indexed find on `api_keys` (and a key's `last_used_at`
    # write at most once a minute).
    app = create_app(
        settings.model_copy(update={"auth": AuthMode.OFF}), command_listeners=[app_commands]
    )
    with _collect_app_log() as log:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                database: Database = app.state.database
                yield Bench(
                    http=http,
                    app_commands=app_commands,
                    raw_commands=raw_commands,
                    refresh=partial(database.schema_state, fresh=True),
                    log=log,
                )


async def measure_database(
    raw_db: AsyncDatabase[Any],
    raw_commands: CommandRecorder,
    *,
    settings: Settings,
    reps: int,
    progress: Progress | None = None,
) -> Measurement:
    """Measure every operation on the database `settings` name (filled and migrated).

    `raw_db` is that database on a client that `raw_commands` listens to.
    """
    assert settings.mongodb_uri is not None
    capabilities = await probe(raw_db.client, raw_db, key=settings.mongodb_uri)
    picks = await pick(raw_db, capabilities=capabilities)
    operations = build_operations(raw_db, picks, capabilities=capabilities)
    advance = None
    if progress is not None:
        total = sum(operation.reps(reps) for operation in operations)
        task = progress.add_task("Measuring", total=total)

        def advance(name: str) -> None:
            progress.update(task, advance=1, description=name)

    async with bench_app(settings, raw_commands) as bench:
        results = [
            await bench.run(operation, reps=reps, advance=advance) for operation in operations
        ]
    return Measurement(
        operations=results,
        picks=picks,
        capabilities=capabilities,
        app_commands_outside_requests=dict(sorted(bench.app_commands.outside.items())),
        app_log=bench.log.lines(),
    )
