"""The capability probe: what the connected deployment supports, found by reading only.

A standalone mongod lacks transactions and change streams just as the embedded engine lacks
change streams and full `$text`, so services consult these flags rather than guessing from the
server's name. The probe never writes (no collection, index or document of its own), so any
number of processes may probe one database at once, a user without write privileges gets the
same answer, and a crashed probe leaves nothing behind:

- `hello` says whether the server is a replica set member or a mongos: both have transactions
  and change streams. A server that is neither has no change streams; it has transactions when a
  transaction that only reads (on the primary, whatever the read preference) can start and be
  aborted, which the embedded engine allows and a standalone mongod refuses.
- Full `$text` is decided by running the list layer's own `$text` shapes (an aggregation `$match`
  with the text score, and the `count` command) against a collection that already has a text
  index, such as `test_cases` once migrated.
- The write batch (`Capabilities.write_batch`): how many writes (and ids per `$in` lookup) one
  command of a bulk request carries. The embedded engine identifies itself in `hello`
  (`gitVersion: "mongoeco"`); there a command running longer than ~30 s is abandoned by the
  driver while the engine completes it, and the engine blocks every other request while it
  works, so a bulk goes in batches of `EMBEDDED_WRITE_BATCH`. Any other server takes a whole
  bulk request in one command (`SERVER_WRITE_BATCH`, at least `api.query.bulk.MAX_BULK_ITEMS`;
  the driver itself splits past 100,000 writes or 48 MB).
- The regex dialect (for the full-text fallback, see `api.query.text`): whether `\bber\b`
  matches "über", evaluated by the server in a projection of one migration record. PCRE2 without
  UCP (MongoDB) says yes: its `\b` knows only ASCII letters; Python's `re` (the embedded engine)
  says no.

The answer is cached per deployment (`key`, its URI) for the life of the process. Two answers are
never cached: a connection failure (an error, so an unreachable server is not mistaken for a
limited one), and a database where no collection has a text index or no migration record yet
(not migrated): full `$text` is then "no" (the fallback serves `q`), and the next call probes
again. Concurrent first
calls in one process share one probe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field
from pymongo import AsyncMongoClient, ReadPreference
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, ExecutionTimeout, OperationFailure, PyMongoError

from api.database.migrations import MIGRATIONS_COLLECTION

# An error that says nothing about `$text` itself: the collection or its text index went away
# between finding it and querying it, or this user may not read it. The question stays open.
_UNDECIDED_CODES = frozenset({13, 26, 27})  # Unauthorized, NamespaceNotFound, IndexNotFound


EMBEDDED_WRITE_BATCH = 100
"""Writes per command (and ids per `$in`) on the embedded engine: bounds each command's work."""
SERVER_WRITE_BATCH = 1000
"""Writes per command (and ids per `$in`) elsewhere: a whole bulk request (`MAX_BULK_ITEMS`)."""


def is_embedded_engine(hello: Mapping[str, Any]) -> bool:
    """Whether the server that answered `hello` is the embedded engine (mongoeco)."""
    return hello.get("gitVersion") == "mongoeco"


class Capabilities(BaseModel):
    """What the database deployment can do."""

    transactions: bool
    change_streams: bool
    full_text_search: bool
    # The server's regex `\b` and `\w` know only ASCII letters unless a pattern starts with
    # `(*UCP)` (MongoDB's PCRE2); false where they are Unicode-aware (Python's `re`).
    ascii_word_boundaries: bool = False
    # The embedded engine (mongoeco): decides `write_batch`. Not one of the reported flags.
    embedded_engine: bool = Field(default=False, exclude=True)

    @property
    def write_batch(self) -> int:
        """Writes per command of a bulk request, and ids per `$in` of its lookups."""
        return EMBEDDED_WRITE_BATCH if self.embedded_engine else SERVER_WRITE_BATCH


_cache: dict[str, Capabilities] = {}
_probing: dict[str, asyncio.Task[Capabilities]] = {}


