"""The capability probe: what the deployment supports, found by reading only."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from api.database import migrations
from api.database.capabilities import (
    EMBEDDED_WRITE_BATCH,
    SERVER_WRITE_BATCH,
    Capabilities,
    is_embedded_engine,
    probe,
)
from api.database.connection import open_client
from api.query.bulk import MAX_BULK_ITEMS
from tests.conftest import REAL_MONGODB

LEFTOVER = "_capability_probe"
"""Where earlier versions of the probe wrote (and a crashed one could leave a document)."""

READ_COMMANDS = frozenset(
    {"hello", "listCollections", "listIndexes", "aggregate", "count", "find", "abortTransaction"}
)
WRITE_COMMANDS = frozenset(
    {
        "insert",
        "update",
        "delete",
        "findAndModify",
        "bulkWrite",
        "create",
        "createIndexes",
        "drop",
        "dropIndexes",
        "dropDatabase",
        "collMod",
        "renameCollection",
        "commitTransaction",
    }
)


def unique_key(uri: str) -> str:
    """A cache key no other test uses, so the probe really runs."""
    return f"{uri}#probe-{uuid.uuid4().hex}"


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def with_option(uri: str, option: str) -> str:
    return f"{uri}{'&' if '?' in uri else '/?'}{option}"


@dataclass
class CommandRecorder(monitoring.CommandListener):
    """The name of every command a client sends (PyMongo's own command monitoring)."""

    names: list[str] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self) -> set[str]:
        """The commands sent since the last call."""
        sent = set(self.names)
        self.names.clear()
        return sent


@dataclass
class Recorded:
    client: AsyncMongoClient[Any]
    db: AsyncDatabase[Any]
    commands: CommandRecorder


@pytest.fixture
async def recorded(mongodb_uri: str, db_name: str) -> AsyncIterator[Recorded]:
    """A client of the test's database whose commands are recorded."""
    recorder = CommandRecorder()
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_uri, event_listeners=[recorder])
    try:
        yield Recorded(client=client, db=client[db_name], commands=recorder)
    finally:
        await client.close()


def expected_on_this_deployment(capabilities: Capabilities) -> None:
    """What the test deployment is known to support: the embedded (memory) engine has
    transactions but neither change streams nor full `$text`, and Python's Unicode-aware regexes;
    MongoDB has full `$text`, and PCRE2's ASCII-only `\b` unless a pattern asks for UCP."""
    if REAL_MONGODB:
        assert capabilities.full_text_search is True
        assert capabilities.ascii_word_boundaries is True
        assert capabilities.embedded_engine is False
        assert capabilities.write_batch == SERVER_WRITE_BATCH
    else:
        assert capabilities == Capabilities(
            transactions=True,
            change_streams=False,
            full_text_search=False,
            ascii_word_boundaries=False,
            embedded_engine=True,
        )
        assert capabilities.write_batch == EMBEDDED_WRITE_BATCH


# `hello` as each kind of server answers it (the fields the probe reads, and a few others).
MONGOECO_HELLO = {"isWritablePrimary": True, "maxWireVersion": 20, "gitVersion": "mongoeco"}
STANDALONE_HELLO = {"isWritablePrimary": True, "maxWireVersion": 25, "maxWriteBatchSize": 100_000}
REPLICA_SET_HELLO = {**STANDALONE_HELLO, "setName": "rs0", "hosts": ["db0:27017"]}
MONGOS_HELLO = {**STANDALONE_HELLO, "msg": "isdbgrid"}


class TestWriteBatch:
    """Writes per command of a bulk request: bounded on the embedded engine, a whole request
    elsewhere."""

    def test_the_embedded_engine_is_known_by_its_hello(self) -> None:
        assert is_embedded_engine(MONGOECO_HELLO) is True
        for hello in (STANDALONE_HELLO, REPLICA_SET_HELLO, MONGOS_HELLO, {}):
            assert is_embedded_engine(hello) is False

    def test_the_embedded_engine_writes_in_batches_and_mongodb_takes_a_whole_request(
        self,
    ) -> None:
        flags = {"transactions": True, "change_streams": False, "full_text_search": False}
        embedded = Capabilities(**flags, embedded_engine=True)
        server = Capabilities(**flags, embedded_engine=False)

        assert embedded.write_batch == EMBEDDED_WRITE_BATCH == 100
        assert server.write_batch == SERVER_WRITE_BATCH >= MAX_BULK_ITEMS

    def test_is_not_one_of_the_reported_flags(self) -> None:
        capabilities = Capabilities(
            transactions=True, change_streams=False, full_text_search=False, embedded_engine=True
        )

        assert "embedded_engine" not in capabilities.model_dump()
        assert "embedded_engine" not in capabilities.model_dump_json()


