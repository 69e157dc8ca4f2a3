"""`jbts bench`: what it measures per request, on a tiny data set filled through the API.

No timing is asserted (performance is what the benchmark reports, not what tests check); the
round trips per request are behaviour, and are.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from api.database.capabilities import probe
from api.database.connection import open_client
from api.settings import Settings
from scripts.bench.measure import AppLog, OperationResult, Spread, percentile
from scripts.bench.operations import (
    BENCH_TAG,
    BenchError,
    Goal,
    Operation,
    Picks,
    Read,
    build_operations,
    case_body,
    pick,
)
from scripts.bench.recorder import CommandRecorder
from scripts.bench.run import bench_app
from tests.api.helpers import UNKNOWN_ID

TESTS = "/api/v1/tests"
CASES = 6


@pytest.fixture
async def tiny(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Six cases (two of them active and tagged `smoke`) and a suite holding all of them."""
    created = []
    for number in range(CASES):
        body = case_body(number)
        body["tags"] = ["smoke"] if number % 3 == 0 else ["regression"]
        body["status"] = "active" if number % 3 == 0 else "draft"
        response = await client.post(TESTS, json=body)
        assert response.status_code == 201, response.text
        created.append(response.json())
    suite = {"name": "Checkout", "test_case_ids": [case["id"] for case in created]}
    assert (await client.post("/api/v1/suites", json=suite)).status_code == 201
    return created


@pytest.fixture
async def raw(
    mongodb_uri: str, db: AsyncDatabase[Any]
) -> AsyncIterator[tuple[AsyncDatabase[Any], CommandRecorder]]:
    """The test's database on a second client, with a recorder: where raw equivalents run."""
    commands = CommandRecorder()
    client = open_client(mongodb_uri, command_listeners=[commands])
    try:
        yield client[db.name], commands
    finally:
        await client.close()


async def operations(
    raw_db: AsyncDatabase[Any], settings: Settings
) -> tuple[Picks, dict[str, Operation]]:
    assert settings.mongodb_uri is not None
    capabilities = await probe(raw_db.client, raw_db, key=settings.mongodb_uri)
    picks = await pick(raw_db, full_text=capabilities.full_text_search)
    built = build_operations(raw_db, picks, full_text=capabilities.full_text_search)
    return picks, {operation.name.split(" (")[0]: operation for operation in built}


def well_formed(result: OperationResult, reps: int) -> None:
    assert result.reps == reps
    for spread in (result.latency_ms, result.database_ms, result.raw.latency_ms):
        assert 0 < spread.p50 <= spread.p95 <= spread.max
    assert result.ratio is not None
    assert result.ratio > 0
    assert result.target != "-"


class TestPicks:
    async def test_targets_come_from_the_data(
        self,
        tiny: list[dict[str, Any]],
        raw: tuple[AsyncDatabase[Any], CommandRecorder],
        settings: Settings,
    ) -> None:
        picks, _ = await operations(raw[0], settings)

        assert picks.cases == CASES
        assert str(picks.case_id) in {case["id"] for case in tiny}
        assert picks.status == "draft"  # the most common status
        assert picks.tag == "regression"  # the most common tag among draft cases
        assert picks.word in {"checkout", "saved"}  # words of five letters or more in names
        assert picks.suite_size == CASES


