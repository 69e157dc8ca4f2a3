"""`jbts bench`: what it measures per request, on a tiny data set filled through the API.

No timing is asserted (performance is what the benchmark reports, not what tests check); the
round trips per request are behaviour, and are.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from typer.testing import CliRunner

from api.database.capabilities import probe
from api.database.connection import open_client
from api.settings import Settings, get_settings
from scripts.bench.harness import bench_app
from scripts.bench.measure import AppLog, Bench, OperationResult, Spread, percentile
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
from scripts.cli import app
from scripts.target import scratch_target
from tests.api.helpers import UNKNOWN_ID
from tests.scripts.test_cli import one_error_line
from tests.servers import (
    POLL_INTERVAL,
    SHUTDOWN_TIMEOUT,
    STARTUP_TIMEOUT,
    jbts_executable,
    server_env,
)

TESTS = "/api/v1/tests"
CASES = 6


@pytest.fixture
async def tiny(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Six cases (two of them active and tagged `smoke`), a suite holding all of them, and a run
    of the suite (its two active cases)."""
    created = []
    for number in range(CASES):
        body = case_body(number)
        body["tags"] = ["smoke"] if number % 3 == 0 else ["regression"]
        body["status"] = "active" if number % 3 == 0 else "draft"
        response = await client.post(TESTS, json=body)
        assert response.status_code == 201, response.text
        created.append(response.json())
    suite = {"name": "Checkout", "test_case_ids": [case["id"] for case in created]}
    response = await client.post("/api/v1/suites", json=suite)
    assert response.status_code == 201, response.text
    run = await client.post(f"/api/v1/suites/{response.json()['id']}/runs", json={"name": "ci"})
    assert run.status_code == 201, run.text
    return created


RawDatabase = tuple[AsyncDatabase[Any], CommandRecorder]


@pytest.fixture
async def raw(mongodb_uri: str, db: AsyncDatabase[Any]) -> AsyncIterator[RawDatabase]:
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
    picks = await pick(raw_db, capabilities=capabilities)
    built = build_operations(raw_db, picks, capabilities=capabilities)
    return picks, {operation.name.split(" (")[0]: operation for operation in built}


async def measure(
    raw: RawDatabase, settings: Settings, names: tuple[str, ...]
) -> tuple[Picks, dict[str, OperationResult], Bench]:
    """Two reps of the named operations, through the app `settings` describe."""
    raw_db, raw_commands = raw
    picks, ops = await operations(raw_db, settings)
    async with bench_app(settings, raw_commands) as bench:
        results = {name: await bench.run(ops[name], reps=2) for name in names}
    return picks, results, bench


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
        raw: RawDatabase,
        settings: Settings,
    ) -> None:
        picks, _ = await operations(raw[0], settings)

        assert picks.cases == CASES
        assert str(picks.case_id) in {case["id"] for case in tiny}
        assert picks.status == "draft"  # the most common status
        assert picks.tag == "regression"  # the most common tag among draft cases
        assert picks.word in {"checkout", "saved"}  # words of five letters or more in names
        assert picks.suite_size == CASES
        active = {case["id"] for case in tiny if case["status"] == "active"}
        assert picks.run_executions == 2
        assert str(picks.history_case_id) in active
        assert picks.history_executions == 1
        assert picks.run_suite_cases == 2
        assert {str(id) for id in picks.active_case_ids} == active


