"""`POST /executions/bulk`: many results at once, idempotent per run + case + attempt."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from api.database.embedded import EmbeddedEngine
from api.query.bulk import MAX_BULK_ITEMS
from tests.api.executions.helpers import (
    EXECUTIONS,
    RUNS,
    counted,
    create_case,
    create_run,
    get_run,
    run_executions,
    set_status,
)
from tests.api.helpers import UNKNOWN_ID, assert_invalid

BULK = f"{EXECUTIONS}/bulk"


@pytest.fixture
async def cases(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Three active cases with two steps each; the last has an automation key."""
    made = [await create_case(client, f"case {n}") for n in range(2)]
    made.append(await create_case(client, "keyed", automation_key="tests.test_login::test_ok"))
    return made


async def report(client: httpx.AsyncClient, *results: dict[str, Any], **kw: Any) -> dict[str, Any]:
    response = await client.post(BULK, json={"results": list(results)}, **kw)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert [r["index"] for r in body["results"]] == list(range(len(results)))
    return body


def statuses(body: dict[str, Any]) -> list[str]:
    return [result["status"] for result in body["results"]]


def totals(body: dict[str, Any]) -> tuple[int, int, int, int]:
    return body["created"], body["updated"], body["unchanged"], body["failed"]


def by_case(executions: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(e["test_case_id"], e["attempt"]): e for e in executions}