class TestMeasuring:
    async def test_reads_take_the_round_trips_they_should(
        self,
        tiny: list[dict[str, Any]],
        raw: tuple[AsyncDatabase[Any], CommandRecorder],
        settings: Settings,
    ) -> None:
        raw_db, raw_commands = raw
        _, ops = await operations(raw_db, settings)

        async with bench_app(settings, raw_commands) as bench:
            results = {
                name: await bench.run(ops[name], reps=2)
                for name in ("get test case", "list test cases", "search", "suite page")
            }

        get = results["get test case"]
        well_formed(get, 2)
        assert get.round_trips == 1
        assert get.commands == {"find test_cases": 1.0}
        assert get.raw.round_trips == 1
        assert get.misses == [] or all("round trips" not in miss for miss in get.misses)
        for name in ("list test cases", "search", "suite page"):
            well_formed(results[name], 2)
            # A page and a count (a suite's page also reads the suite): bounded, never per item.
            assert 1 <= results[name].round_trips <= 3, results[name].commands
            assert results[name].round_trips == sum(results[name].commands.values())
        assert results["list test cases"].raw.round_trips == 2  # a page and a count
        # Every command on the data belongs to a request; between requests the app's client
        # only started up (Beanie), re-read the schema version (the benchmark's refresh before
        # each request, outside the measured time) and ended its sessions.
        outside = bench.app_commands.outside
        assert not [label for label in outside if label.endswith(("test_cases", "test_suites"))]
        assert outside["find schema_migrations"] == 4 * 3  # warm-up and two reps of four reads

    async def test_writes_leave_the_data_as_they_found_it(
        self,
        tiny: list[dict[str, Any]],
        raw: tuple[AsyncDatabase[Any], CommandRecorder],
        settings: Settings,
    ) -> None:
        raw_db, raw_commands = raw
        picks, ops = await operations(raw_db, settings)
        names = ("update test case", "append step", "create test case", "bulk create 100")

        async with bench_app(settings, raw_commands) as bench:
            results = {name: await bench.run(ops[name], reps=2) for name in names}

        for name in ("update test case", "append step", "create test case"):
            well_formed(results[name], 2)
            assert results[name].round_trips == 1, results[name].commands
        bulk = results["bulk create 100"]
        well_formed(bulk, 1)  # bulk writes run one rep in five
        assert bulk.round_trips <= 2
        assert bulk.raw.round_trips == 1
        # Created cases were deleted and the appended step removed after each rep.
        assert await raw_db["test_cases"].count_documents({}) == CASES
        assert await raw_db["test_cases"].count_documents({"tags": BENCH_TAG}) == 0
        # (Read directly: Beanie binds its documents to the last app started, now closed.)
        case = await raw_db["test_cases"].find_one({"_id": picks.case_id})
        assert case is not None
        assert len(case["steps"]) == picks.case_steps
        # Each PATCH sent If-Match with the version it last saw (warm-up + 2 reps, and as
        # many raw updates); appending steps added 3 + 3 more.
        assert case["version"] == picks.case_version + 12


class TestErrors:
    async def test_an_error_answer_stops_the_benchmark_with_one_line(
        self,
        db: AsyncDatabase[Any],
        raw: tuple[AsyncDatabase[Any], CommandRecorder],
        settings: Settings,
    ) -> None:
        _, raw_commands = raw

        async def nothing() -> None:
            return None

        missing = Read(
            "get a case that is not there",
            f"{TESTS}/{UNKNOWN_ID}",
            route=f"GET {TESTS}/{{id}}",
            goal=Goal(),
            raw_query="-",
            query=nothing,
        )

        async with bench_app(settings, raw_commands) as bench:
            with pytest.raises(BenchError) as raised:
                await bench.run(missing, reps=1)

        assert str(raised.value) == (
            f"GET {TESTS}/{UNKNOWN_ID} answered 404: test case {UNKNOWN_ID} does not exist"
        )

    def test_an_unhandled_error_is_named_by_its_exception(self) -> None:
        log = AppLog()
        try:
            raise ValueError("bad state")
        except ValueError:
            record = logging.LogRecord(
                "api.errors", logging.ERROR, __file__, 1, "unhandled", None, sys.exc_info()
            )
        log.emit(record)

        assert log.last_error() == "ValueError: bad state"
        assert log.lines() == ["ERROR: unhandled"]


class TestStatistics:
    def test_nearest_rank_percentiles(self) -> None:
        values = [float(n) for n in range(1, 21)]  # 1..20

        assert percentile(values, 0.5) == 10
        assert percentile(values, 0.95) == 19
        assert percentile([7.0], 0.95) == 7
        assert Spread.of([3.0, 1.0, 2.0]) == Spread(p50=2, p95=3, max=3)

    def test_a_goal_names_what_is_missed(self) -> None:
        goal = Goal(p95_ms=100, service_p50_ms=2, round_trips=1)

        assert goal.describe() == "p95<100 svc≤2 trips≤1"
        assert goal.misses(p95_ms=99.9, service_p50_ms=2, round_trips=1) == []
        assert goal.misses(p95_ms=100, service_p50_ms=2.5, round_trips=3) == [
            "p95 100.0 ms, target < 100 ms",
            "service p50 2.5 ms, target <= 2 ms",
            "3 round trips, target <= 1",
        ]
        assert Goal().describe() == "-"
