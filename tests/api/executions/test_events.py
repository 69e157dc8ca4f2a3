"""`GET /executions/runs/{id}/events`: a run's live status as Server-Sent Events.

httpx's ASGI transport hands over a response only once the app has finished it, so the streams
are read from a real uvicorn serving the test's app in this event loop (`events_server`), while
the run is driven through the in-process `client`. Every wait is on an event, with a generous
bound: nothing here measures time.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from bson import ObjectId
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from api.database.capabilities import Capabilities
from api.deps import get_capabilities
from api.settings import Settings
from tests.api.executions.helpers import (
    EXECUTIONS,
    RUNS,
    create_case,
    create_run,
    get_run,
    run_executions,
    set_status,
    write_without_closing,
)
from tests.api.helpers import UNKNOWN_ID, assert_invalid, assert_problem

BOUND = 60.0
"""The longest any one wait here may take before it fails: a bound, not an expectation."""
EVENTS_LOGGER = "api.executions.events"


# -- reading a stream -----------------------------------------------------------------------------


@dataclass
class Sse:
    """One event of the stream (`data` decoded), or a comment (`comment` set)."""

    event: str | None = None
    id: str | None = None
    data: Any = None
    retry: int | None = None
    comment: str | None = None

    def of_execution(self, execution_id: str, status: str) -> bool:
        return (
            self.event == "execution"
            and self.data["id"] == execution_id
            and self.data["status"] == status
        )


@dataclass
class EventReader:
    """Parses `text/event-stream` lines as they arrive (the HTML standard's rules, as far as
    this stream uses them)."""

    response: httpx.Response
    seen: list[Sse] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lines = self.response.aiter_lines()

    async def _next(self) -> Sse | None:
        pending = Sse()
        data: list[str] = []
        async for line in self._lines:
            if line == "":
                if data:
                    pending.data = json.loads("\n".join(data))
                    return pending
                if pending.retry is not None:
                    return pending
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                return Sse(comment=value)
            if name == "event":
                pending.event = value
            elif name == "id":
                pending.id = value
            elif name == "data":
                data.append(value)
            elif name == "retry":
                pending.retry = int(value)
        return None

    async def next(self) -> Sse | None:
        """The next event or comment, None when the stream ended (within BOUND seconds)."""
        item = await asyncio.wait_for(self._next(), BOUND)
        if item is not None:
            self.seen.append(item)
        return item

    async def event(self) -> Sse:
        """The next event, past comments and `retry`."""
        while True:
            item = await self.next()
            assert item is not None, f"the stream ended; seen: {self.seen}"
            if item.event is not None:
                return item

    async def until(self, wanted: Callable[[Sse], bool]) -> list[Sse]:
        """Events up to and including the first one `wanted`."""
        events = [await self.event()]
        while not wanted(events[-1]):
            events.append(await self.event())
        return events

    async def rest(self) -> list[Sse]:
        """Every event up to the end of the stream, which must come."""
        events: list[Sse] = []
        while (item := await self.next()) is not None:
            if item.event is not None:
                events.append(item)
        return events


@dataclass
class EventsServer:
    server: uvicorn.Server
    http: httpx.AsyncClient

    @asynccontextmanager
    async def open(
        self, run_id: str, last_event_id: str | None = None
    ) -> AsyncIterator[EventReader]:
        headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
        async with self.http.stream("GET", f"{RUNS}/{run_id}/events", headers=headers) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache"
            assert response.headers["x-accel-buffering"] == "no"
            reader = EventReader(response)
            first = await reader.next()
            assert first is not None
            assert first.retry == 2000
            yield reader

    async def wait_until_idle(self) -> None:
        """Until the server has no request in progress: a closed stream left nothing running."""
        async with asyncio.timeout(BOUND):
            while self.server.server_state.tasks:  # noqa: ASYNC110 - uvicorn exposes only this
                await asyncio.sleep(0.01)


@pytest.fixture
def settings(mongodb_uri: str, db_name: str) -> Settings:
    """Polled every 50 ms, a heartbeat every half second."""
    return Settings(mongodb_uri=mongodb_uri, mongodb_db=db_name).model_copy(
        update={"events_poll_ms": 50, "events_heartbeat_s": 0.5}
    )


@pytest.fixture
async def events_server(app: FastAPI, admin_key: str) -> AsyncIterator[EventsServer]:
    """The test's app (already started) in a real uvicorn in this event loop."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_config=None,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(BOUND):
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes only this flag
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    timeout = httpx.Timeout(BOUND)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            timeout=timeout,
            headers={"Authorization": f"Bearer {admin_key}"},
        ) as http:
            yield EventsServer(server=server, http=http)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, BOUND)