class TestMeasuring:
    async def test_reads_take_the_round_trips_they_should(
        self, tiny: list[dict[str, Any]], raw: RawDatabase, settings: Settings
    ) -> None:
        names = ("get case", "list cases", "search", "suite page")

        _, results, bench = await measure(raw, settings, names)

        get = results["get case"]
        well_formed(get, 2)
        assert get.round_trips == 1
        assert get.commands == {"find test_cases": 1.0}
        assert get.raw.round_trips == 1
        assert not [miss for miss in get.misses if "round trips" in miss]
        for name in ("list cases", "search", "suite page"):
            well_formed(results[name], 2)
            # A page and a count: bounded, never one per item.
            assert 1 <= results[name].round_trips <= 2, results[name].commands
            assert results[name].round_trips == sum(results[name].commands.values())
        assert results["list cases"].raw.round_trips == 2  # a page and a count
        # Every command on the data belongs to a request; between requests the app's client
        # only started up (Beanie), re-read the schema version (the benchmark's refresh before
        # each request, outside the measured time) and ended its sessions.
        outside = bench.app_commands.outside
        assert not [label for label in outside if label.endswith(("test_cases", "test_suites"))]
        assert outside["find schema_migrations"] == 4 * 3  # warm-up and two reps of four reads

    async def test_writes_leave_the_data_as_they_found_it(
        self, tiny: list[dict[str, Any]], raw: RawDatabase, settings: Settings
    ) -> None:
        raw_db, _ = raw
        names = ("patch case", "append step", "create case", "bulk 100")

        picks, results, _ = await measure(raw, settings, names)

        for name in ("patch case", "append step", "create case"):
            well_formed(results[name], 2)
            assert results[name].round_trips == 1, results[name].commands
        bulk = results["bulk 100"]
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


class TestExecutionTracking:
    async def test_reads_and_writes_take_bounded_round_trips(
        self, tiny: list[dict[str, Any]], raw: RawDatabase, settings: Settings
    ) -> None:
        raw_db, _ = raw
        names = (
            "get run",
            "list runs",
            "run executions",
            "case history",
            "patch execution",
            "report steps",
            "create run",
        )

        _, results, _ = await measure(raw, settings, names)

        for name in names:
            well_formed(results[name], 2)
        assert results["get run"].commands == {"find test_runs": 1.0}
        assert results["list runs"].round_trips == 2
        assert results["run executions"].round_trips == 2
        assert results["case history"].round_trips == 4
        assert results["case history"].raw.round_trips == 3
        assert results["patch execution"].round_trips <= 5
        assert results["report steps"].round_trips == 2
        assert results["create run"].round_trips <= 7
        # Created runs were deleted after each rep; the benchmark's two open runs stay open,
        # with counters that are their executions' statuses (the API's and the raw writes').
        runs = await raw_db["test_runs"].find({}).to_list()
        assert len(runs) == 3
        for run in runs:
            executions = await raw_db["test_executions"].find({"run_id": run["_id"]}).to_list()
            counted = Counter(execution["status"] for execution in executions)
            counters = {name: value for name, value in run["counters"].items() if value}
            assert counters == {**counted, "total": len(executions)}, run["name"]
        open_runs = [run for run in runs if run["name"].startswith("jbts bench")]
        assert {run["status"] for run in open_runs} == {"running"}


class TestArtifacts:
    async def test_reads_and_writes_of_artifacts_tidy_up(
        self, tiny: list[dict[str, Any]], raw: RawDatabase, settings: Settings
    ) -> None:
        raw_db, _ = raw
        # (The 1,000-line log batch is slow to insert on the embedded engine: the command's
        # test runs it.)
        names = ("run logs", "download screenshot", "upload screenshot", "json report")

        picks, results, _ = await measure(raw, settings, names)

        for name in ("run logs", "download screenshot", "upload screenshot"):
            well_formed(results[name], 2)
        well_formed(results["json report"], 1)  # one rep in five
        assert results["run logs"].round_trips == 2
        assert results["download screenshot"].round_trips <= 3
        # Uploads and reports were deleted, with their files, after each rep: what stays is the
        # one screenshot the download reads.
        [kept] = await raw_db["screenshots"].find({}).to_list()
        assert kept["execution_id"] == picks.execution_id
        files = await raw_db["screenshots.files"].find({}).to_list()
        assert [file["_id"] for file in files] == [kept["file_id"]]
        assert files[0]["metadata"]["refs"] == 1
        chunks = await raw_db["screenshots.chunks"].distinct("files_id")
        assert chunks == [kept["file_id"]]
        assert await raw_db["test_reports"].count_documents({}) == 0
        assert await raw_db["reports.files"].count_documents({}) == 0


