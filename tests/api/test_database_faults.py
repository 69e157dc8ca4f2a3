"""What clients see when the database goes away, comes back, or comes back unmigrated.

A database that does not answer is a quick 503 problem with `Retry-After` (never a 500, never
hosts or driver topology in the body), and the service recovers by itself when it returns. A
database that is empty or not migrated refuses writes with a 503 that says to run
`jbts migrate up`, so the unique indexes are never missing under live writes.

The outage tests stop and restart an embedded engine of their own (with its data on disk, so it
comes back with its data), whatever `MONGODB_URI` says: they are about the service, not the engine.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from api.database import migrations
from api.database.connection import open_client
from api.database.embedded import EmbeddedEngine
from api.errors import DATABASE_UNAVAILABLE_LOG
from api.main import create_app
from api.server import install_burst_filter, remove_burst_filter
from api.settings import AuthMode, Settings
from tests.api.conftest import on_engine
from tests.api.helpers import BROWSERS, assert_problem, browser_body, served

READY_BOUND = 120.0
"""How long a test waits for the service to see the database again (a bound, not an expectation)."""


class Outage:
    """An embedded engine that a test can stop and start again on the same port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.engine = EmbeddedEngine(data_dir=data_dir)
        self.uri = self.engine.start().uri
        self.port = int(self.uri.rsplit(":", 1)[1].split("/", 1)[0])

    def stop(self) -> None:
        self.engine.stop()

    def restart(self) -> None:
        self.engine = EmbeddedEngine(data_dir=self.data_dir, port=self.port)
        self.engine.start()


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[Outage]:
    engine = Outage(tmp_path / "data")
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture
async def outage_client(outage: Outage) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app on the outage engine, its database migrated."""
    db_name = "jbts_outage"
    mongo: AsyncMongoClient[Any] = open_client(outage.uri)
    try:
        await migrations.up(mongo[db_name])
    finally:
        await mongo.close()
    settings = Settings(mongodb_uri=outage.uri, mongodb_db=db_name).model_copy(
        update={"server_selection_timeout_ms": 300}
    )
    async with served(create_app(settings)) as http:
        yield http


def _assert_unavailable(response: httpx.Response, *, port: int) -> dict[str, Any]:
    body = assert_problem(response, 503)
    assert body["type"] == "/problems/database-unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    text = response.text
    for leak in ("127.0.0.1", str(port), "Topology", "ServerSelection", "mongodb://"):
        assert leak not in text, (leak, text)
    return body


async def _wait_ready(client: httpx.AsyncClient) -> None:
    """Poll readiness until it is 200, within a generous bound."""
    deadline = time.monotonic() + READY_BOUND
    while True:
        response = await client.get("/health/ready")
        if response.status_code == 200:
            return
        assert time.monotonic() < deadline, response.text


class TestDatabaseDown:
    async def test_reads_and_writes_are_503_with_retry_after(
        self, outage: Outage, outage_client: httpx.AsyncClient
    ) -> None:
        outage.stop()

        listed = await outage_client.get(BROWSERS)
        created = await outage_client.post(BROWSERS, json=browser_body("Chrome"))

        _assert_unavailable(listed, port=outage.port)
        body = _assert_unavailable(created, port=outage.port)
        assert "not" in body["detail"]  # a write that never reached the database says so

    async def test_readiness_is_503_without_hosts_or_topology(
        self, outage: Outage, outage_client: httpx.AsyncClient
    ) -> None:
        outage.stop()

        response = await outage_client.get("/health/ready")

        body = _assert_unavailable(response, port=outage.port)
        assert body["ready"] is False

    async def test_an_outage_is_logged_once_per_burst_not_once_per_request(
        self, outage: Outage, outage_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        burst_filter = install_burst_filter(window_s=3600)  # one burst, however slow the machine
        try:
            outage.stop()
            for _ in range(5):
                assert (await outage_client.get(BROWSERS)).status_code == 503
        finally:
            remove_burst_filter(burst_filter)

        logged = [r.getMessage() for r in caplog.records if r.name == "api.errors"]
        assert len(logged) == 1, logged
        assert logged[0].startswith(f"{DATABASE_UNAVAILABLE_LOG}: GET {BROWSERS}")
        assert "Topology" not in logged[0]

    async def test_liveness_does_not_need_the_database(
        self, outage: Outage, outage_client: httpx.AsyncClient
    ) -> None:
        outage.stop()

        assert (await outage_client.get("/health/live")).status_code == 200

    async def test_the_service_recovers_by_itself_when_the_database_returns(
        self, outage: Outage, outage_client: httpx.AsyncClient
    ) -> None:
        created = await outage_client.post(BROWSERS, json=browser_body("Chrome"))
        assert created.status_code == 201, created.text
        outage.stop()
        assert (await outage_client.get(BROWSERS)).status_code == 503

        outage.restart()
        await _wait_ready(outage_client)

        listed = await outage_client.get(BROWSERS)
        assert listed.status_code == 200, listed.text
        assert [item["name"] for item in listed.json()["items"]] == ["Chrome"]
        again = await outage_client.post(BROWSERS, json=browser_body("Firefox"))
        assert again.status_code == 201, again.text

    async def test_a_keyed_write_that_was_not_sent_frees_its_key(
        self, outage: Outage, outage_client: httpx.AsyncClient
    ) -> None:
        keyed = {"Idempotency-Key": "not-sent-1"}
        outage.stop()
        refused = await outage_client.post(BROWSERS, json=browser_body("Chrome"), headers=keyed)
        detail = _assert_unavailable(refused, port=outage.port)["detail"]
        assert "was not sent" in detail or "nothing was written" in detail

        outage.restart()
        await _wait_ready(outage_client)
        retry = await outage_client.post(BROWSERS, json=browser_body("Chrome"), headers=keyed)

        assert retry.status_code == 201, retry.text
        assert "Idempotent-Replayed" not in retry.headers
        assert (await outage_client.get(BROWSERS)).json()["total"] == 1


TESTS = "/api/v1/tests"


async def _read_message(reader: asyncio.StreamReader) -> bytes:
    """One wire-protocol message: its little-endian int32 length (which counts itself), the rest."""
    head = await reader.readexactly(4)
    return head + await reader.readexactly(int.from_bytes(head, "little") - 4)


class WriteCutter:
    """A TCP proxy to an engine that breaks the app's connection mid-write, as a network failing
    after the database committed: the first message holding every one of `markers` reaches the
    engine, which applies it; its reply is dropped and that connection closed."""

    def __init__(self, engine_uri: str, *markers: bytes) -> None:
        self.host, port = engine_uri.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        self.port = int(port)
        self.markers = markers
        self.cut = False
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        """Listen; returns the URI the app connects to."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"mongodb://127.0.0.1:{port}/?directConnection=true"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server.close_clients()
            await self._server.wait_closed()

    async def _relay(self, app_in: asyncio.StreamReader, app_out: asyncio.StreamWriter) -> None:
        engine_in, engine_out = await asyncio.open_connection(self.host, self.port)
        cutting = False

        async def to_engine() -> None:
            nonlocal cutting
            while True:
                message = await _read_message(app_in)
                if not self.cut and all(marker in message for marker in self.markers):
                    self.cut = cutting = True
                engine_out.write(message)
                await engine_out.drain()

        async def to_app() -> None:
            while True:
                message = await _read_message(engine_in)
                if cutting:
                    return  # the reply to the write: never relayed
                app_out.write(message)
                await app_out.drain()

        pumps = [asyncio.ensure_future(to_engine()), asyncio.ensure_future(to_app())]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for writer in (app_out, engine_out):
                writer.close()