async def queued_run(client: httpx.AsyncClient, cases: int) -> tuple[str, list[str]]:
    """A run with `cases` queued executions: its id, and theirs in `_id` order."""
    made = [await create_case(client, f"case {n}") for n in range(cases)]
    run = await create_run(client, test_case_ids=[case["id"] for case in made])
    executions = sorted(execution["id"] for execution in await run_executions(client, run["id"]))
    return run["id"], executions


def changed(execution_id: str, status: str) -> Callable[[Sse], bool]:
    return lambda event: event.of_execution(execution_id, status)


def position(event: Sse) -> tuple[int, str]:
    """Where an event is in the stream's order (a `run` event after the executions of its id)."""
    assert event.id is not None
    seq, _, execution = event.id.partition(":")
    return int(seq), execution or "~"


def assert_in_order(events: list[Sse]) -> None:
    ids = [position(event) for event in events]
    assert ids == sorted(ids), ids
    executions = [event.id for event in events if event.event == "execution"]
    assert len(executions) == len(set(executions)), executions


# -- the whole life of a run ----------------------------------------------------------------------


async def drive_a_run(client: httpx.AsyncClient, events_server: EventsServer) -> None:
    """Run two executions to passed and failed, checking the stream after each change."""
    run_id, (first, second) = await queued_run(client, 2)

    async with events_server.open(run_id) as stream:
        opening = await stream.event()
        assert opening.event == "run"
        assert opening.id == str(opening.data["version"])
        assert opening.data["id"] == run_id
        assert opening.data["status"] == "queued"
        assert opening.data["counters"]["queued"] == 2

        received = [opening]
        for execution, status in [
            (first, "running"),
            (first, "passed"),
            (second, "running"),
            (second, "failed"),
        ]:
            await set_status(client, execution, status)
            events = await stream.until(changed(execution, status))
            events.append(await stream.event())  # the run as this change left it
            assert events[-1].event == "run", events
            received.extend(events)
        received.extend(await stream.rest())

    changes = [(e.data["id"], e.data["status"]) for e in received if e.event == "execution"]
    assert changes == [
        (first, "running"),
        (first, "passed"),
        (second, "running"),
        (second, "failed"),
    ]
    assert_in_order(received)
    final = received[-1]
    assert final.event == "run"
    assert final.data["status"] == "failed"
    counters = final.data["counters"]
    assert (counters["passed"], counters["failed"], counters["total"]) == (1, 1, 2)
    assert final.data["finished_at"] is not None
    assert final.data["version"] == (await get_run(client, run_id))["version"]
    passed = next(e for e in received if e.of_execution(first, "passed"))
    assert passed.data["test_case_name"] == "case 0"
    assert passed.data["attempt"] == 1
    assert passed.data["duration_ms"] is not None
    assert passed.id == f"{passed.data['run_seq']}:{first}"


