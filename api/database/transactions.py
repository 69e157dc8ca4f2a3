"""Multi-document writes: in a transaction where the deployment has them.

Where it has none (a standalone mongod), the caller's writes run without a session, in an order
chosen so that an interruption leaves nothing inconsistent visible to clients.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from api.database.capabilities import Capabilities


@asynccontextmanager
async def transaction(
    client: AsyncMongoClient[Any], capabilities: Capabilities
) -> AsyncIterator[AsyncClientSession | None]:
    """Yield a session inside a transaction (committed on success), or `None` without them."""
    if not capabilities.transactions:
        yield None
        return
    async with client.start_session() as session, await session.start_transaction():
        yield session