@pytest.fixture
async def cut_client(
    engine: EmbeddedEngine,
) -> AsyncIterator[tuple[httpx.AsyncClient, WriteCutter]]:
    """A client of an app that reaches `engine` through a `WriteCutter` of its first insert of a
    test case. Selection waits long enough for the driver to see the engine again after the cut."""
    cutter = WriteCutter(engine.info.uri, b"\x02insert\x00", b"test_cases\x00")
    via = await cutter.start()
    try:
        async with on_engine(
            engine, "jbts_cut", auth="off", via=via, selection_timeout_ms=30_000
        ) as http:
            yield http, cutter
    finally:
        await cutter.close()


class TestAConnectionBrokenMidWrite:
    async def test_is_a_503_that_never_advises_a_duplicate(
        self, cut_client: tuple[httpx.AsyncClient, WriteCutter]
    ) -> None:
        client, cutter = cut_client

        response = await client.post(TESTS, json={"name": "Login"})

        assert cutter.cut
        body = assert_problem(response, 503)
        assert body["type"] == "/problems/database-unavailable"
        assert "may or may not have been applied" in body["detail"]
        assert "read the resource" in body["detail"]
        assert "new Idempotency-Key" in body["detail"]
        assert "retry with the same" not in body["detail"]

    async def test_keeps_its_key_as_outcome_unknown_and_never_writes_twice(
        self, cut_client: tuple[httpx.AsyncClient, WriteCutter]
    ) -> None:
        client, cutter = cut_client
        keyed = {"Idempotency-Key": "cut-mid-write"}

        first = await client.post(TESTS, json={"name": "Login"}, headers=keyed)
        assert cutter.cut
        assert_problem(first, 503)
        retries = [
            await client.post(TESTS, json={"name": "Login"}, headers=keyed) for _ in range(2)
        ]
        other = await client.post(TESTS, json={"name": "Logout"}, headers=keyed)

        for retry in retries:
            body = assert_problem(retry, 409)
            assert body["type"] == "/problems/idempotency-outcome-unknown"
            assert "retry-after" not in retry.headers
        assert assert_problem(other, 422)["type"] == "/problems/idempotency-key-reused"
        # The write was applied once (the engine committed it before the cut); the client reads
        # that, as the 409 says, instead of writing it again.
        listed = (await client.get(TESTS)).json()
        assert [item["name"] for item in listed["items"]] == ["Login"]