class TestPollingPath:
    async def test_a_run_from_start_to_end(
        self, client: httpx.AsyncClient, events_server: EventsServer
    ) -> None:
        await drive_a_run(client, events_server)
        await events_server.wait_until_idle()

    async def test_an_execution_event_says_why_it_failed(
        self, client: httpx.AsyncClient, events_server: EventsServer
    ) -> None:
        run_id, (execution,) = await queued_run(client, 1)
        await set_status(client, execution, "running", worker="ci-agent-7")
        await set_status(client, execution, "failed", error={"message": "Timeout 30000ms exceeded"})

        async with events_server.open(run_id, last_event_id="0") as stream:
            events = await stream.rest()

        queued, running, failed = [event for event in events if event.event == "execution"]
        assert (queued.data["status"], running.data["status"]) == ("queued", "running")
        assert running.data["error_message"] is None  # not its error yet
        assert failed.data["status"] == "failed"
        assert failed.data["error_message"] == "Timeout 30000ms exceeded"
        assert failed.data["worker"] == "ci-agent-7"
        assert events[-1].event == "run"
        assert events[-1].data["status"] == "failed"


class TestEveryTransition:
    async def test_changes_made_before_the_stream_reads_are_each_an_event(
        self, client: httpx.AsyncClient, events_server: EventsServer
    ) -> None:
        run_id, (execution,) = await queued_run(client, 1)
        await set_status(client, execution, "running")
        done = await set_status(client, execution, "passed")

        async with events_server.open(run_id, last_event_id="0") as stream:
            events = await stream.rest()

        changes = [event for event in events if event.event == "execution"]
        assert [(e.data["id"], e.data["status"]) for e in changes] == [
            (execution, "queued"),
            (execution, "running"),
            (execution, "passed"),
        ]
        assert [e.id for e in changes] == [f"{e.data['run_seq']}:{execution}" for e in changes]
        queued, running, passed = changes
        assert queued.data["started_at"] is None
        assert running.data["started_at"] is not None
        assert (running.data["finished_at"], running.data["duration_ms"]) == (None, None)
        assert passed.data["duration_ms"] == done["duration_ms"]
        assert passed.data["finished_at"] is not None
        assert passed.data["run_seq"] == done["run_seq"]
        assert events[-1].event == "run"
        assert events[-1].data["status"] == "passed"
        assert_in_order(events)

        # Resuming from the `running` event sends the `passed` one, and the run.
        async with events_server.open(run_id, last_event_id=running.id) as stream:
            resumed = await stream.rest()
        assert [(e.event, e.id) for e in resumed] == [
            ("execution", passed.id),
            ("run", events[-1].id),
        ]
        await events_server.wait_until_idle()

    async def test_a_stream_open_during_the_changes_sends_each_one(
        self, client: httpx.AsyncClient, events_server: EventsServer
    ) -> None:
        run_id, (first, second) = await queued_run(client, 2)

        async with events_server.open(run_id) as stream:
            assert (await stream.event()).event == "run"
            # Both changes may fall between two looks of the loop: each is still sent.
            await set_status(client, first, "running")
            await set_status(client, first, "passed")
            events = await stream.until(changed(first, "passed"))
            await client.post(f"{RUNS}/{run_id}/cancel")
            events.extend(await stream.rest())

        changes = [(e.data["id"], e.data["status"]) for e in events if e.event == "execution"]
        assert changes == [(first, "running"), (first, "passed"), (second, "cancelled")]
        assert_in_order(events)
        await events_server.wait_until_idle()

    async def test_bulk_reports_are_transitions_too(
        self, client: httpx.AsyncClient, events_server: EventsServer
    ) -> None:
        run_id, (queued,) = await queued_run(client, 1)
        [queued_case] = [e["test_case_id"] for e in await run_executions(client, run_id)]
        other = await create_case(client, "reported only")
        results = [
            {"run_id": run_id, "test_case_id": queued_case, "status": "passed"},
            {"run_id": run_id, "test_case_id": other["id"], "status": "failed"},
        ]
        reported = await client.post(f"{EXECUTIONS}/bulk", json={"results": results})
        assert reported.status_code == 200, reported.text
        created = reported.json()["results"][1]["id"]

        async with events_server.open(run_id, last_event_id="0") as stream:
            events = await stream.rest()

        changes = [(e.data["id"], e.data["status"]) for e in events if e.event == "execution"]
        # Straight from queued to passed; the new one is created failed: one transition.
        assert sorted(changes) == sorted(
            [(queued, "queued"), (queued, "passed"), (created, "failed")]
        )
        assert changes[0] == (queued, "queued")
        assert_in_order(events)

    async def test_an_execution_written_before_transitions_is_one_event(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], events_server: EventsServer
    ) -> None:
        run_id, (execution,) = await queued_run(client, 1)
        running = await set_status(client, execution, "running")
        await db["test_executions"].update_one(
            {"_id": ObjectId(execution)}, {"$unset": {"transitions": ""}}
        )

        async with events_server.open(run_id, last_event_id="0") as stream:
            opening = [await stream.event(), await stream.event()]

        assert [(e.event, e.data["status"]) for e in opening] == [
            ("execution", "running"),
            ("run", "running"),
        ]
        assert opening[0].id == f"{running['run_seq']}:{execution}"
        await events_server.wait_until_idle()