class TestErrors:
    async def test_an_error_answer_stops_the_benchmark_with_one_line(
        self,
        db: AsyncDatabase[Any],
        raw: RawDatabase,
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

        assert goal.describe() == "p95<100 svc≤2 rt≤1"
        assert goal.misses(p95_ms=99.9, service_p50_ms=2, round_trips=1) == []
        assert goal.misses(p95_ms=100, service_p50_ms=2.5, round_trips=3) == [
            "p95 100.0 ms, target < 100 ms",
            "service p50 2.5 ms, target <= 2 ms",
            "3 round trips, target <= 1",
        ]
        assert Goal().describe() == "-"


OPERATIONS = [
    ("get case", "GET /api/v1/tests/{id}"),
    ("list cases", "GET /api/v1/tests"),
    ("list status+tag", "GET /api/v1/tests?status="),
    ("list by priority", "GET /api/v1/tests?sort_by=priority"),
    ("search", "GET /api/v1/tests?q="),
    ("suite page", "GET /api/v1/suites/{id}/tests"),
    ("list suites", "GET /api/v1/suites"),
    ("list templates", "GET /api/v1/templates"),
    ("list browsers", "GET /api/v1/configurations/browsers"),
    ("get run", "GET /api/v1/executions/runs/{id}"),
    ("list runs", "GET /api/v1/executions/runs"),
    ("run executions", "GET /api/v1/executions?run_id="),
    ("case history", "GET /api/v1/tests/{id}/history"),
    ("patch case", "PATCH /api/v1/tests/{id}"),
    ("append step", "POST /api/v1/tests/{id}/steps"),
    ("create case", "POST /api/v1/tests"),
    ("patch execution", "PATCH /api/v1/executions/{id}"),
    ("report steps", "POST /api/v1/executions/{id}/steps"),
    ("create run", "POST /api/v1/executions/runs"),
    ("bulk 100", "POST /api/v1/tests/bulk"),
    ("bulk 1000", "POST /api/v1/tests/bulk"),
    ("run logs", "GET /api/v1/artifacts/logs?run_id="),
    ("download screenshot", "GET /api/v1/artifacts/screenshots/{id}/content"),
    ("upload screenshot", "POST /api/v1/artifacts/screenshots"),
    ("post 1000 log lines", "POST /api/v1/artifacts/logs"),
    ("json report", "POST /api/v1/artifacts/reports"),
    ("analytics summary", "GET /api/v1/executions/analytics/summary"),
    ("analytics summary", "GET /api/v1/executions/analytics/summary"),
    ("flaky cases", "GET /api/v1/executions/analytics/flaky"),
    ("slowest cases", "GET /api/v1/executions/analytics/slowest"),
    ("slowest steps", "GET /api/v1/executions/analytics/slowest"),
    ("failures", "GET /api/v1/executions/analytics/failures"),
    ("case stats", "GET /api/v1/tests/{id}/stats"),
    ("suite report json", "GET /api/v1/suites/{id}/report"),
]
UNREACHABLE = "mongodb://127.0.0.1:9/?directConnection=true"  # port 9 (discard): no MongoDB

SyncClient = MongoClient[dict[str, Any]]


class TestCommand:
    def test_measures_every_operation_on_a_scratch_database_and_drops_it(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient, tmp_path: Path
    ) -> None:
        # The configured database holds the user's data: the benchmark must not touch it.
        sync_mongo[cli_db]["keep"].insert_one({"marker": True})
        databases = set(sync_mongo.list_database_names())
        out = tmp_path / "bench.json"

        result = runner.invoke(app, ["bench", "--size", "small", "--reps", "2", "--out", str(out)])

        assert result.exit_code == 0, result.output
        assert sync_mongo[cli_db].list_collection_names() == ["keep"]
        assert sync_mongo[cli_db]["keep"].count_documents({"marker": True}) == 1
        assert set(sync_mongo.list_database_names()) == databases  # the scratch one is gone
        assert re.search(r"scratch database jbts_bench_[0-9a-f]{12}", result.stderr)
        report = json.loads(out.read_text())
        assert (report["size"], report["reps"], report["seed"]) == ("small", 2, 0)
        assert report["machine"]["cpus"] >= 1
        assert report["machine"]["python"].startswith("3.13")
        assert report["database"]["server_version"]
        assert report["seeded"]["documents"]["test_cases"] > 0
        operations = report["operations"]
        assert len(operations) == len(OPERATIONS)
        for op, (name, route) in zip(operations, OPERATIONS, strict=True):
            assert op["name"].split(" (")[0] == name
            assert op["route"].startswith(route)
        for op in operations:
            assert op["reps"] >= 1
            assert op["latency_ms"]["p50"] <= op["latency_ms"]["p95"] <= op["latency_ms"]["max"]
            assert op["round_trips"] >= 1
            assert op["raw"]["query"]
            assert op["raw"]["round_trips"] >= 1
            assert op["ok"] == (op["misses"] == [])
        by_name = {op["name"]: op for op in operations}
        assert by_name["get case"]["round_trips"] == 1
        assert by_name["get case"]["commands"] == {"find test_cases": 1.0}
        assert by_name["bulk 100"]["reps"] == 1  # bulk writes run fewer reps
        # The table, one row per operation, each judged against its target.
        rows = [line for line in result.stdout.splitlines() if re.search(r"\b(ok|over)\s*$", line)]
        assert [row.strip().split("  ")[0] for row in rows] == [op["name"] for op in operations]
        assert f"Results written to {out}" in result.stdout

    def test_an_unreachable_database_is_one_error_line(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch
    ) -> None:
        clean_env.setenv("MONGODB_URI", UNREACHABLE)
        clean_env.setenv("JBTS_SERVER_SELECTION_TIMEOUT_MS", "500")

        result = runner.invoke(app, ["bench", "--size", "small"])

        assert one_error_line(result) == (
            "cannot reach the database at mongodb://127.0.0.1:9/?directConnection=true: "
            "connection refused"
        )

    def test_an_output_file_it_cannot_write_is_refused_before_any_work(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch
    ) -> None:
        result = runner.invoke(app, ["bench", "--out", "no/such/dir/bench.json"])

        assert (
            one_error_line(result)
            == "cannot write no/such/dir/bench.json: no directory no/such/dir"
        )

    def test_ctrl_c_drops_the_scratch_database(
        self, cli_db: str, mongodb_uri: str, sync_mongo: SyncClient
    ) -> None:
        databases = set(sync_mongo.list_database_names())
        process = subprocess.Popen(  # noqa: S603 - the installed console script, fixed arguments
            [jbts_executable(), "bench", "--size", "small"],
            env=server_env(MONGODB_URI=mongodb_uri, MONGODB_DB=cli_db),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # A background shell ignores SIGINT in its children: restore Python's handling.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            scratch = wait_for_scratch_database(sync_mongo, databases, process)
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=SHUTDOWN_TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()

        assert process.returncode == 130, stderr
        assert stderr.splitlines()[-1] == "Interrupted: the scratch database is dropped."
        assert "Traceback" not in stderr
        assert scratch not in sync_mongo.list_database_names()


def wait_for_scratch_database(
    client: SyncClient, before: set[str], process: subprocess.Popen[str]
) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        new = [name for name in client.list_database_names() if name not in before]
        if new:
            return new[0]
        time.sleep(POLL_INTERVAL)
    raise AssertionError("the benchmark created no scratch database")


class TestScratchTarget:
    def test_without_a_uri_a_fresh_engine_in_memory_whatever_the_data_dir(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        clean_env.setenv("JBTS_DATA_DIR", str(tmp_path))

        with scratch_target(get_settings(), prefix="jbts_bench") as target:
            assert "data in memory" in target.description
            assert re.fullmatch(r"jbts_bench_[0-9a-f]{12}", target.db_name)

        assert list(tmp_path.iterdir()) == []
