"""Readiness: the database answers, the schema is migrated, capabilities are known."""

import asyncio

from pymongo.errors import PyMongoError

from api.database.connection import Database
from api.errors import DatabaseUnavailable, ProblemError, SchemaNotMigrated
from api.health.schemas import MigrationStatus, Readiness

READINESS_TIMEOUT_SECONDS = 5.0
"""A database busier than this is reported not ready, rather than keeping the probe waiting."""

_NOT_READY = {"ready": False}


async def readiness(*, database: Database) -> Readiness:
    """Ready, or a 503 problem with `ready: false` saying why (never hosts or driver state)."""
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            await database.ping()
            state = await database.schema_state(fresh=True)
            problem = state.problem()
            if problem is not None:
                raise SchemaNotMigrated(problem, extensions=_NOT_READY)
            capabilities = await database.capabilities()
    except PyMongoError as exc:
        raise _not_ready(DatabaseUnavailable.of(exc)) from None
    except TimeoutError:
        raise DatabaseUnavailable(
            f"the database did not answer within {READINESS_TIMEOUT_SECONDS:g} s",
            extensions=_NOT_READY,
        ) from None
    return Readiness(
        database=database.db.name,
        migrations=MigrationStatus(current=state.current, latest=state.latest),
        capabilities=capabilities,
    )


def _not_ready(error: ProblemError) -> ProblemError:
    error.extensions.update(_NOT_READY)
    return error
