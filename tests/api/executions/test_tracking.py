"""Runs and executions through HTTP: the status machine, counters, and how a run finishes."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from api.executions import service, tracking
from api.executions.status import TERMINAL, allowed
from documents.executions import ExecutionStatus
from tests.api.executions.helpers import (
    EXECUTIONS,
    RUNS,
    SUITES,
    counted,
    create_case,
    create_run,
    create_suite,
    get_run,
    run_executions,
    set_status,
    write_without_closing,
)
from tests.api.helpers import UNKNOWN_ID, assert_invalid, assert_problem

QUEUED, RUNNING, PASSED, FAILED, ERROR, SKIPPED, CANCELLED = (
    ExecutionStatus.QUEUED,
    ExecutionStatus.RUNNING,
    ExecutionStatus.PASSED,
    ExecutionStatus.FAILED,
    ExecutionStatus.ERROR,
    ExecutionStatus.SKIPPED,
    ExecutionStatus.CANCELLED,
)

ISSUE_MACHINE = {
    (QUEUED, RUNNING),
    (RUNNING, PASSED),
    (RUNNING, FAILED),
    (RUNNING, ERROR),
    (RUNNING, SKIPPED),
    (QUEUED, CANCELLED),
    (RUNNING, CANCELLED),
}
"""The issue's status machine, written out: nothing leaves a terminal status."""

ALLOWED = {(old, new) for old in ExecutionStatus for new in ExecutionStatus if allowed(old, new)}
ILLEGAL = sorted(
    (old, new)
    for old in ExecutionStatus
    for new in ExecutionStatus
    if old != new
    if (old, new) not in ALLOWED
)
"""Every change of status a PATCH may not make (the same status again is a repeat, not a change:
see test_repeating_a_final_status_answers_it_again)."""

PATH_TO: dict[ExecutionStatus, list[str]] = {
    QUEUED: [],
    RUNNING: ["running"],
    PASSED: ["running", "passed"],
    FAILED: ["running", "failed"],
    ERROR: ["running", "error"],
    SKIPPED: ["running", "skipped"],
    CANCELLED: ["cancelled"],
}
"""The PATCHes that take a new execution to each status."""