@pytest.fixture
async def unmigrated(
    mongodb_uri: str, mongo: AsyncMongoClient[Any]
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A client of an app whose database has never been migrated, and its name."""
    db_name = f"jbts_test_unmigrated_{uuid.uuid4().hex[:12]}"
    try:
        # Auth off: a key made before the migrations would create `api_keys` without them.
        settings = Settings(mongodb_uri=mongodb_uri, mongodb_db=db_name, JBTS_AUTH=AuthMode.OFF)
        async with served(create_app(settings)) as http:
            yield http, db_name
    finally:
        await mongo.drop_database(db_name)


class TestUnmigratedDatabase:
    async def test_writes_are_refused_until_migrated(
        self, unmigrated: tuple[httpx.AsyncClient, str], mongo: AsyncMongoClient[Any]
    ) -> None:
        client, db_name = unmigrated

        response = await client.post(BROWSERS, json=browser_body("Chrome", is_default=True))

        body = assert_problem(response, 503)
        assert body["type"] == "/problems/schema-not-migrated"
        assert "jbts migrate up" in body["detail"]
        assert int(response.headers["Retry-After"]) >= 1
        assert await mongo[db_name]["browser_configurations"].count_documents({}) == 0

    async def test_every_write_method_is_refused(
        self, unmigrated: tuple[httpx.AsyncClient, str]
    ) -> None:
        client, _ = unmigrated
        target = f"{BROWSERS}/6650f1c2a7b4e3d2c1b0a998"

        for response in (
            await client.patch(target, json={"headless": False}),
            await client.delete(target),
            await client.put(f"/api/v1/tests/{target.rsplit('/', 1)[1]}/steps/order", json={}),
        ):
            assert_problem(response, 503)

    async def test_reads_still_answer(self, unmigrated: tuple[httpx.AsyncClient, str]) -> None:
        client, _ = unmigrated

        response = await client.get(BROWSERS)

        assert response.status_code == 200
        assert response.json()["total"] == 0

    async def test_readiness_says_not_ready_and_what_to_run(
        self, unmigrated: tuple[httpx.AsyncClient, str]
    ) -> None:
        client, _ = unmigrated

        response = await client.get("/health/ready")

        body = assert_problem(response, 503)
        assert body["ready"] is False
        assert "jbts migrate up" in body["detail"]

    async def test_a_keyed_write_refused_for_the_schema_frees_its_key(
        self, unmigrated: tuple[httpx.AsyncClient, str], mongo: AsyncMongoClient[Any]
    ) -> None:
        client, db_name = unmigrated
        keyed = {"Idempotency-Key": "before-migration"}
        refused = await client.post(BROWSERS, json=browser_body("Chrome"), headers=keyed)
        assert assert_problem(refused, 503)["type"] == "/problems/schema-not-migrated"

        await migrations.up(mongo[db_name])
        await _wait_ready(client)
        retry = await client.post(BROWSERS, json=browser_body("Chrome"), headers=keyed)

        assert retry.status_code == 201, retry.text
        assert "Idempotent-Replayed" not in retry.headers
        replay = await client.post(BROWSERS, json=browser_body("Chrome"), headers=keyed)
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert await mongo[db_name]["browser_configurations"].count_documents({}) == 1

    async def test_writes_are_accepted_once_migrated(
        self, unmigrated: tuple[httpx.AsyncClient, str], mongo: AsyncMongoClient[Any]
    ) -> None:
        client, db_name = unmigrated
        assert (await client.post(BROWSERS, json=browser_body("Chrome"))).status_code == 503

        await migrations.up(mongo[db_name])
        await _wait_ready(client)

        response = await client.post(BROWSERS, json=browser_body("Chrome"))
        assert response.status_code == 201, response.text


class TestDatabaseComingBackEmpty:
    async def test_unique_indexes_are_never_missing_under_writes(
        self, client: httpx.AsyncClient, mongo: AsyncMongoClient[Any], settings: Settings
    ) -> None:
        assert (await client.post(BROWSERS, json=browser_body("Chrome"))).status_code == 201

        await mongo.drop_database(settings.mongodb_db)  # the database comes back empty
        readiness = await client.get("/health/ready")
        first = await client.post(BROWSERS, json=browser_body("Chrome", is_default=True))
        second = await client.post(BROWSERS, json=browser_body("Chrome", is_default=True))

        assert assert_problem(readiness, 503)["ready"] is False
        for response in (first, second):
            assert "jbts migrate up" in assert_problem(response, 503)["detail"]
        collection = mongo[settings.mongodb_db]["browser_configurations"]
        assert await collection.count_documents({}) == 0


class TestANewerSchema:
    async def test_writes_are_refused_by_a_service_older_than_the_database(
        self, client: httpx.AsyncClient, mongo: AsyncMongoClient[Any], settings: Settings
    ) -> None:
        newer = migrations.latest_version() + 1
        await mongo[settings.mongodb_db][migrations.MIGRATIONS_COLLECTION].insert_one(
            {"_id": newer, "name": "from a newer service", "applied_at": None}
        )
        assert (await client.get("/health/ready")).status_code == 503

        response = await client.post(BROWSERS, json=browser_body("Chrome"))

        body = assert_problem(response, 503)
        assert "newer" in body["detail"]
