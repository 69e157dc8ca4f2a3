"""Opening the database: one client per application, Beanie initialised on it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import CommandListener

from api.database import migrations
from api.database.capabilities import Capabilities, probe
from api.database.writes import WriteListener
from documents import ALL_DOCUMENTS

SCHEMA_RECHECK_SECONDS = 5.0
"""How long the schema version read from the database is trusted before it is read again."""

DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 2_000
DEFAULT_CONNECT_TIMEOUT_MS = 120_000


def open_client(
    uri: str,
    *,
    timeout_ms: int = DEFAULT_SERVER_SELECTION_TIMEOUT_MS,
    connect_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS,
    command_listeners: Sequence[CommandListener] = (),
) -> AsyncMongoClient[Any]:
    """A client whose timeouts let a slow database finish its work.

    - `serverSelectionTimeoutMS` (`timeout_ms`) bounds how long a request waits for a database
      that is down: short, so clients get a quick 503.
    - `connectTimeoutMS` is also the driver's heartbeat timeout: when a heartbeat times out, the
      driver declares the server down and interrupts every operation in flight, although the
      server goes on to complete them (a write reported as failed that happened). A busy embedded
      engine can take tens of seconds to answer while it works, so this is generous.
    - No socket or operation timeout: an operation that was sent is waited for, never abandoned.

    `command_listeners` see every command the client sends (`jbts bench` counts round trips);
    `WriteListener` is always there: it counts the writes each request sends
    (`api.database.writes`).
    """
    # tz_aware: BSON dates come back as aware UTC datetimes, so the API never emits naive times.
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=connect_timeout_ms,
        appname="jbtestsuite-data",
        event_listeners=[WriteListener(), *command_listeners],
    )


@dataclass(frozen=True, slots=True)
class SchemaState:
    """The migration the database is at, and the one this service needs."""

    current: int
    latest: int

    @property
    def ok(self) -> bool:
        return self.current == self.latest

    def problem(self) -> str | None:
        """Why the service must not write to this database, or None."""
        if self.current < self.latest:
            return (
                f"the database schema is at migration {self.current}, this service needs "
                f"{self.latest}: run `jbts migrate up`"
            )
        if self.current > self.latest:
            return (
                f"the database schema is at migration {self.current}, newer than this service "
                f"knows ({self.latest}): upgrade the service, or run `jbts migrate down` to "
                f"{self.latest} with the newer one"
            )
        return None


class Database:
    """The application's handle on its database: client, database, capabilities, schema state."""

    def __init__(
        self,
        *,
        uri: str,
        db_name: str,
        timeout_ms: int = DEFAULT_SERVER_SELECTION_TIMEOUT_MS,
        connect_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS,
        command_listeners: Sequence[CommandListener] = (),
    ) -> None:
        self.uri = uri
        self.client = open_client(
            uri,
            timeout_ms=timeout_ms,
            connect_timeout_ms=connect_timeout_ms,
            command_listeners=command_listeners,
        )
        self.db: AsyncDatabase[Any] = self.client[db_name]
        self.latest_migration = migrations.latest_version()
        self._schema: SchemaState | None = None
        self._schema_read_at = 0.0
        self._schema_lock = asyncio.Lock()

    async def init(self) -> None:
        await bind_documents(self.db)

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def capabilities(self) -> Capabilities:
        return await probe(self.client, self.db, key=self.uri)

    async def schema_state(self, *, fresh: bool = False) -> SchemaState:
        """The schema version, read from the database at most every `SCHEMA_RECHECK_SECONDS`.

        Cheap enough to ask on every write: concurrent callers share one read. `fresh` reads it
        now (readiness does, so a migration is noticed at the next readiness check).
        """
        if not fresh and self._schema_is_recent():
            assert self._schema is not None
            return self._schema
        async with self._schema_lock:
            if fresh or not self._schema_is_recent():
                current = await migrations.current_version(self.db)
                self._schema = SchemaState(current=current, latest=self.latest_migration)
                self._schema_read_at = time.monotonic()
            assert self._schema is not None
            return self._schema

    @property
    def known_schema_state(self) -> SchemaState | None:
        """The schema state last read from the database, however old (None: never read)."""
        return self._schema

    def _schema_is_recent(self) -> bool:
        return (
            self._schema is not None
            and time.monotonic() - self._schema_read_at < SCHEMA_RECHECK_SECONDS
        )

    async def close(self) -> None:
        await self.client.close()


async def bind_documents(db: AsyncDatabase[Any]) -> None:
    """Bind the Beanie documents to `db`. Indexes and validators belong to the migrations."""
    await init_beanie(database=db, document_models=ALL_DOCUMENTS, skip_indexes=True)
