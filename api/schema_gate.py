"""The write gate: no write reaches a database whose schema is not the one this service needs.

A database that comes back empty or unmigrated has none of its unique indexes and validators, so
a write there could store duplicates the schema exists to refuse. Writes wait (503, "run `jbts
migrate up`") until the schema is at the expected version; reads go on. The version is cached by
`Database.schema_state`, so the gate costs a database read only every few seconds.
"""

from __future__ import annotations

from pymongo.errors import PyMongoError
from starlette.types import ASGIApp, Receive, Scope, Send

from api.database.connection import Database
from api.errors import WRITE_METHODS, DatabaseUnavailable, SchemaNotMigrated


class SchemaGate:
    """ASGI middleware refusing writes under `prefix` while the schema is not current."""

    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITE_METHODS
            or not scope["path"].startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        database: Database = scope["app"].state.database
        try:
            state = await database.schema_state()
        except PyMongoError:
            # Unreachable now: judge the schema by what was last read, and let the request meet
            # the outage itself (its answer says what became of its writes). Never read: refuse.
            known = database.known_schema_state
            if known is None:
                unavailable = DatabaseUnavailable(
                    "the database is not available: retry in a few seconds (nothing was written)"
                )
                await unavailable.response(scope["path"])(scope, receive, send)
                return
            state = known
        problem = state.problem()
        if problem is not None:
            await SchemaNotMigrated(problem).response(scope["path"])(scope, receive, send)
            return
        await self.app(scope, receive, send)