class TestObservedCounters:
    async def test_the_first_run_event_counts_a_change_not_yet_closed(
        self, client: httpx.AsyncClient, events_server: EventsServer
    ) -> None:
        run_id, (first, _) = await queued_run(client, 2)
        await write_without_closing(first, "running")

        async with events_server.open(run_id) as stream:
            opening = await stream.event()

        assert opening.event == "run"
        counters = opening.data["counters"]
        assert (counters["queued"], counters["running"], counters["total"]) == (1, 1, 2)
        await events_server.wait_until_idle()


class TestFinishedRun:
    async def test_its_stream_is_its_state_and_ends(
        self, client: httpx.AsyncClient, events_server: EventsServer
    ) -> None:
        run_id, _ = await queued_run(client, 2)
        cancelled = await client.post(f"{RUNS}/{run_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text

        async with events_server.open(run_id) as stream:
            events = await stream.rest()

        [run] = events
        assert run.event == "run"
        assert run.data["status"] == "cancelled"
        assert run.data["counters"]["cancelled"] == 2
        assert run.id == str(cancelled.json()["version"])

    async def test_with_a_last_event_id_the_executions_after_it_come_first(
        self, client: httpx.AsyncClient, events_server: EventsServer
    ) -> None:
        run_id, executions = await queued_run(client, 2)
        before = await get_run(client, run_id)
        await client.post(f"{RUNS}/{run_id}/cancel")

        async with events_server.open(run_id, last_event_id=str(before["version"])) as stream:
            events = await stream.rest()

        assert [(e.event, e.data["id"]) for e in events] == [
            ("execution", executions[0]),
            ("execution", executions[1]),
            ("run", run_id),
        ]
        assert {e.data["status"] for e in events} == {"cancelled"}
        # One change (the cancel) stamped both: their ids share its number.
        assert len({position(e)[0] for e in events[:2]}) == 1
        assert_in_order(events)


class TestResume:
    async def test_reconnecting_with_the_last_id_misses_nothing_and_repeats_nothing(
        self, client: httpx.AsyncClient, events_server: EventsServer
    ) -> None:
        run_id, (first, second, third) = await queued_run(client, 3)
        received: list[Sse] = []

        async with events_server.open(run_id) as stream:
            received.append(await stream.event())
            await set_status(client, first, "running")
            received.extend(await stream.until(changed(first, "running")))
        # Gone right after an execution event, before the run event that follows it.
        await events_server.wait_until_idle()
        await set_status(client, first, "passed")
        cancelled = await client.post(f"{RUNS}/{run_id}/cancel")  # one change, two executions
        assert cancelled.status_code == 200, cancelled.text

        async with events_server.open(run_id, last_event_id=received[-1].id) as stream:
            # Gone between the two executions the cancel changed.
            received.extend(await stream.until(changed(second, "cancelled")))
        await events_server.wait_until_idle()

        async with events_server.open(run_id, last_event_id=received[-1].id) as stream:
            received.extend(await stream.rest())

        executions = [(e.data["id"], e.data["status"]) for e in received if e.event == "execution"]
        assert executions == [
            (first, "running"),
            (first, "passed"),
            (second, "cancelled"),
            (third, "cancelled"),
        ]
        assert_in_order(received)
        assert received[-1].event == "run"
        assert received[-1].data["status"] == "cancelled"
        assert received[-1].data["counters"]["passed"] == 1
        assert received[-1].data["counters"]["cancelled"] == 2


class TestHeartbeat:
    async def test_a_comment_comes_while_nothing_changes(
        self, client: httpx.AsyncClient, events_server: EventsServer
    ) -> None:
        run_id, _ = await queued_run(client, 1)

        async with events_server.open(run_id) as stream:
            opening = await stream.event()
            comment = await stream.next()

        assert opening.event == "run"
        assert comment is not None
        assert comment.comment == "keep-alive"
        await events_server.wait_until_idle()


class TestRefused:
    async def test_an_unknown_run_is_a_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"{RUNS}/{UNKNOWN_ID}/events")

        assert_problem(response, 404)

    async def test_a_malformed_id_is_a_422(self, client: httpx.AsyncClient) -> None:
        assert_invalid(await client.get(f"{RUNS}/nope/events"), "path.id")

    @pytest.mark.parametrize("last_event_id", ["x", "-1", "7:", "7:nope", "7:" + "A" * 24, "1 2"])
    async def test_a_malformed_last_event_id_is_a_422(
        self, client: httpx.AsyncClient, last_event_id: str
    ) -> None:
        run_id, _ = await queued_run(client, 1)

        response = await client.get(
            f"{RUNS}/{run_id}/events", headers={"Last-Event-ID": last_event_id}
        )

        assert_invalid(response, "header.Last-Event-ID")

    async def test_an_id_the_run_has_not_sent_is_a_422(self, client: httpx.AsyncClient) -> None:
        run_id, _ = await queued_run(client, 1)
        version = (await get_run(client, run_id))["version"]

        response = await client.get(
            f"{RUNS}/{run_id}/events", headers={"Last-Event-ID": str(version + 1)}
        )

        body = assert_invalid(response, "header.Last-Event-ID")
        assert "latest event" in body["detail"]


