"""Opening the database: one client per application, Beanie initialised on it."""

from __future__ import annotations

from typing import Any

from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from api.database import migrations
from api.database.capabilities import Capabilities, probe
from documents import ALL_DOCUMENTS


def open_client(uri: str, *, timeout_ms: int = 5000) -> AsyncMongoClient[Any]:
    # tz_aware: BSON dates come back as aware UTC datetimes, so the API never emits naive times.
    return AsyncMongoClient(
        uri, tz_aware=True, serverSelectionTimeoutMS=timeout_ms, appname="jbtestsuite-data"
    )


class Database:
    """The application's handle on its database: client, database, capabilities."""

    def __init__(self, *, uri: str, db_name: str, timeout_ms: int = 5000) -> None:
        self.uri = uri
        self.client = open_client(uri, timeout_ms=timeout_ms)
        self.db: AsyncDatabase[Any] = self.client[db_name]

    async def init(self) -> None:
        """Bind the Beanie documents. Indexes and validators belong to the migrations."""
        await init_beanie(database=self.db, document_models=ALL_DOCUMENTS, skip_indexes=True)

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def capabilities(self) -> Capabilities:
        return await probe(self.client, self.db, key=self.uri)

    async def migration_state(self) -> tuple[int, int]:
        """(applied version, latest known version)."""
        return await migrations.current_version(self.db), migrations.latest_version()

    async def close(self) -> None:
        await self.client.close()
