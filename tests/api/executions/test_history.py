"""`GET /tests/{id}/history`: a case's executions over time, with their runs, and a pass rate."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from bson import ObjectId

from tests.api.executions.helpers import (
    EXECUTIONS,
    RUNS,
    TESTS,
    create_case,
    create_run,
    run_executions,
    set_status,
)
from tests.api.helpers import UNKNOWN_ID, assert_invalid, assert_problem

FAILURE = {"message": "Timeout 30000ms exceeded waiting for '#submit'", "type": "TimeoutError"}


def history_url(case_id: str) -> str:
    return f"{TESTS}/{case_id}/history"


async def history(client: httpx.AsyncClient, case_id: str, **params: Any) -> dict[str, Any]:
    response = await client.get(history_url(case_id), params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def execute(
    client: httpx.AsyncClient, execution_id: str, status: str, *, at: str, **fields: Any
) -> dict[str, Any]:
    """Start the execution at `at` (ISO 8601), then finish it as `status` (unless running)."""
    running = await set_status(client, execution_id, "running", started_at=at)
    if status == "running":
        return running
    return await set_status(client, execution_id, status, **fields)


async def execution_of(client: httpx.AsyncClient, run: dict[str, Any], case_id: str) -> str:
    executions = await run_executions(client, run["id"])
    found: str = next(e["id"] for e in executions if e["test_case_id"] == case_id)
    return found


@pytest.fixture
async def case(client: httpx.AsyncClient) -> dict[str, Any]:
    return await create_case(client, "login")


@pytest.fixture
async def other(client: httpx.AsyncClient) -> dict[str, Any]:
    """A second case, run alongside the first: its executions never show in the first's history."""
    return await create_case(client, "search")