class TestProbe:
    async def test_answers_with_booleans(
        self, mongo: AsyncMongoClient[Any], db: AsyncDatabase[Any], mongodb_uri: str
    ) -> None:
        capabilities = await probe(mongo, db, key=unique_key(mongodb_uri))

        assert isinstance(capabilities, Capabilities)
        assert all(isinstance(flag, bool) for flag in capabilities.model_dump().values())
        assert set(capabilities.model_dump()) == {
            "transactions",
            "change_streams",
            "full_text_search",
            "ascii_word_boundaries",
        }

    async def test_knows_what_this_deployment_supports(
        self, mongo: AsyncMongoClient[Any], db: AsyncDatabase[Any], mongodb_uri: str
    ) -> None:
        expected_on_this_deployment(await probe(mongo, db, key=unique_key(mongodb_uri)))

    async def test_is_asked_once_per_key(
        self, recorded: Recorded, db: AsyncDatabase[Any], mongodb_uri: str
    ) -> None:
        key = unique_key(mongodb_uri)

        first = await probe(recorded.client, recorded.db, key=key)
        assert recorded.commands.take()
        second = await probe(recorded.client, recorded.db, key=key)

        assert second is first
        assert recorded.commands.take() == set()

    async def test_an_unreachable_server_is_an_error_not_a_limited_server(
        self, mongo: AsyncMongoClient[Any], db: AsyncDatabase[Any], mongodb_uri: str
    ) -> None:
        unreachable = open_client(f"mongodb://127.0.0.1:{closed_port()}", timeout_ms=200)
        key = unique_key(mongodb_uri)
        try:
            with pytest.raises(PyMongoError):
                await probe(unreachable, unreachable["jbts"], key=key)
        finally:
            await unreachable.close()

        # Nothing was cached under the key: probing the real server answers normally.
        expected_on_this_deployment(await probe(mongo, db, key=key))


class TestTheFlagsAreTrue:
    """Each flag says what the deployment does when the service relies on it."""

    async def test_transactions_commit_exactly_when_the_flag_says_so(
        self, mongo: AsyncMongoClient[Any], db: AsyncDatabase[Any], mongodb_uri: str
    ) -> None:
        capabilities = await probe(mongo, db, key=unique_key(mongodb_uri))

        async def write_in_a_transaction() -> None:
            async with mongo.start_session() as session:
                await session.start_transaction()
                await db["transaction_check"].insert_one({"_id": 1}, session=session)
                await session.commit_transaction()

        if capabilities.transactions:
            await write_in_a_transaction()
            assert await db["transaction_check"].count_documents({}) == 1
        else:
            with pytest.raises(PyMongoError):
                await write_in_a_transaction()

    async def test_ascii_word_boundaries_exactly_when_the_flag_says_so(
        self, mongo: AsyncMongoClient[Any], db: AsyncDatabase[Any], mongodb_uri: str
    ) -> None:
        capabilities = await probe(mongo, db, key=unique_key(mongodb_uri))
        await db["words"].insert_one({"word": "über"})

        found = await db["words"].find_one({"word": {"$regex": r"\bber\b"}})

        assert (found is not None) is capabilities.ascii_word_boundaries

    async def test_change_streams_open_exactly_when_the_flag_says_so(
        self, mongo: AsyncMongoClient[Any], db: AsyncDatabase[Any], mongodb_uri: str
    ) -> None:
        capabilities = await probe(mongo, db, key=unique_key(mongodb_uri))

        if capabilities.change_streams:
            stream = await db.watch(max_await_time_ms=1)
            await stream.close()
        else:
            with pytest.raises(PyMongoError):
                await (await db.watch(max_await_time_ms=1)).close()


