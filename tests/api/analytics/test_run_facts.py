"""Every execution carries its run's facts and its case's tags, however it was created: what
analytics select executions by (m0009)."""

from __future__ import annotations

from typing import Any

import httpx
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.analytics.history import T0, RunSpec, days, write_history
from tests.api.executions.helpers import (
    EXECUTIONS,
    RUNS,
    create_case,
    create_run,
    create_suite,
)


async def stored_executions(db: AsyncDatabase[Any], run_id: str) -> list[dict[str, Any]]:
    cursor = db["test_executions"].find({"run_id": ObjectId(run_id)}, sort=[("attempt", 1)])
    return await cursor.to_list()


async def test_a_runs_executions_carry_its_facts_and_their_cases_tags(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    case = await create_case(client, "log in", tags=["smoke", "auth"])
    other = await create_case(client, "log out")
    suite = await create_suite(client, "auth", [case["id"]])
    run = await create_run(client, suite_id=suite["id"], branch="feature/x", trigger="schedule")

    added = await client.post(EXECUTIONS, json={"run_id": run["id"], "test_case_id": case["id"]})
    assert added.status_code == 201, added.text
    bulk = await client.post(
        f"{EXECUTIONS}/bulk",
        json={"results": [{"run_id": run["id"], "test_case_id": other["id"], "status": "passed"}]},
    )
    assert bulk.json()["results"][0]["status"] == "created"

    executions = await stored_executions(db, run["id"])
    assert len(executions) == 3  # the suite's, a second attempt, and one reported in bulk
    (stored_run,) = await db["test_runs"].find({"_id": ObjectId(run["id"])}).to_list()
    expected = {
        "suite_id": ObjectId(suite["id"]),
        "environment_id": stored_run["environment_id"],
        "browser_configuration_id": stored_run["browser_configuration_id"],
        "branch": "feature/x",
        "trigger": "schedule",
        "created_at": stored_run["created_at"],
    }
    assert [execution["run"] for execution in executions] == [expected] * 3
    tags = {
        str(execution["test_case_id"]): execution["test_case"]["tags"] for execution in executions
    }
    assert tags == {case["id"]: ["smoke", "auth"], other["id"]: []}


async def test_a_new_branch_of_the_run_is_copied_into_its_executions(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    case = await create_case(client, "log in")
    run = await create_run(client, test_case_ids=[case["id"]], branch="main")

    response = await client.patch(f"{RUNS}/{run['id']}", json={"branch": "release/2"})
    assert response.status_code == 200, response.text
    assert [e["run"]["branch"] for e in await stored_executions(db, run["id"])] == ["release/2"]

    response = await client.patch(f"{RUNS}/{run['id']}", json={"branch": None})
    assert response.status_code == 200, response.text
    assert [e["run"]["branch"] for e in await stored_executions(db, run["id"])] == [None]


async def test_the_history_generator_opens_runs_when_it_says(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    written = await write_history(
        client,
        db,
        [
            RunSpec(at=T0, results={"log in": "FP", "search": "S"}),
            RunSpec(at=T0 + days(1), results={"log in": "P", "search": "E"}),
        ],
    )
    first, second = written.runs
    response = await client.get(f"{RUNS}/{first}")
    assert response.json()["created_at"] == "2026-03-02T09:00:00Z"
    assert response.json()["counters"]["passed"] == 1
    assert response.json()["counters"]["failed"] == 1
    statuses = [
        (e["attempt"], e["status"], e["run"]["created_at"].isoformat())
        for e in await stored_executions(db, second)
    ]
    assert sorted(statuses) == [
        (1, "error", "2026-03-03T09:00:00+00:00"),
        (1, "passed", "2026-03-03T09:00:00+00:00"),
    ]