def _replicated(hello: Mapping[str, Any]) -> bool:
    """A replica set member (`setName`) or a mongos (`msg: isdbgrid`)."""
    return "setName" in hello or hello.get("msg") == "isdbgrid"


async def _reads_in_a_transaction(client: AsyncMongoClient[Any], db: AsyncDatabase[Any]) -> bool:
    try:
        async with client.start_session() as session:
            # Reads in a transaction must go to the primary: say so, whatever the URI prefers.
            await session.start_transaction(read_preference=ReadPreference.PRIMARY)
            try:
                await db[MIGRATIONS_COLLECTION].find_one({}, {"_id": 1}, session=session)
            finally:
                await session.abort_transaction()
    except ConnectionFailure:
        raise
    except PyMongoError:
        return False
    return True


async def _text_indexed_collection(db: AsyncDatabase[Any]) -> AsyncCollection[Any] | None:
    """A collection of `db` with a text index (the first by name), or None."""
    for name in sorted(await db.list_collection_names(filter={"type": "collection"})):
        async for index in await db[name].list_indexes():
            if "text" in index["key"].values():
                return db[name]
    return None


async def _full_text(db: AsyncDatabase[Any]) -> bool | None:
    """Whether `$text` works as the list layer uses it; None while no text index exists."""
    query = {"$text": {"$search": "capability"}}
    try:
        collection = await _text_indexed_collection(db)
        if collection is None:
            return None
        pipeline = [{"$match": query}, {"$project": {"score": {"$meta": "textScore"}}}]
        await (await collection.aggregate([*pipeline, {"$limit": 1}])).to_list()
        await db.command("count", collection.name, query=query)
    except ExecutionTimeout:
        raise
    except OperationFailure as exc:
        return None if exc.code in _UNDECIDED_CODES else False
    return True


async def _ascii_word_boundaries(db: AsyncDatabase[Any]) -> bool | None:
    """Whether the server's `\b` is ASCII-only; None while there is no record to project."""
    test = {"$regexMatch": {"input": {"$literal": "über"}, "regex": r"\bber\b"}}
    pipeline: list[dict[str, Any]] = [{"$limit": 1}, {"$project": {"_id": 0, "ascii": test}}]
    try:
        found = await (await db[MIGRATIONS_COLLECTION].aggregate(pipeline)).to_list()
    except ExecutionTimeout:
        raise
    except OperationFailure as exc:
        # Undecided, or a server without `$regexMatch`: plain patterns, as before this probe.
        return None if exc.code in _UNDECIDED_CODES else False
    return bool(found[0]["ascii"]) if found else None


async def _probe(client: AsyncMongoClient[Any], db: AsyncDatabase[Any], key: str) -> Capabilities:
    try:
        hello = await client.admin.command("hello")
        replicated = _replicated(hello)
        full_text = await _full_text(db)
        ascii_words = await _ascii_word_boundaries(db)
        capabilities = Capabilities(
            transactions=replicated or await _reads_in_a_transaction(client, db),
            change_streams=replicated,
            full_text_search=full_text is True,
            ascii_word_boundaries=ascii_words is True,
            embedded_engine=is_embedded_engine(hello),
        )
        if full_text is not None and ascii_words is not None:
            _cache[key] = capabilities
        return capabilities
    finally:
        if _probing.get(key) is asyncio.current_task():
            del _probing[key]


async def probe(client: AsyncMongoClient[Any], db: AsyncDatabase[Any], *, key: str) -> Capabilities:
    """The deployment's capabilities, probed on first use and cached under `key` (its URI).

    A refused or unsupported command means "not supported"; a connection failure propagates, so
    an unreachable server is never mistaken for a limited one (and nothing is cached).
    """
    cached = _cache.get(key)
    if cached is not None:
        return cached
    loop = asyncio.get_running_loop()
    running = _probing.get(key)
    if running is None or running.done() or running.get_loop() is not loop:
        running = loop.create_task(_probe(client, db, key))
        _probing[key] = running
    # Shielded: a caller that goes away (a cancelled request) does not cancel the others' probe.
    return await asyncio.shield(running)