class TestReadOnly:
    """The probe writes nothing: no collection, index or document of its own."""

    async def test_sends_only_reads(
        self, recorded: Recorded, db: AsyncDatabase[Any], mongodb_uri: str
    ) -> None:
        before = sorted(await db.list_collection_names())

        await probe(recorded.client, recorded.db, key=unique_key(mongodb_uri))

        sent = recorded.commands.take()
        assert sent <= READ_COMMANDS, f"not a read: {sorted(sent - READ_COMMANDS)}"
        assert not sent & WRITE_COMMANDS
        assert sorted(await db.list_collection_names()) == before

    async def test_sends_only_reads_to_an_unmigrated_database(
        self, recorded: Recorded, mongo: AsyncMongoClient[Any], mongodb_uri: str
    ) -> None:
        await probe(recorded.client, recorded.db, key=unique_key(mongodb_uri))

        assert recorded.commands.take() <= READ_COMMANDS
        assert await recorded.db.list_collection_names() == []

    async def test_a_leftover_probe_document_changes_nothing(
        self, mongo: AsyncMongoClient[Any], db_name: str, mongodb_uri: str
    ) -> None:
        # What a probe of an earlier version left when it crashed: its collection, its text
        # index and its document, in a database that is not migrated yet.
        db = mongo[db_name]
        await db[LEFTOVER].create_index([("probe", "text")], name="probe_text")
        await db[LEFTOVER].insert_one({"probe": "capability probe", "kept": True})

        capabilities = await probe(mongo, db, key=unique_key(mongodb_uri))

        expected_on_this_deployment(capabilities)
        assert await db[LEFTOVER].find({}, {"_id": 0}).to_list() == [
            {"probe": "capability probe", "kept": True}
        ]

    async def test_reads_going_to_secondaries_get_the_same_answer(
        self, mongo: AsyncMongoClient[Any], db: AsyncDatabase[Any], mongodb_uri: str
    ) -> None:
        uri = with_option(mongodb_uri, "readPreference=secondaryPreferred")
        secondary_reads = open_client(uri)
        try:
            capabilities = await probe(secondary_reads, secondary_reads[db.name], key=uri)
        finally:
            await secondary_reads.close()

        assert capabilities == await probe(mongo, db, key=unique_key(mongodb_uri))
        expected_on_this_deployment(capabilities)


class TestConcurrency:
    async def test_concurrent_first_calls_share_one_probe(
        self, recorded: Recorded, db: AsyncDatabase[Any], mongodb_uri: str
    ) -> None:
        key = unique_key(mongodb_uri)

        first, second = await asyncio.gather(
            probe(recorded.client, recorded.db, key=key),
            probe(recorded.client, recorded.db, key=key),
        )

        assert first is second
        assert recorded.commands.names.count("hello") == 1
        expected_on_this_deployment(first)

    async def test_two_processes_starting_at_once_get_the_same_right_answer(
        self, db: AsyncDatabase[Any], mongodb_uri: str
    ) -> None:
        # Two processes: two clients with their own connections and their own caches (keys).
        clients = [open_client(mongodb_uri), open_client(mongodb_uri)]
        try:
            answers = await asyncio.gather(
                *(probe(c, c[db.name], key=unique_key(mongodb_uri)) for c in clients)
            )
        finally:
            for client in clients:
                await client.close()

        assert answers[0] == answers[1]
        expected_on_this_deployment(answers[0])

    async def test_a_cancelled_caller_does_not_cancel_the_others(
        self, mongo: AsyncMongoClient[Any], db: AsyncDatabase[Any], mongodb_uri: str
    ) -> None:
        key = unique_key(mongodb_uri)
        impatient = asyncio.create_task(probe(mongo, db, key=key))
        patient = asyncio.create_task(probe(mongo, db, key=key))
        await asyncio.sleep(0)

        impatient.cancel()

        expected_on_this_deployment(await patient)
        with pytest.raises(asyncio.CancelledError):
            await impatient


class TestUnmigratedDatabase:
    async def test_answers_no_full_text_without_caching_it(
        self, recorded: Recorded, mongo: AsyncMongoClient[Any], mongodb_uri: str
    ) -> None:
        key = unique_key(mongodb_uri)

        unmigrated = await probe(recorded.client, recorded.db, key=key)
        assert unmigrated.full_text_search is False
        recorded.commands.take()
        await probe(recorded.client, recorded.db, key=key)
        assert "listCollections" in recorded.commands.take(), "asked again"

        await migrations.up(mongo[recorded.db.name])
        migrated = await probe(recorded.client, recorded.db, key=key)
        expected_on_this_deployment(migrated)
        decided_once_migrated = {"full_text_search", "ascii_word_boundaries"}
        assert migrated.model_dump(exclude=decided_once_migrated) == unmigrated.model_dump(
            exclude=decided_once_migrated
        )
        recorded.commands.take()
        assert await probe(recorded.client, recorded.db, key=key) is migrated
        assert recorded.commands.take() == set(), "decided once migrated, and cached"