class TestCreateAndUpdate:
    async def test_results_create_executions_by_id_and_by_automation_key(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client)  # no queued executions
        body = await report(
            client,
            {
                "run_id": run["id"],
                "test_case_id": cases[0]["id"],
                "status": "passed",
                "duration_ms": 1500,
            },
            {
                "run_id": run["id"],
                "automation_key": "tests.test_login::test_ok",
                "status": "failed",
                "worker": "ci-7",
                "started_at": "2025-06-01T09:00:00Z",
                "finished_at": "2025-06-01T09:00:02.5Z",
                "error": {"message": "Timeout 30000ms exceeded", "type": "TimeoutError"},
            },
        )
        assert statuses(body) == ["created", "created"]
        assert totals(body) == (2, 0, 0, 0)
        executions = by_case(await run_executions(client, run["id"]))
        assert {e["id"] for e in executions.values()} == {r["id"] for r in body["results"]}
        passed = executions[(cases[0]["id"], 1)]
        assert passed["status"] == "passed"
        assert passed["duration_ms"] == 1500
        assert passed["test_case"]["name"] == "case 0"
        assert [s["status"] for s in passed["steps"]] == ["pending", "pending"]
        failed = executions[(cases[2]["id"], 1)]
        assert failed["test_case"]["automation_key"] == "tests.test_login::test_ok"
        assert failed["worker"] == "ci-7"
        assert failed["duration_ms"] == 2500
        assert failed["started_at"].startswith("2025-06-01T09:00:00")
        assert failed["error"]["signature"]
        done = await get_run(client, run["id"])
        assert done["status"] == "failed"
        assert counted(done) == {"passed": 1, "failed": 1, "total": 2}
        assert done["started_at"].startswith("2025-06-01T09:00:00")

    async def test_results_update_the_queued_executions_of_a_run(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[c["id"] for c in cases])
        queued = by_case(await run_executions(client, run["id"]))
        body = await report(
            client,
            {"run_id": run["id"], "test_case_id": cases[0]["id"], "status": "passed"},
            {
                "run_id": run["id"],
                "test_case_id": cases[1]["id"],
                "status": "running",
                "worker": "w1",
            },
        )
        assert statuses(body) == ["updated", "updated"]
        assert body["results"][0]["id"] == queued[(cases[0]["id"], 1)]["id"]
        current = await get_run(client, run["id"])
        assert current["status"] == "running"
        assert counted(current) == {"queued": 1, "running": 1, "passed": 1, "total": 3}
        # Running again with another worker updates it; the same again changes nothing.
        again = {"run_id": run["id"], "test_case_id": cases[1]["id"], "status": "running"}
        assert statuses(await report(client, {**again, "worker": "w2"})) == ["updated"]
        assert statuses(await report(client, {**again, "worker": "w2"})) == ["unchanged"]
        body = await report(
            client,
            {"run_id": run["id"], "test_case_id": cases[1]["id"], "status": "skipped"},
            {
                "run_id": run["id"],
                "automation_key": "tests.test_login::test_ok",
                "status": "error",
                "error": {"message": "browser crashed"},
            },
        )
        assert statuses(body) == ["updated", "updated"]
        executions = by_case(await run_executions(client, run["id"]))
        assert len(executions) == 3
        assert executions[(cases[1]["id"], 1)]["worker"] == "w2"
        done = await get_run(client, run["id"])
        assert done["status"] == "failed"
        assert counted(done) == {"passed": 1, "skipped": 1, "error": 1, "total": 3}

    async def test_the_run_finishes_by_the_latest_attempt(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"]])
        body = await report(
            client,
            {
                "run_id": run["id"],
                "test_case_id": cases[0]["id"],
                "status": "failed",
                "error": {"message": "flaky"},
            },
            {"run_id": run["id"], "test_case_id": cases[0]["id"], "attempt": 2, "status": "passed"},
        )
        assert statuses(body) == ["updated", "created"]
        done = await get_run(client, run["id"])
        assert done["status"] == "passed"
        assert counted(done) == {"passed": 1, "failed": 1, "total": 2}

    async def test_step_results_are_written_with_the_result(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"]])
        first, second = (step["id"] for step in cases[0]["steps"])
        steps = [
            {"step_id": first, "status": "passed", "duration_ms": 40},
            {"step_id": second, "status": "failed", "error": {"message": "#submit not found"}},
        ]
        body = await report(
            client,
            {
                "run_id": run["id"],
                "test_case_id": cases[0]["id"],
                "status": "failed",
                "error": {"message": "#submit not found"},
                "steps": steps,
            },
            {
                "run_id": run["id"],
                "test_case_id": cases[0]["id"],
                "attempt": 2,
                "status": "passed",
                "steps": [{"step_id": second, "status": "passed"}],
            },
            {
                "run_id": run["id"],
                "test_case_id": cases[1]["id"],
                "status": "passed",
                "steps": [{"step_id": first, "status": "passed"}],
            },
        )
        assert statuses(body)[:2] == ["updated", "created"]
        assert body["results"][2]["status"] == "failed"
        assert_unknown_step = body["results"][2]["error"]
        assert assert_unknown_step["status"] == 422
        assert assert_unknown_step["errors"][0]["location"] == "body.results.2.steps.0.step_id"
        executions = by_case(await run_executions(client, run["id"]))
        updated = executions[(cases[0]["id"], 1)]
        assert [(s["status"], s["duration_ms"]) for s in updated["steps"]] == [
            ("passed", 40),
            ("failed", None),
        ]
        assert updated["steps"][1]["error"]["message"] == "#submit not found"
        created = executions[(cases[0]["id"], 2)]
        assert [s["status"] for s in created["steps"]] == ["pending", "passed"]
        assert (cases[1]["id"], 1) not in executions


class TestIdempotence:
    async def test_the_same_request_twice_creates_and_counts_nothing_twice(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]], db: AsyncDatabase[Any]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"], cases[1]["id"]])
        results = [
            {
                "run_id": run["id"],
                "test_case_id": cases[0]["id"],
                "status": "passed",
                "worker": "w",
            },
            {
                "run_id": run["id"],
                "test_case_id": cases[1]["id"],
                "status": "failed",
                "error": {"message": "assertion failed", "type": "AssertionError"},
            },
            {"run_id": run["id"], "test_case_id": cases[1]["id"], "attempt": 2, "status": "passed"},
            {
                "run_id": run["id"],
                "automation_key": "tests.test_login::test_ok",
                "status": "skipped",
            },
        ]
        first = await report(client, *results)
        assert statuses(first) == ["updated", "updated", "created", "created"]
        after_first = await get_run(client, run["id"])
        assert after_first["status"] == "passed"  # the bulk finished it
        assert counted(after_first) == {"passed": 2, "failed": 1, "skipped": 1, "total": 4}
        stored = await db["test_executions"].find({}).sort("_id").to_list()

        second = await report(client, *results)

        assert statuses(second) == ["unchanged"] * 4
        assert totals(second) == (0, 0, 4, 0)
        assert [r["id"] for r in second["results"]] == [r["id"] for r in first["results"]]
        assert await get_run(client, run["id"]) == after_first  # not even its version moved
        assert await db["test_executions"].find({}).sort("_id").to_list() == stored

    async def test_a_repeat_that_says_something_else_is_409(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"], cases[1]["id"]])
        result = {
            "run_id": run["id"],
            "test_case_id": cases[0]["id"],
            "status": "failed",
            "error": {"message": "one"},
        }
        await report(client, result)
        body = await report(
            client,
            {**result, "error": {"message": "another"}},
            {"run_id": run["id"], "test_case_id": cases[1]["id"], "status": "passed"},
        )
        assert statuses(body) == ["failed", "updated"]
        error = body["results"][0]["error"]
        assert error["status"] == 409
        assert "failed" in error["detail"]

    async def test_concurrent_identical_requests_count_each_result_once(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[c["id"] for c in cases])
        results = [
            {"run_id": run["id"], "test_case_id": case["id"], "status": "passed"} for case in cases
        ] + [
            {"run_id": run["id"], "test_case_id": cases[0]["id"], "attempt": 2, "status": "passed"}
        ]
        bodies = await asyncio.gather(*(report(client, *results) for _ in range(3)))
        for index in range(len(results)):
            outcomes = sorted(body["results"][index]["status"] for body in bodies)
            # Exactly one request wrote it; the others found it written: never a failure.
            written = "updated" if index < len(cases) else "created"
            assert outcomes == sorted([written, "unchanged", "unchanged"]), outcomes
        done = await get_run(client, run["id"])
        assert done["status"] == "passed"
        assert counted(done) == {"passed": 4, "total": 4}
        assert len(await run_executions(client, run["id"])) == 4

    async def test_concurrent_identical_new_results_are_created_once_and_unchanged_elsewhere(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        """Retries racing their original: an insert that loses to the identical result is
        `unchanged`, never a failure a runner would count as an error."""
        run = await create_run(client, test_case_ids=[c["id"] for c in cases])  # stays running
        results = [
            {"run_id": run["id"], "test_case_id": case["id"], "attempt": 2, "status": "passed"}
            for case in cases
        ]

        bodies = await asyncio.gather(*(report(client, *results) for _ in range(4)))

        for index in range(len(results)):
            outcomes = sorted(body["results"][index]["status"] for body in bodies)
            assert outcomes == ["created", "unchanged", "unchanged", "unchanged"], outcomes
            assert len({body["results"][index]["id"] for body in bodies}) == 1
        done = await get_run(client, run["id"])
        assert done["status"] == "running"
        assert counted(done) == {"queued": 3, "passed": 3, "total": 6}
        assert len(await run_executions(client, run["id"])) == 6

    async def test_a_new_result_racing_another_ends_as_what_happened_to_it(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        """Two different reports of one new attempt: the one whose insert loses applies as an
        update of the winner where the status machine allows it (running, then passed), and
        is refused where it does not (passed, then running); the counters follow exactly."""
        run = await create_run(client, test_case_ids=[c["id"] for c in cases])
        running, passed = (
            [
                {"run_id": run["id"], "test_case_id": case["id"], "attempt": 2, "status": status}
                for case in cases
            ]
            for status in ("running", "passed")
        )

        bodies = await asyncio.gather(report(client, *running), report(client, *passed))

        executions = by_case(await run_executions(client, run["id"]))
        for index, case in enumerate(cases):
            first, second = (body["results"][index] for body in bodies)
            if first["status"] == "created":  # running first: passed follows it
                assert second["status"] == "updated", second
            else:  # passed first: it is final, running cannot follow
                assert (first["status"], second["status"]) == ("failed", "created")
                assert first["error"]["status"] == 409
            assert first.get("id", second["id"]) == second["id"]
            assert executions[(case["id"], 2)]["status"] == "passed"
        done = await get_run(client, run["id"])
        assert counted(done) == {"queued": 3, "passed": 3, "total": 6}
        assert len(executions) == 6

    async def test_an_idempotency_key_replays_the_first_answer(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"]])
        result = {"run_id": run["id"], "test_case_id": cases[0]["id"], "status": "passed"}
        headers = {"Idempotency-Key": "bulk-report-1"}
        first = await client.post(BULK, json={"results": [result]}, headers=headers)
        again = await client.post(BULK, json={"results": [result]}, headers=headers)
        assert first.status_code == again.status_code == 200
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert statuses(again.json()) == ["updated"]


class TestFailures:
    async def test_bad_results_fail_alone_and_the_others_land(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        run = await create_run(client, test_case_ids=[cases[0]["id"], cases[1]["id"]])
        finished = await create_run(client, test_case_ids=[cases[2]["id"]])
        await report(
            client, {"run_id": finished["id"], "test_case_id": cases[2]["id"], "status": "passed"}
        )
        executions = by_case(await run_executions(client, run["id"]))
        await set_status(client, executions[(cases[0]["id"], 1)]["id"], "running")
        await set_status(client, executions[(cases[0]["id"], 1)]["id"], "passed")
        ok = {"run_id": run["id"], "test_case_id": cases[1]["id"], "status": "passed"}
        body = await report(
            client,
            {**ok, "run_id": UNKNOWN_ID},  # 0: unknown run
            {"run_id": run["id"], "automation_key": "no::such", "status": "passed"},  # 1
            {**ok, "automation_key": "tests.test_login::test_ok"},  # 2: both ids
            {"run_id": run["id"], "status": "passed"},  # 3: neither
            {"run_id": run["id"], "test_case_id": cases[0]["id"], "status": "failed"},  # 4: final
            {
                "run_id": finished["id"],
                "test_case_id": cases[2]["id"],
                "attempt": 2,
                "status": "passed",
            },  # 5: a finished run
            {**ok, "test_case_id": UNKNOWN_ID},  # 6: unknown case
            {**ok, "test_case_id": cases[2]["id"], "error": {"message": "x"}},  # 7: passed + error
            ok,  # 8: lands
            {**ok, "status": "failed"},  # 9: the same attempt again
            {
                "run_id": run["id"],
                "automation_key": "tests.test_login::test_ok",
                "status": "passed",
            },  # 10: lands
        )
        assert statuses(body) == ["failed"] * 8 + ["updated", "failed", "created"]
        assert totals(body) == (1, 1, 0, 9)
        errors = [result.get("error") for result in body["results"]]
        expected = {
            0: (422, "body.results.0.run_id"),
            1: (422, "body.results.1.automation_key"),
            2: (422, "body.results.2"),
            3: (422, "body.results.3"),
            4: (409, None),
            5: (409, None),
            6: (422, "body.results.6.test_case_id"),
            7: (422, "body.results.7.error"),
            9: (422, "body.results.9"),
        }
        for index, (status, location) in expected.items():
            error = errors[index]
            assert error is not None
            assert error["status"] == status, (index, error)
            assert "id" not in body["results"][index]
            if location is not None:
                assert [e["location"] for e in error["errors"]] == [location], (index, error)
        assert "passed" in errors[4]["detail"]
        assert "failed" in errors[4]["detail"]
        assert "passed" in errors[5]["detail"]
        done = await get_run(client, run["id"])
        assert done["status"] == "passed"
        assert counted(done) == {"passed": 3, "total": 3}

    async def test_queued_is_not_a_result_and_bodies_are_bounded(
        self, client: httpx.AsyncClient, cases: list[dict[str, Any]]
    ) -> None:
        result = {"run_id": UNKNOWN_ID, "test_case_id": cases[0]["id"], "status": "queued"}
        assert_invalid(await client.post(BULK, json={"results": [result]}), "body.results.0.status")
        assert_invalid(await client.post(BULK, json={"results": []}), "body.results")
        null_screenshot = {**result, "status": "passed"}
        null_screenshot["steps"] = [{"step_id": "a", "status": "passed", "screenshot_ids": [None]}]
        assert_invalid(
            await client.post(BULK, json={"results": [null_screenshot]}),
            "body.results.0.steps.0.screenshot_ids.0",
        )
        unix_time = {**result, "status": "passed", "finished_at": 0}
        assert_invalid(
            await client.post(BULK, json={"results": [unix_time]}), "body.results.0.finished_at"
        )
        many = [
            {**result, "status": "passed", "attempt": 1 + n % 100}
            for n in range(MAX_BULK_ITEMS + 1)
        ]
        assert_invalid(await client.post(BULK, json={"results": many}), "body.results")
        assert (await client.get(RUNS)).json()["total"] == 0


async def test_when_the_database_is_gone_every_result_says_it_was_not_written(
    engine: EmbeddedEngine, doomed_client: httpx.AsyncClient
) -> None:
    case = await create_case(doomed_client, "case")
    runs = [await create_run(doomed_client, test_case_ids=[case["id"]]) for _ in range(2)]
    engine.stop()

    body = await report(
        doomed_client,
        *({"run_id": run["id"], "test_case_id": case["id"], "status": "passed"} for run in runs),
    )

    assert totals(body) == (0, 0, 0, 2)
    for result in body["results"]:
        assert "id" not in result
        assert result["error"]["status"] == 503
        assert "not written" in result["error"]["detail"]