@pytest.fixture
async def cases(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Three active cases and a draft one, in that order."""
    made = [await create_case(client, f"case {n}") for n in range(3)]
    made.append(await create_case(client, "draft case", status="draft"))
    return made


class TestCreateRun:
    async def test_suite_run_queues_its_active_cases_in_suite_order(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        order = [cases[2]["id"], cases[3]["id"], cases[0]["id"]]
        suite = await create_suite(client, "smoke", order)
        response = await client.post(f"{SUITES}/{suite['id']}/runs", json={"name": "nightly"})
        assert response.status_code == 201, response.text
        run = response.json()
        assert response.headers["location"] == f"{RUNS}/{run['id']}"
        assert response.headers["etag"] == f'"{run["version"]}"'
        assert run["status"] == "queued"
        assert run["suite_id"] == suite["id"]
        assert counted(run) == {"queued": 2, "total": 2}
        executions = await run_executions(client, run["id"])
        assert [e["test_case_id"] for e in executions] == [cases[2]["id"], cases[0]["id"]]
        first = executions[0]
        assert first["status"] == "queued"
        assert first["attempt"] == 1
        assert first["test_case"]["name"] == "case 2"
        assert first["test_case"]["version"] == cases[2]["version"]
        assert [s["step_id"] for s in first["steps"]] == [s["id"] for s in cases[2]["steps"]]
        assert {s["status"] for s in first["steps"]} == {"pending"}

    async def test_run_with_suite_and_cases_adds_the_cases_the_suite_lacks(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        suite = await create_suite(client, "smoke", [cases[0]["id"]])
        run = await create_run(
            client, suite_id=suite["id"], test_case_ids=[cases[0]["id"], cases[3]["id"]]
        )
        executions = await run_executions(client, run["id"])
        assert [e["test_case_id"] for e in executions] == [cases[0]["id"], cases[3]["id"]]

    async def test_snapshots_fall_back_to_the_suite_then_the_default_browser(
        self,
        client: httpx.AsyncClient,
        cases: list[dict[str, Any]],
        browsers: dict[str, dict[str, Any]],
        environments: dict[str, dict[str, Any]],
    ) -> None:
        plain = await create_run(client, test_case_ids=[cases[0]["id"]])
        assert plain["browser_configuration_id"] == browsers["Chrome desktop"]["id"]
        assert plain["browser_configuration"]["name"] == "Chrome desktop"
        assert plain["environment"] is None
        suite = await create_suite(
            client,
            "smoke",
            [cases[0]["id"]],
            browser_configuration_id=browsers["Firefox headed"]["id"],
            environment_id=environments["staging"]["id"],
        )
        run = await create_run(client, suite_id=suite["id"])
        assert run["browser_configuration"]["browser"] == "firefox"
        assert run["environment"]["name"] == "staging"
        variables = {v["name"]: v for v in run["environment"]["variables"]}
        assert variables["LOCALE"]["value"] == "en-US"
        assert variables["API_TOKEN"] == {"name": "API_TOKEN", "value": None, "secret": True}
        named = await create_run(
            client,
            suite_id=suite["id"],
            browser_configuration_id=browsers["Edge headed"]["id"],
        )
        assert named["browser_configuration"]["browser"] == "edge"

    async def test_secret_values_are_never_stored_in_the_run(
        self,
        client: httpx.AsyncClient,
        db: Any,
        environments: dict[str, dict[str, Any]],
    ) -> None:
        run = await create_run(client, environment_id=environments["staging"]["id"])
        stored = await db["test_runs"].find_one({"_id": ObjectId(run["id"])})
        assert "staging-s3cr3t" not in repr(stored)

    async def test_unknown_references_are_422_and_nothing_is_created(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]], db: Any
    ) -> None:
        bodies: list[tuple[dict[str, Any], str]] = [
            ({"suite_id": UNKNOWN_ID}, "body.suite_id"),
            ({"test_case_ids": [cases[0]["id"], UNKNOWN_ID]}, "body.test_case_ids.1"),
            ({"environment_id": UNKNOWN_ID}, "body.environment_id"),
            ({"browser_configuration_id": UNKNOWN_ID}, "body.browser_configuration_id"),
        ]
        for body, location in bodies:
            response = await client.post(RUNS, json={"name": "x", **body})
            assert_invalid(response, location)
        assert await db["test_runs"].count_documents({}) == 0
        assert await db["test_executions"].count_documents({}) == 0
        missing = await client.post(f"{SUITES}/{UNKNOWN_ID}/runs", json={"name": "x"})
        assert_problem(missing, 404)

    async def test_an_empty_run_stays_queued(self, client: httpx.AsyncClient) -> None:
        run = await create_run(client)
        assert run["status"] == "queued"
        assert counted(run) == {}


class TestStatusMachine:
    async def test_a_run_goes_from_queued_to_running_to_passed(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[c["id"] for c in cases[:2]])
        first, second = await run_executions(client, run["id"])
        running = await set_status(client, first["id"], "running", worker="agent-1")
        assert running["started_at"] is not None
        assert running["worker"] == "agent-1"
        now = await get_run(client, run["id"])
        assert now["status"] == "running"
        assert now["started_at"] is not None
        assert counted(now) == {"queued": 1, "running": 1, "total": 2}
        passed = await set_status(client, first["id"], "passed")
        assert passed["finished_at"] is not None
        assert passed["duration_ms"] >= 0
        await set_status(client, second["id"], "running")
        await set_status(client, second["id"], "skipped")
        done = await get_run(client, run["id"])
        assert done["status"] == "passed"
        assert counted(done) == {"passed": 1, "skipped": 1, "total": 2}
        assert done["finished_at"] is not None
        assert done["duration_ms"] >= 0

    def test_the_allowed_changes_are_the_issues_machine(self) -> None:
        assert ALLOWED == ISSUE_MACHINE
        assert set(PATH_TO) == set(ExecutionStatus)
        statuses = len(ExecutionStatus)
        assert len(ILLEGAL) == statuses * (statuses - 1) - len(ISSUE_MACHINE)

    @pytest.mark.parametrize(
        ("from_status", "to_status"),
        ILLEGAL,
        ids=[f"{old.value}-{new.value}" for old, new in ILLEGAL],
    )
    async def test_illegal_transitions_are_409_naming_both_states(
        self,
        client: httpx.AsyncClient,
        from_status: ExecutionStatus,
        to_status: ExecutionStatus,
    ) -> None:
        case = await create_case(client, "case", steps=[])
        run = await create_run(client, test_case_ids=[case["id"]])
        (execution,) = await run_executions(client, run["id"])
        for status in PATH_TO[from_status]:
            execution = await set_status(client, execution["id"], status)
        run_before = await get_run(client, run["id"])
        response = await client.patch(
            f"{EXECUTIONS}/{execution['id']}", json={"status": to_status.value}
        )
        body = assert_problem(response, 409)
        named = set(re.findall(r"[a-z]+", body["detail"]))
        assert {from_status.value, to_status.value} <= named, body["detail"]
        after = (await client.get(f"{EXECUTIONS}/{execution['id']}")).json()
        assert after == execution  # status, run_seq, times: nothing changed
        assert (await get_run(client, run["id"]))["version"] == run_before["version"]

    async def test_repeating_a_final_status_answers_it_again(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"], cases[1]["id"]])
        execution = (await run_executions(client, run["id"]))[0]
        await set_status(client, execution["id"], "running")
        first = await set_status(client, execution["id"], "passed")
        again = await set_status(client, execution["id"], "passed")
        assert again == first
        assert counted(await get_run(client, run["id"]))["passed"] == 1

    async def test_a_failure_gets_a_signature(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"], cases[1]["id"]])
        one, two = await run_executions(client, run["id"])
        for execution, seconds in [(one, 30000), (two, 5000)]:
            await set_status(client, execution["id"], "running")
            failed = await set_status(
                client,
                execution["id"],
                "failed",
                error={"message": f"Timeout {seconds}ms exceeded", "type": "TimeoutError"},
            )
            assert failed["error"]["signature"]
        first = (await client.get(f"{EXECUTIONS}/{one['id']}")).json()
        second = (await client.get(f"{EXECUTIONS}/{two['id']}")).json()
        assert first["error"]["signature"] == second["error"]["signature"]
        done = await get_run(client, run["id"])
        assert done["status"] == "failed"
        grouped = await client.get(EXECUTIONS, params={"signature": first["error"]["signature"]})
        assert grouped.json()["total"] == 2

    async def test_a_passed_execution_has_no_error(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"]])
        execution = (await run_executions(client, run["id"]))[0]
        await set_status(client, execution["id"], "running")
        response = await client.patch(
            f"{EXECUTIONS}/{execution['id']}",
            json={"status": "passed", "error": {"message": "boom"}},
        )
        assert_invalid(response, "body.error")

    async def test_a_retry_that_passes_does_not_fail_the_run(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"], cases[1]["id"]])
        first, other = await run_executions(client, run["id"])
        await set_status(client, first["id"], "running")
        await set_status(client, first["id"], "failed", error={"message": "flaky"})
        retry = await client.post(
            EXECUTIONS, json={"run_id": run["id"], "test_case_id": first["test_case_id"]}
        )
        assert retry.status_code == 201, retry.text
        assert retry.json()["attempt"] == 2
        await set_status(client, retry.json()["id"], "running")
        await set_status(client, retry.json()["id"], "passed")
        await set_status(client, other["id"], "running")
        await set_status(client, other["id"], "passed")
        done = await get_run(client, run["id"])
        assert done["status"] == "passed"
        assert counted(done) == {"failed": 1, "passed": 2, "total": 3}

    async def test_a_failed_latest_attempt_fails_the_run(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"]])
        (execution,) = await run_executions(client, run["id"])
        await set_status(client, execution["id"], "running")
        await set_status(client, execution["id"], "error", error={"message": "driver died"})
        done = await get_run(client, run["id"])
        assert done["status"] == "failed"
        late = await client.post(
            EXECUTIONS, json={"run_id": run["id"], "test_case_id": execution["test_case_id"]}
        )
        assert_problem(late, 409)


class TestSteps:
    async def test_step_results_are_written_together_and_replace_earlier_ones(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"]])
        (execution,) = await run_executions(client, run["id"])
        first, second = (step["step_id"] for step in execution["steps"])
        url = f"{EXECUTIONS}/{execution['id']}/steps"
        response = await client.post(
            url,
            json={
                "steps": [
                    {"step_id": first, "status": "passed", "duration_ms": 120},
                    {"step_id": second, "status": "failed", "error": {"message": "no #submit"}},
                ]
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "running"  # its first step result started it
        assert [s["status"] for s in body["steps"]] == ["passed", "failed"]
        assert body["steps"][0]["duration_ms"] == 120
        assert body["steps"][1]["error"]["signature"]
        assert body["steps"][1]["action"] == "click"
        again = await client.post(url, json={"steps": [{"step_id": second, "status": "passed"}]})
        assert [s["status"] for s in again.json()["steps"]] == ["passed", "passed"]
        assert again.json()["steps"][1]["error"] is None
        assert counted(await get_run(client, run["id"])) == {"running": 1, "total": 1}

    async def test_an_unknown_step_is_422_and_nothing_is_written(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"]])
        (execution,) = await run_executions(client, run["id"])
        known = execution["steps"][0]["step_id"]
        response = await client.post(
            f"{EXECUTIONS}/{execution['id']}/steps",
            json={
                "steps": [
                    {"step_id": known, "status": "passed"},
                    {"step_id": "nope", "status": "passed"},
                ]
            },
        )
        body = assert_invalid(response, "body.steps.1.step_id")
        assert "nope" in body["detail"]
        after = (await client.get(f"{EXECUTIONS}/{execution['id']}")).json()
        assert after == execution

    async def test_a_finished_execution_takes_no_step_results(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"], cases[1]["id"]])
        execution = (await run_executions(client, run["id"]))[0]
        await set_status(client, execution["id"], "cancelled")
        response = await client.post(
            f"{EXECUTIONS}/{execution['id']}/steps",
            json={"steps": [{"step_id": execution["steps"][0]["step_id"], "status": "passed"}]},
        )
        assert_problem(response, 409)


class TestCancelAndDelete:
    async def test_cancel_finishes_the_run_and_its_unfinished_executions(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[c["id"] for c in cases[:3]])
        first, second, _ = await run_executions(client, run["id"])
        await set_status(client, first["id"], "running")
        await set_status(client, first["id"], "passed")
        await set_status(client, second["id"], "running")
        response = await client.post(f"{RUNS}/{run['id']}/cancel")
        assert response.status_code == 200, response.text
        cancelled = response.json()
        assert cancelled["status"] == "cancelled"
        assert counted(cancelled) == {"passed": 1, "cancelled": 2, "total": 3}
        statuses = [e["status"] for e in await run_executions(client, run["id"])]
        assert statuses == ["passed", "cancelled", "cancelled"]
        again = await client.post(f"{RUNS}/{run['id']}/cancel")
        assert_problem(again, 409)

    async def test_delete_removes_the_run_and_its_executions(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]], db: Any
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"]])
        other = await create_run(client, test_case_ids=[cases[0]["id"]])
        (execution,) = await run_executions(client, run["id"])
        await set_status(client, execution["id"], "running")
        busy = await client.delete(f"{RUNS}/{run['id']}")
        assert_problem(busy, 409)
        await client.post(f"{RUNS}/{run['id']}/cancel")
        assert (await client.delete(f"{RUNS}/{run['id']}")).status_code == 204
        assert_problem(await client.get(f"{RUNS}/{run['id']}"), 404)
        assert await db["test_executions"].count_documents({}) == 1
        assert (await client.get(f"{RUNS}/{other['id']}")).status_code == 200


class TestConcurrentReporters:
    async def test_fifty_reporters_keep_the_counters_exact(self, client: httpx.AsyncClient) -> None:
        cases = [await create_case(client, f"parallel {n}", steps=[]) for n in range(50)]
        run = await create_run(client, test_case_ids=[c["id"] for c in cases])
        executions = await run_executions(client, run["id"])
        assert len(executions) == 50

        async def report(index: int, execution: dict[str, Any]) -> None:
            await set_status(client, execution["id"], "running")
            outcome = "failed" if index % 10 == 0 else "passed"
            await set_status(client, execution["id"], outcome)

        seen: list[dict[str, Any]] = []
        finals = {status.value for status in TERMINAL}

        async def watch() -> None:
            while True:
                current = await get_run(client, run["id"])
                seen.append(current)
                # Listed after the run was read: statuses only move forward, so the run cannot
                # count more finished executions than this listing has.
                listed = await run_executions(client, run["id"])
                finished = sum(1 for execution in listed if execution["status"] in finals)
                counters = current["counters"]
                assert sum(counters[status] for status in finals) <= finished, (current, listed)
                if current["status"] not in {"queued", "running"}:
                    return
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(report(i, e) for i, e in enumerate(executions)))
        await asyncio.wait_for(watcher, timeout=120)
        done = await get_run(client, run["id"])
        assert done["status"] == "failed"
        assert counted(done) == {"passed": 45, "failed": 5, "total": 50}
        for observed in seen:  # every observation adds up
            counters = observed["counters"]
            assert sum(v for k, v in counters.items() if k != "total") == counters["total"] == 50
        finished = {observed["finished_at"] for observed in seen if observed["finished_at"]}
        assert len(finished) == 1  # it finished once


class TestObservedCounters:
    """Between a reporter's execution write and the close of its change, the run's stored
    counters lag behind: what is served is counted from the executions."""

    async def test_a_written_change_not_yet_closed_is_in_the_counters_served(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"], cases[1]["id"]])
        first, _ = await run_executions(client, run["id"])
        change = await write_without_closing(first["id"], "running")
        stored = await db["test_runs"].find_one({"_id": ObjectId(run["id"])})
        assert stored is not None
        assert stored["counters"]["queued"] == 2  # the close has not counted it yet

        observed = await get_run(client, run["id"])
        assert counted(observed) == {"queued": 1, "running": 1, "total": 2}
        assert observed["version"] == change.seq
        # The counters move within a version while a change is open: no 304.
        again = await client.get(
            f"{RUNS}/{run['id']}", headers={"If-None-Match": f'"{change.seq}"'}
        )
        assert again.status_code == 200, again.text
        assert counted(again.json()) == {"queued": 1, "running": 1, "total": 2}
        for params in ({}, {"fields": "id,counters"}):
            listed = await client.get(RUNS, params=params)
            assert listed.status_code == 200, listed.text
            [item] = [item for item in listed.json()["items"] if item["id"] == run["id"]]
            assert counted(item) == {"queued": 1, "running": 1, "total": 2}
            assert "pending" not in item

        await tracking.close_change(
            change, delta=service.moved(ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)
        )
        closed = await get_run(client, run["id"])
        assert counted(closed) == {"queued": 1, "running": 1, "total": 2}
        stored = await db["test_runs"].find_one({"_id": ObjectId(run["id"])})
        assert stored is not None
        assert stored["pending"] == []
        assert stored["counters"]["running"] == 1

    async def test_a_recount_and_a_cancel_answered_while_a_change_is_open_counts_the_executions(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"], cases[1]["id"]])
        first, _ = await run_executions(client, run["id"])
        await write_without_closing(first["id"], "running")
        recounted = await client.post(f"{RUNS}/{run['id']}/recount")
        assert recounted.status_code == 200, recounted.text
        assert recounted.json()["recount_needed"] is True  # left to the open change's close
        assert counted(recounted.json()) == {"queued": 1, "running": 1, "total": 2}
        cancelled = await client.post(f"{RUNS}/{run['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert counted(cancelled.json()) == {"cancelled": 2, "total": 2}
        # Finished by the close of the change still open, which also starts it.
        assert (cancelled.json()["status"], cancelled.json()["cancel_requested"]) == (
            "queued",
            True,
        )


class TestTimes:
    async def test_times_sent_by_the_client_are_kept_and_give_the_duration(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"]])
        (execution,) = await run_executions(client, run["id"])
        started = "2026-03-01T10:00:00Z"
        await set_status(client, execution["id"], "running", started_at=started)
        done = await set_status(
            client, execution["id"], "passed", finished_at="2026-03-01T10:00:02.500Z"
        )
        assert done["started_at"] == "2026-03-01T10:00:00Z"
        assert done["duration_ms"] == 2500
        assert (await get_run(client, run["id"]))["started_at"] == started

    async def test_finishing_before_starting_is_422(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"]])
        (execution,) = await run_executions(client, run["id"])
        response = await client.patch(
            f"{EXECUTIONS}/{execution['id']}",
            json={
                "status": "running",
                "started_at": "2026-03-01T10:00:00Z",
                "finished_at": "2026-03-01T09:00:00Z",
            },
        )
        assert_invalid(response, "body")
