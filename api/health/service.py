"""Readiness: the database answers, the schema is migrated, capabilities are known."""

from pymongo.errors import PyMongoError

from api.database.connection import Database
from api.errors import ServiceUnavailable
from api.health.schemas import MigrationStatus, Readiness


async def readiness(*, database: Database) -> Readiness:
    try:
        await database.ping()
        current, latest = await database.migration_state()
        if current < latest:
            raise ServiceUnavailable(
                f"the database schema is at migration {current}, the service needs {latest}: "
                "run `jbts migrate up`"
            )
        capabilities = await database.capabilities()
    except PyMongoError as exc:
        raise ServiceUnavailable(f"the database does not answer: {exc}") from exc
    return Readiness(
        database=database.db.name,
        migrations=MigrationStatus(current=current, latest=latest),
        capabilities=capabilities,
    )
