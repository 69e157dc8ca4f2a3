"""The capability probe: what the connected deployment supports, found by trying it.

Asked once per deployment (URI) and process. A standalone mongod lacks transactions and change
streams just as the embedded engine lacks change streams and full `$text`, so services consult
these flags rather than guessing from the server's name.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, PyMongoError

PROBE_COLLECTION = "_capability_probe"


class Capabilities(BaseModel):
    """What the database deployment can do."""

    transactions: bool
    change_streams: bool
    full_text_search: bool


_cache: dict[str, Capabilities] = {}


async def _supports_transactions(client: AsyncMongoClient[Any], db: AsyncDatabase[Any]) -> bool:
    try:
        async with client.start_session() as session:
            await session.start_transaction()
            try:
                await db[PROBE_COLLECTION].find_one({}, session=session)
            finally:
                await session.abort_transaction()
    except ConnectionFailure:
        raise
    except PyMongoError:
        return False
    return True


async def _supports_change_streams(db: AsyncDatabase[Any]) -> bool:
    try:
        stream = await db.watch(max_await_time_ms=1)
        await stream.close()
    except ConnectionFailure:
        raise
    except PyMongoError:
        return False
    return True


async def _supports_full_text(db: AsyncDatabase[Any]) -> bool:
    """Full `$text`: a projected find returns the fields, and counting with `$text` works."""
    collection = db[PROBE_COLLECTION]
    try:
        await collection.create_index([("probe", "text")], name="probe_text")
        await collection.insert_one({"probe": "capability probe", "kept": True})
        query = {"$text": {"$search": "capability"}}
        found = await collection.find_one(query, {"kept": 1, "score": {"$meta": "textScore"}})
        counted = await collection.count_documents(query)
        return found is not None and found.get("kept") is True and counted == 1
    except ConnectionFailure:
        raise
    except PyMongoError:
        return False
    finally:
        await collection.drop()


async def probe(client: AsyncMongoClient[Any], db: AsyncDatabase[Any], *, key: str) -> Capabilities:
    """The deployment's capabilities, probed on first use and cached under `key` (its URI).

    A refused or unsupported command means "not supported"; a connection failure propagates, so
    an unreachable server is never mistaken for a limited one (and nothing is cached).
    """
    cached = _cache.get(key)
    if cached is not None:
        return cached
    capabilities = Capabilities(
        transactions=await _supports_transactions(client, db),
        change_streams=await _supports_change_streams(db),
        full_text_search=await _supports_full_text(db),
    )
    _cache[key] = capabilities
    return capabilities