@pytest.fixture
async def runs(
    client: httpx.AsyncClient,
    case: dict[str, Any],
    other: dict[str, Any],
    browsers: dict[str, dict[str, Any]],
    environments: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Four runs of both cases on three days. For `case`: passed on main (day 1); failed, then
    passed on retry on a feature branch (day 2, case edited before); errored, and skipped in a
    second run (day 3); and one still queued."""
    both = [case["id"], other["id"]]
    first = await create_run(
        client,
        name="nightly 1",
        test_case_ids=both,
        branch="main",
        commit="9fceb02d0ae598e95dc970b74767f19372d61af8",
        browser_configuration_id=browsers["Firefox headed"]["id"],
        environment_id=environments["staging"]["id"],
    )
    await execute(
        client, await execution_of(client, first, case["id"]), "passed", at="2026-03-01T10:00:00Z"
    )
    await execute(
        client, await execution_of(client, first, other["id"]), "failed", at="2026-03-05T10:00:00Z"
    )
    edited = await client.patch(f"{TESTS}/{case['id']}", json={"description": "edited"})
    assert edited.status_code == 200, edited.text
    second = await create_run(client, name="feature run", test_case_ids=both, branch="feature/x")
    await execute(
        client,
        await execution_of(client, second, case["id"]),
        "failed",
        at="2026-03-02T10:00:00Z",
        error=FAILURE,
    )
    retry = await client.post(EXECUTIONS, json={"run_id": second["id"], "test_case_id": case["id"]})
    assert retry.status_code == 201, retry.text
    await execute(client, retry.json()["id"], "passed", at="2026-03-02T10:05:00Z")
    third = await create_run(client, name="nightly 3", test_case_ids=[case["id"]], branch="main")
    await execute(
        client,
        await execution_of(client, third, case["id"]),
        "error",
        at="2026-03-03T10:00:00Z",
        error={"message": "chrome not reachable"},
    )
    fourth = await create_run(client, name="skipping", test_case_ids=[case["id"]])
    await execute(
        client, await execution_of(client, fourth, case["id"]), "skipped", at="2026-03-03T11:00:00Z"
    )
    queued = await create_run(client, name="queued", test_case_ids=[case["id"]])
    return [first, second, third, fourth, queued]


class TestHistory:
    async def test_newest_first_with_each_run_and_the_pass_rate(
        self,
        client: httpx.AsyncClient,
        case: dict[str, Any],
        runs: list[dict[str, Any]],
    ) -> None:
        body = await history(client, case["id"])

        assert (body["total"], body["page"], body["limit"], body["pages"]) == (6, 1, 50, 1)
        items = body["items"]
        assert [(i["run_name"], i["attempt"], i["status"]) for i in items] == [
            ("skipping", 1, "skipped"),
            ("nightly 3", 1, "error"),
            ("feature run", 2, "passed"),
            ("feature run", 1, "failed"),
            ("nightly 1", 1, "passed"),
            ("queued", 1, "queued"),  # not started yet: last
        ]
        # passed 2 of passed + failed + error 4; skipped and queued do not count.
        assert body["pass_rate"] == 0.5
        first = items[4]
        assert first["run_id"] == runs[0]["id"]
        assert first["branch"] == "main"
        assert first["commit"] == "9fceb02d0ae598e95dc970b74767f19372d61af8"
        assert first["browser_configuration_name"] == "Firefox headed"
        assert first["environment_name"] == "staging"
        assert first["test_case_version"] == case["version"]
        assert first["started_at"].startswith("2026-03-01T10:00:00")
        assert first["finished_at"] is not None
        assert first["duration_ms"] >= 0
        assert first["error"] is None
        failed = items[3]
        assert failed["branch"] == "feature/x"
        assert failed["commit"] is None
        assert failed["browser_configuration_name"] == "Chrome desktop"  # the default
        assert failed["environment_name"] is None
        assert failed["test_case_version"] == case["version"] + 1  # edited in between
        assert failed["error"] == {
            "message": FAILURE["message"],
            "type": "TimeoutError",
            "signature": "TimeoutError: Timeout <n>ms exceeded waiting for <str>",
        }
        execution = (await client.get(f"{EXECUTIONS}/{failed['id']}")).json()
        assert execution["test_case_id"] == case["id"]
        assert set(items[0]) == {
            "id",
            "run_id",
            "run_name",
            "branch",
            "commit",
            "browser_configuration_name",
            "environment_name",
            "attempt",
            "status",
            "started_at",
            "finished_at",
            "duration_ms",
            "error",
            "test_case_version",
        }

    async def test_pages_and_the_pass_rate_of_each_page(
        self, client: httpx.AsyncClient, case: dict[str, Any], runs: list[dict[str, Any]]
    ) -> None:
        first = await history(client, case["id"], limit=2)
        second = await history(client, case["id"], limit=2, page=2)
        last = await history(client, case["id"], limit=2, page=3)

        assert (first["total"], first["pages"]) == (6, 3)
        assert [i["status"] for i in first["items"]] == ["skipped", "error"]
        assert first["pass_rate"] == 0.0
        assert [i["status"] for i in second["items"]] == ["passed", "failed"]
        assert second["pass_rate"] == 0.5
        assert [i["status"] for i in last["items"]] == ["passed", "queued"]
        assert last["pass_rate"] == 1.0

    async def test_filters(
        self, client: httpx.AsyncClient, case: dict[str, Any], runs: list[dict[str, Any]]
    ) -> None:
        failing = await history(client, case["id"], status="failed,error")
        retries = await history(client, case["id"], attempt=2)
        day_two = await history(
            client, case["id"], started_from="2026-03-02", started_to="2026-03-02T23:59:59Z"
        )
        nothing_ran = await history(client, case["id"], status="skipped,queued")

        assert [i["status"] for i in failing["items"]] == ["error", "failed"]
        assert failing["pass_rate"] == 0.0
        assert [(i["attempt"], i["status"]) for i in retries["items"]] == [(2, "passed")]
        assert [i["attempt"] for i in day_two["items"]] == [2, 1]
        assert nothing_ran["total"] == 2
        assert nothing_ran["pass_rate"] is None

    async def test_fields_picks_item_fields(
        self, client: httpx.AsyncClient, case: dict[str, Any], runs: list[dict[str, Any]]
    ) -> None:
        runs_only = await history(client, case["id"], fields="run_name,environment_name")
        outcome = await history(client, case["id"], fields="status,error,test_case_version")

        assert {tuple(sorted(i)) for i in runs_only["items"]} == {
            ("environment_name", "id", "run_name")
        }
        assert runs_only["items"][-1]["run_name"] == "queued"
        assert runs_only["pass_rate"] == 0.5  # counted without returning the statuses
        assert {tuple(sorted(i)) for i in outcome["items"]} == {
            ("error", "id", "status", "test_case_version")
        }
        assert outcome["items"][1]["error"]["message"] == "chrome not reachable"

    async def test_a_run_that_is_gone_leaves_its_fields_null(
        self,
        client: httpx.AsyncClient,
        db: Any,
        case: dict[str, Any],
        runs: list[dict[str, Any]],
    ) -> None:
        # Runs are deleted after their executions; an interrupted delete could leave these.
        await db["test_runs"].delete_one({"_id": ObjectId(runs[0]["id"])})

        items = (await history(client, case["id"]))["items"]

        orphan = next(i for i in items if i["run_id"] == runs[0]["id"])
        assert orphan["status"] == "passed"
        for name in ("run_name", "branch", "commit", "browser_configuration_name"):
            assert orphan[name] is None, name


class TestHistoryRefuses:
    async def test_an_existing_case_never_run_has_an_empty_page(
        self, client: httpx.AsyncClient, case: dict[str, Any]
    ) -> None:
        body = await history(client, case["id"])

        assert body == {
            "items": [],
            "total": 0,
            "page": 1,
            "limit": 50,
            "pages": 0,
            "pass_rate": None,
        }

    async def test_an_unknown_case_is_404_even_with_executions_left(
        self, client: httpx.AsyncClient, case: dict[str, Any], runs: list[dict[str, Any]]
    ) -> None:
        assert_problem(await client.get(history_url(UNKNOWN_ID)), 404)
        # A deleted case's executions stay (history survives), but the case has no history.
        assert (await client.delete(f"{TESTS}/{case['id']}")).status_code == 204
        body = assert_problem(await client.get(history_url(case["id"])), 404)
        assert body["detail"] == f"test case {case['id']} does not exist"
        assert (await client.get(f"{RUNS}/{runs[0]['id']}")).status_code == 200

    @pytest.mark.parametrize(
        ("params", "location"),
        [
            ({"sort_by": "started_at"}, "query.sort_by"),
            ({"status": "done"}, "query.status.0"),
            ({"attempt": "0"}, "query.attempt"),
            ({"limit": "201"}, "query.limit"),
            ({"fields": "steps"}, "query.fields"),
            ({"started_from": "yesterday"}, "query.started_from"),
        ],
    )
    async def test_bad_parameters_are_422(
        self,
        client: httpx.AsyncClient,
        case: dict[str, Any],
        params: dict[str, str],
        location: str,
    ) -> None:
        response = await client.get(history_url(case["id"]), params=params)

        assert_invalid(response, location)

    async def test_a_malformed_id_is_422(self, client: httpx.AsyncClient) -> None:
        assert_invalid(await client.get(history_url("nope")), "path.id")