class TestChangeStreamFallback:
    async def test_a_failing_change_stream_falls_back_to_polling(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        events_server: EventsServer,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """As on a deployment that says it has change streams and then refuses `watch`."""
        probed = await get_capabilities(app.state.database)
        if probed.change_streams:
            pytest.skip("this deployment has change streams: nothing to fall back from")
        claimed = probed.model_copy(update={"change_streams": True})
        app.dependency_overrides[get_capabilities] = lambda: claimed
        caplog.set_level(logging.DEBUG, logger=EVENTS_LOGGER)
        try:
            await drive_a_run(client, events_server)
        finally:
            app.dependency_overrides.clear()

        assert any("polling" in r.getMessage() for r in caplog.records if r.name == EVENTS_LOGGER)


# -- the change-stream path -----------------------------------------------------------------------


@pytest.mark.real_mongodb
class TestChangeStreamPath:
    @pytest.fixture
    def settings(self, mongodb_uri: str, db_name: str) -> Settings:
        """Polling so slow that a stream moving along is the change stream's doing."""
        return Settings(mongodb_uri=mongodb_uri, mongodb_db=db_name).model_copy(
            update={"events_poll_ms": 60_000, "events_heartbeat_s": 30.0}
        )

    async def test_a_run_from_start_to_end(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        events_server: EventsServer,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        capabilities: Capabilities = await get_capabilities(app.state.database)
        if not capabilities.change_streams:
            pytest.skip("MONGODB_URI is not a replica set: the probe finds no change streams")
        caplog.set_level(logging.DEBUG, logger=EVENTS_LOGGER)

        await drive_a_run(client, events_server)

        await events_server.wait_until_idle()
        fallbacks = [r for r in caplog.records if r.name == EVENTS_LOGGER]
        assert not fallbacks, [r.getMessage() for r in fallbacks]
