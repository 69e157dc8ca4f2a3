"""Database round trips per request stay bounded, whatever the sizes involved.

The app's client reports every command it sends (PyMongo command monitoring, as `jbts bench`
counts them); a request's commands are those started while it runs. The periodic schema check
(`schema_migrations`, at most every few seconds, shared by all requests) is left out: it belongs
to no request in particular.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from api.database.capabilities import EMBEDDED_WRITE_BATCH
from api.database.migrations import MIGRATIONS_COLLECTION
from api.main import create_app
from api.settings import Settings
from scripts.bench.recorder import CommandRecorder
from tests.api.executions.helpers import RUNS
from tests.api.helpers import create_browser, create_environment, served
from tests.api.suites.helpers import SUITES, TESTS, create_cases, create_suite
from tests.conftest import REAL_MONGODB


@pytest.fixture
def recorder() -> CommandRecorder:
    return CommandRecorder()


@pytest.fixture
async def recorded(
    settings: Settings, db: AsyncDatabase[Any], recorder: CommandRecorder
) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings, command_listeners=[recorder])
    async with served(app) as http:
        yield http


async def commands(
    recorder: CommandRecorder, client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> list[str]:
    """The commands one request sends (`find test_cases`, ...), the schema check and the API
    key's lookup (`test_the_key_check_is_one_find`) left out."""
    return [c for c in await all_commands(recorder, client, method, url, **kwargs) if KEYS not in c]


async def all_commands(
    recorder: CommandRecorder, client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> list[str]:
    with recorder.window() as window:
        response = await client.request(method, url, **kwargs)
    assert response.is_success, response.text
    return [c.label for c in window.commands if MIGRATIONS_COLLECTION not in c.label]


KEYS = "api_keys"


async def test_the_key_check_is_one_find(
    recorded: httpx.AsyncClient, recorder: CommandRecorder
) -> None:
    [case_id] = await create_cases(recorded, "Alpha")  # the key's last use is recorded

    sent = await all_commands(recorder, recorded, "GET", f"{TESTS}/{case_id}")

    assert sent == ["find api_keys", "find test_cases"]


async def test_a_get_is_one_round_trip(
    recorded: httpx.AsyncClient, recorder: CommandRecorder
) -> None:
    [case_id] = await create_cases(recorded, "Alpha")

    assert await commands(recorder, recorded, "GET", f"{TESTS}/{case_id}") == ["find test_cases"]


@pytest.mark.parametrize("query", ["", "?status=draft&tags=smoke", "?sort_by=priority&page=2"])
async def test_a_list_page_is_a_find_and_a_count(
    recorded: httpx.AsyncClient, recorder: CommandRecorder, query: str
) -> None:
    await create_cases(recorded, "Alpha", "Bravo", "Charlie")
    await recorded.get(TESTS)  # the deployment's capabilities are probed once, at first use

    sent = await commands(recorder, recorded, "GET", f"{TESTS}{query}")

    assert sent == ["find test_cases", "count test_cases"]


async def test_a_suite_page_costs_two_round_trips_whatever_the_suite_size(
    recorded: httpx.AsyncClient, recorder: CommandRecorder
) -> None:
    ids = await create_cases(recorded, *(f"Case {n}" for n in range(12)))
    small = await create_suite(recorded, "Small", test_case_ids=ids[:3])
    large = await create_suite(recorded, "Large", test_case_ids=ids)

    for suite, query in [(small, ""), (large, "?limit=5"), (large, "?limit=5&page=3&order=desc")]:
        sent = await commands(recorder, recorded, "GET", f"{SUITES}/{suite['id']}/tests{query}")
        assert sent == ["aggregate test_suites", "aggregate test_suites"], query


@pytest.mark.parametrize("size", [3, 40])
async def test_a_bulk_looks_each_named_configuration_up_once(
    recorded: httpx.AsyncClient, recorder: CommandRecorder, size: int
) -> None:
    browser = await create_browser(recorded, "Chrome")
    environment = await create_environment(recorded, "staging")
    references = {"browser_configuration_id": browser["id"], "environment_id": environment["id"]}
    operations = [
        {"op": "create", "data": {"name": f"Case {n}", **references}} for n in range(size)
    ]

    sent = await commands(
        recorder, recorded, "POST", f"{TESTS}/bulk", json={"operations": operations}
    )

    assert sorted(sent) == [
        "find browser_configurations",
        "find test_environments",
        "insert test_cases",
    ]


async def test_a_bulk_over_one_batch_is_one_write_on_mongodb_and_bounded_batches_here(
    recorded: httpx.AsyncClient, recorder: CommandRecorder
) -> None:
    """MongoDB takes the whole bulk in one command; the embedded engine gets bounded batches
    (`Capabilities.write_batch`), so no single command runs long enough to be abandoned."""
    size = 150
    operations = [{"op": "create", "data": {"name": f"Case {n}"}} for n in range(size)]
    await recorded.get(TESTS)  # the deployment's capabilities are probed once, at first use

    sent = await commands(
        recorder, recorded, "POST", f"{TESTS}/bulk", json={"operations": operations}
    )

    if REAL_MONGODB:
        assert sent == ["insert test_cases"]
        assert len(sent) <= 2
    else:
        assert sent == ["insert test_cases"] * math.ceil(size / EMBEDDED_WRITE_BATCH)
        assert len(sent) <= math.ceil(size / EMBEDDED_WRITE_BATCH) + 1
    page = (await recorded.get(TESTS, params={"limit": 1})).json()
    assert page["total"] == size


@pytest.mark.parametrize("runs", [1, 6])
async def test_a_case_history_page_costs_four_round_trips_whatever_the_runs(
    recorded: httpx.AsyncClient, recorder: CommandRecorder, runs: int
) -> None:
    [case_id] = await create_cases(recorded, "Alpha")
    for number in range(runs):
        body = {"name": f"run {number}", "test_case_ids": [case_id]}
        assert (await recorded.post(RUNS, json=body)).status_code == 201

    for query in ["", "?limit=2&status=queued", "?fields=run_name,status"]:
        sent = await commands(recorder, recorded, "GET", f"{TESTS}/{case_id}/history{query}")
        assert sent == [
            "find test_cases",
            "find test_executions",
            "count test_executions",
            "find test_runs",
        ], query
    # Without run fields, the runs are not read.
    sent = await commands(recorder, recorded, "GET", f"{TESTS}/{case_id}/history?fields=status")
    assert sent == ["find test_cases", "find test_executions", "count test_executions"]
