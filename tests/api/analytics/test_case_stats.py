"""`GET /tests/{id}/stats`: one case's figures over a window of runs, with known answers."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from api.analytics.schemas import CaseStatsRead
from tests.api.analytics.history import T0, Result, RunSpec, days, write_history
from tests.api.executions.helpers import TESTS, create_case, run_executions
from tests.api.helpers import UNKNOWN_ID, assert_problem

WINDOW = {"from": "2026-03-01", "to": "2026-03-31"}
NOTHING = {
    "runs": 0,
    "outcomes": {"passed": 0, "failed": 0, "error": 0, "skipped": 0, "other": 0},
    "pass_rate": None,
    "flips": 0,
    "flip_rate": None,
    "durations": {"p50": None, "p95": None, "max": None},
    "last_failure": None,
    "failing_steps": [],
}


async def stats(client: httpx.AsyncClient, case_id: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"{TESTS}/{case_id}/stats", params={**WINDOW, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_cases_figures(client: httpx.AsyncClient, db: AsyncDatabase[Any]) -> None:
    # Outcomes by run (latest attempt): P P F S E P; counted: P P F E P -> 2 flips in 4 steps.
    written = await write_history(
        client,
        db,
        [
            RunSpec(at=T0, results={"log in": "P", "search": "S"}),
            RunSpec(
                at=T0 + days(1),
                results={"log in": Result("FP", durations=(2000, 3000)), "search": "S"},
            ),
            RunSpec(
                at=T0 + days(2),
                results={"log in": Result("F", durations=(4000,), message="Timeout 5000ms")},
            ),
            RunSpec(at=T0 + days(3), results={"log in": "S"}),
            RunSpec(
                at=T0 + days(4),
                results={"log in": Result("E", durations=(5000,), message="boom 1", failed_step=0)},
            ),
            RunSpec(at=T0 + days(5), results={"log in": "P"}),
        ],
    )
    case = written.cases["log in"]
    navigate, click = case["steps"]
    [errored] = await run_executions(client, written.runs[4])

    body = await stats(client, case["id"])

    assert body == {
        "test_case_id": case["id"],
        "runs": 6,
        "outcomes": {"passed": 3, "failed": 1, "error": 1, "skipped": 1, "other": 0},
        "pass_rate": 0.6,
        "flips": 2,
        "flip_rate": 0.5,
        # Every attempt with a verdict: 1000 1000 1000 2000 3000 4000 5000.
        "durations": {"p50": 2000, "p95": 5000, "max": 5000},
        "last_failure": {
            "run_id": written.runs[4],
            "execution_id": errored["id"],
            "at": "2026-03-06T09:00:05Z",
            "message": "boom 1",
            "signature": "boom <n>",
        },
        "failing_steps": [
            {"step_id": click["id"], "action": "click", "order": click["order"], "failures": 2},
            {
                "step_id": navigate["id"],
                "action": "navigate",
                "order": navigate["order"],
                "failures": 1,
            },
        ],
    }

    # The first two runs only: a failure retried into a pass is still its last failure.
    early = await stats(client, case["id"], to="2026-03-03T12:00:00Z")
    assert (early["runs"], early["pass_rate"], early["flips"], early["flip_rate"]) == (
        2,
        1.0,
        0,
        0.0,
    )
    assert early["last_failure"]["run_id"] == written.runs[1]
    assert early["last_failure"]["at"] == "2026-03-03T09:00:02Z"
    assert early["failing_steps"] == [
        {"step_id": click["id"], "action": "click", "order": click["order"], "failures": 1}
    ]

    # One counted run: no flip rate.
    one = await stats(client, case["id"], to="2026-03-03")
    assert (one["runs"], one["pass_rate"], one["flips"], one["flip_rate"]) == (1, 1.0, 0, None)

    # The common filters apply: runs of other triggers, of another branch.
    assert (await stats(client, case["id"], trigger="ci,schedule", tags="x,y"))["runs"] == 0
    assert (await stats(client, case["id"], trigger="ci,schedule"))["runs"] == 6
    assert await stats(client, case["id"], branch="release") == {
        "test_case_id": case["id"],
        **NOTHING,
    }

    # A case only ever skipped: runs, but no pass rate, no flips.
    search = await stats(client, written.case_id("search"))
    assert search == {
        "test_case_id": written.case_id("search"),
        **NOTHING,
        "runs": 2,
        "outcomes": {"passed": 0, "failed": 0, "error": 0, "skipped": 2, "other": 0},
    }  # and no durations: a skipped execution did not run its steps


async def test_a_case_never_run_has_zeros_and_nulls(client: httpx.AsyncClient) -> None:
    case = await create_case(client, "idle")

    assert await stats(client, case["id"]) == {"test_case_id": case["id"], **NOTHING}
    # The default window (the last 30 days) too.
    response = await client.get(f"{TESTS}/{case['id']}/stats")
    assert response.json() == {"test_case_id": case["id"], **NOTHING}


async def test_an_unknown_case_is_a_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"{TESTS}/{UNKNOWN_ID}/stats"), 404)


async def test_the_case_is_the_paths_and_bad_parameters_are_problems(
    client: httpx.AsyncClient,
) -> None:
    case = await create_case(client, "idle")
    for params in (
        {"test_case_id": case["id"]},
        {"from": "2026-03-02", "to": "2026-03-01"},
        {"trigger": "nightly"},
    ):
        assert_problem(await client.get(f"{TESTS}/{case['id']}/stats", params=params), 422)
    assert_problem(await client.get(f"{TESTS}/not-an-id/stats"), 422)


def test_the_documented_example_is_a_valid_response(app: FastAPI) -> None:
    """The examples of the schema `GET /tests/{id}/stats` documents as its 200 response."""
    spec = app.openapi()
    content = spec["paths"]["/api/v1/tests/{id}/stats"]["get"]["responses"]["200"]["content"]
    reference = content["application/json"]["schema"]["$ref"]
    assert reference == "#/components/schemas/CaseStatsRead"
    examples = spec["components"]["schemas"]["CaseStatsRead"]["examples"]
    assert examples
    for example in examples:
        CaseStatsRead.model_validate(example)
