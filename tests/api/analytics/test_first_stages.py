"""Every analytics pipeline starts with an indexed `$match`, and names the index that serves it.

The routes are taken from the app's OpenAPI (every route under `/executions/analytics`,
a case's stats, a suite's report), called with each kind of filter, and every `aggregate`
command they send is captured from the driver: its first stage must be a `$match` whose
`hint` names an index of that collection, and the index's first key must be one the `$match`
constrains. `pytest -s` prints the list: route, filter, collection, first-stage keys, index.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo import monitoring
from pymongo.asynchronous.database import AsyncDatabase

from api.main import create_app
from api.settings import Settings
from tests.api.analytics.history import T0, RunSpec, days, write_history
from tests.api.helpers import create_browser, create_environment

API = "/api/v1"
ANALYTICS = f"{API}/executions/analytics/"
OTHER_ROUTES = (f"{API}/tests/{{id}}/stats", f"{API}/suites/{{id}}/report")


@dataclass(frozen=True)
class Aggregate:
    collection: str
    pipeline: list[dict[str, Any]]
    hint: Any


class Recorder(monitoring.CommandListener):
    def __init__(self) -> None:
        self.aggregates: list[Aggregate] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "aggregate":
            command = event.command
            self.aggregates.append(
                Aggregate(command["aggregate"], list(command["pipeline"]), command.get("hint"))
            )

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def app(
    settings: Settings, db: AsyncDatabase[Any], recorder: Recorder
) -> AsyncIterator[FastAPI]:
    application = create_app(settings, command_listeners=[recorder])
    async with application.router.lifespan_context(application):
        yield application


def analytics_paths(app: FastAPI) -> list[str]:
    """The GET paths of analytics, from the app's OpenAPI (which lists every route)."""
    return sorted(
        path
        for path, operations in app.openapi()["paths"].items()
        if "get" in operations
        if path.startswith(ANALYTICS) or path in OTHER_ROUTES
    )


async def index_keys(db: AsyncDatabase[Any], collection: str) -> dict[str, list[str]]:
    return {info["name"]: list(info["key"]) async for info in await db[collection].list_indexes()}


async def test_every_analytics_pipeline_starts_with_an_indexed_match(
    client: httpx.AsyncClient, db: AsyncDatabase[Any], app: FastAPI, recorder: Recorder
) -> None:
    environment = (await create_environment(client, "staging"))["id"]
    browser = (await create_browser(client, "Chrome"))["id"]
    configured = {"environment_id": environment, "browser_configuration_id": browser}
    written = await write_history(
        client,
        db,
        [
            RunSpec(at=T0, results={"log in": "FP", "search": "P"}, suite="web", **configured),
            RunSpec(
                at=T0 + days(1), results={"log in": "F", "search": "P"}, suite="web", **configured
            ),
        ],
        suites={"web": ["log in", "search"]},
        tags={"log in": ["smoke"]},
    )
    case_id, suite_id = written.case_id("log in"), written.suites["web"]["id"]
    window = {"from": "2026-03-01", "to": "2026-03-10"}
    filters: dict[str, dict[str, str]] = {
        "window": {},
        "suite": {"suite_id": suite_id},
        "case": {"test_case_id": case_id},
        "tags": {"tags": "smoke"},
        "branch": {"branch": "main"},
        "trigger": {"trigger": "ci,schedule"},
        "environment": {"environment_id": environment},
        "browser": {"browser_configuration_id": browser},
    }
    paths = analytics_paths(app)
    assert any(path.startswith(ANALYTICS) for path in paths)
    listing: list[tuple[str, str, str, list[str], str]] = []
    for path in paths:
        url = path.replace("{id}", case_id if path.startswith(f"{API}/tests/") else suite_id)
        for name, extra in filters.items():
            if path == OTHER_ROUTES[0] and name == "case":
                continue  # the case is the path's
            if path == OTHER_ROUTES[1] and name != "window":
                continue  # a suite report takes its suite's latest runs, not filters
            params = {**extra} if path == OTHER_ROUTES[1] else {**window, **extra}
            recorder.aggregates.clear()
            response = await client.get(url, params=params)
            assert response.status_code == 200, (url, params, response.text)
            assert recorder.aggregates, f"{path} ({name}) computed no figure in the database"
            for aggregate in recorder.aggregates:
                first = aggregate.pipeline[0]
                assert "$match" in first, (path, name, first)
                indexes = await index_keys(db, aggregate.collection)
                assert isinstance(aggregate.hint, str), (path, name, "no hint")
                assert aggregate.hint in indexes, (path, name, aggregate.hint)
                leading = indexes[aggregate.hint][0]
                assert leading in first["$match"], (path, name, leading, first)
                listing.append(
                    (path, name, aggregate.collection, sorted(first["$match"]), aggregate.hint)
                )
    for row in listing:
        print(*row, sep=" | ")
    listed = {(path, name) for path, name, *_ in listing}
    for path in paths:
        if path != OTHER_ROUTES[1]:
            assert {name for name in filters if (path, name) in listed} == set(filters) - (
                {"case"} if path == OTHER_ROUTES[0] else set()
            ), path
