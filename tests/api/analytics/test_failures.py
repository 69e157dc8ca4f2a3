"""`GET /executions/analytics/failures`: failures grouped by signature, with known answers."""

from __future__ import annotations

from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from api.analytics.schemas import FailuresRead
from tests.api.analytics.history import T0, Result, RunSpec, Written, days, write_history
from tests.api.executions.helpers import run_executions
from tests.api.helpers import assert_problem

FAILURES = "/api/v1/executions/analytics/failures"
WINDOW = {"from": "2026-03-01", "to": "2026-03-31"}

TIMEOUT = "Timeout <n>ms exceeded waiting for #a"
MISSING = "Element <str> not found"


async def four_runs(client: httpx.AsyncClient, db: AsyncDatabase[Any]) -> Written:
    """Two signatures, each from differently worded messages:

    - TIMEOUT: `log in` in runs 0 and 1 (then retried into a pass), `search` in run 2;
    - MISSING: `search` in run 1 (an error), `check out` in run 3 (an error).

    Each run reports its cases in order from its opening, 1 s per attempt.
    """
    return await write_history(
        client,
        db,
        [
            RunSpec(
                at=T0,
                results={
                    "log in": Result("F", message="Timeout 5000ms exceeded waiting for #a"),
                    "search": "P",
                },
            ),
            RunSpec(
                at=T0 + days(1),
                results={
                    "log in": Result("FP", message="Timeout 3000ms exceeded waiting for #a"),
                    "search": Result("E", message="Element 'x' not found"),
                },
            ),
            RunSpec(
                at=T0 + days(2),
                results={
                    "search": Result("F", message="Timeout 7000ms exceeded waiting for #a"),
                    "check out": "P",
                },
            ),
            RunSpec(
                at=T0 + days(3),
                results={
                    "check out": Result("E", message='Element "y" not found'),
                    "log in": "S",
                },
            ),
        ],
    )


async def failures(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(FAILURES, params={**WINDOW, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def execution_id(client: httpx.AsyncClient, run_id: str, case_id: str) -> str:
    [found] = [e for e in await run_executions(client, run_id) if e["test_case_id"] == case_id]
    return str(found["id"])


async def test_failures_are_grouped_by_signature_most_first(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    written = await four_runs(client, db)
    run = written.runs
    log_in, search, check_out = (written.case_id(n) for n in ("log in", "search", "check out"))

    body = await failures(client)

    assert body["total"] == 2
    assert body["failures"] == 5
    timeout, missing = body["items"]
    assert timeout == {
        "signature": TIMEOUT,
        "count": 3,
        "cases": 2,
        "runs": 3,
        "first_seen": "2026-03-02T09:00:01Z",
        "last_seen": "2026-03-04T09:00:01Z",
        "first_run_id": run[0],
        "example": {
            "message": "Timeout 7000ms exceeded waiting for #a",
            "type": None,
            "execution_id": await execution_id(client, run[2], search),
            "run_id": run[2],
        },
        "top_cases": [
            {"id": log_in, "name": "log in", "count": 2},
            {"id": search, "name": "search", "count": 1},
        ],
    }
    assert missing == {
        "signature": MISSING,
        "count": 2,
        "cases": 2,
        "runs": 2,
        # In run 1, `log in` took two attempts (2 s) before `search` ran.
        "first_seen": "2026-03-03T09:00:03Z",
        "last_seen": "2026-03-05T09:00:01Z",
        "first_run_id": run[1],
        "example": {
            "message": 'Element "y" not found',
            "type": None,
            "execution_id": await execution_id(client, run[3], check_out),
            "run_id": run[3],
        },
        # As many failures each: by name.
        "top_cases": [
            {"id": check_out, "name": "check out", "count": 1},
            {"id": search, "name": "search", "count": 1},
        ],
    }

    by_last_seen = await failures(client, sort="last_seen")
    assert [group["signature"] for group in by_last_seen["items"]] == [MISSING, TIMEOUT]

    first = await failures(client, limit=1)
    assert [group["signature"] for group in first["items"]] == [TIMEOUT]
    assert (first["total"], first["failures"]) == (2, 5)

    errors = await failures(client, status="error")
    assert [(g["signature"], g["count"]) for g in errors["items"]] == [(MISSING, 2)]
    assert (errors["total"], errors["failures"]) == (1, 2)

    # Without run 0, the timeout first appeared in run 1.
    later = await failures(client, **{"from": "2026-03-03"})
    [later_timeout] = [g for g in later["items"] if g["signature"] == TIMEOUT]
    assert later_timeout["count"] == 2
    assert later_timeout["first_run_id"] == run[1]
    assert later_timeout["first_seen"] == "2026-03-03T09:00:01Z"

    # The common filters apply: one case.
    one_case = await failures(client, test_case_id=check_out)
    assert [(g["signature"], g["count"]) for g in one_case["items"]] == [(MISSING, 1)]


async def test_ties_in_count_go_to_the_most_recently_seen(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    await write_history(
        client,
        db,
        [
            RunSpec(at=T0, results={"a": Result("F", message="zeta"), "b": "P"}),
            RunSpec(at=T0 + days(1), results={"a": Result("F", message="alpha"), "b": "P"}),
            RunSpec(at=T0 + days(2), results={"a": "P", "b": Result("F", message="beta")}),
        ],
    )

    by_count = await failures(client)
    assert [g["signature"] for g in by_count["items"]] == ["beta", "alpha", "zeta"]


async def test_a_window_without_failures_has_no_groups(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    await write_history(client, db, [RunSpec(at=T0, results={"log in": "P", "search": "S"})])

    assert await failures(client) == {"items": [], "total": 0, "failures": 0}
    # The default window is the last 30 days: nothing happened in it.
    response = await client.get(FAILURES)
    assert response.json() == {"items": [], "total": 0, "failures": 0}


async def test_bad_parameters_are_problems(client: httpx.AsyncClient) -> None:
    for params in (
        {"sort": "name"},
        {"limit": "0"},
        {"limit": "101"},
        {"status": "passed"},
        {"signature": "x"},
        {"from": "2026-03-02", "to": "2026-03-01"},
    ):
        assert_problem(await client.get(FAILURES, params=params), 422)


def test_the_documented_example_is_a_valid_response() -> None:
    extra = FailuresRead.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    for example in extra["examples"]:  # type: ignore[union-attr]
        FailuresRead.model_validate(example)
