"""`GET /executions/analytics/flaky`: known histories, exact figures."""

from __future__ import annotations

from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from api.analytics.schemas import FlakyCases
from tests.api.analytics.history import T0, RunSpec, Written, days, write_history

FLAKY = "/api/v1/executions/analytics/flaky"
WINDOW = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-31T00:00:00Z"}

# Six daily runs (r0..r5); a letter string per case per run, one letter per attempt.
HISTORY: dict[str, list[str | None]] = {
    # 5 runs P P F P P: 2 flips (P->F at r2, F->P at r3) over 4 steps: 0.5.
    "login": ["P", "P", "F", "P", "P", None],
    # Skipped runs are out of the flip sequence (P S P is no flip); error counts as a fail;
    # r3 is retry-flaky: counted P P P E P, 2 flips / 4, 1 retry-flaky run of 5.
    "cart": ["P", "S", "P", "EP", "E", "P"],
    # Retries only: 2 retry-flaky runs of 6, no flip.
    "search": ["FP", "P", "P", "FP", "P", "P"],
    # Stable: never listed.
    "logout": ["P", "P", "P", "P", "P", "P"],
    # Too short a history for the default `min_runs` (5): F P F, 2 flips in 3 runs.
    "profile": ["F", "P", "F", None, None, None],
}


async def write_known(client: httpx.AsyncClient, db: AsyncDatabase[Any]) -> Written:
    runs = [
        RunSpec(
            at=T0 + days(index),
            results={
                name: outcome
                for name, outcomes in HISTORY.items()
                if (outcome := outcomes[index]) is not None
            },
        )
        for index in range(6)
    ]
    return await write_history(client, db, runs)


def flaky_run(written: Written, index: int) -> dict[str, str]:
    return {
        "run_id": written.runs[index],
        "at": (T0 + days(index)).isoformat().replace("+00:00", "Z"),
    }


async def get_flaky(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(FLAKY, params={**WINDOW, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_cases_are_ranked_by_flakiness_with_both_signals(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    written = await write_known(client, db)

    body = await get_flaky(client)

    assert body["from"] == "2026-03-01T00:00:00Z"
    assert body["to"] == "2026-03-31T00:00:00Z"
    assert body["total"] == 3
    assert body["items"] == [
        {
            # Ties with login on flakiness, flips; more retry-flaky runs first.
            "test_case_id": written.case_id("cart"),
            "name": "cart",
            "runs": 5,
            "retry_flaky_runs": 1,
            "retry_rate": 0.2,
            "flips": 2,
            "flip_rate": 0.5,
            "flakiness": 0.5,
            "last_outcomes": "PSPPEP",
            "first_flaky_run": flaky_run(written, 3),
            "last_flaky_run": flaky_run(written, 5),
        },
        {
            "test_case_id": written.case_id("login"),
            "name": "login",
            "runs": 5,
            "retry_flaky_runs": 0,
            "retry_rate": 0.0,
            "flips": 2,
            "flip_rate": 0.5,
            "flakiness": 0.5,
            "last_outcomes": "PPFPP",
            "first_flaky_run": flaky_run(written, 2),
            "last_flaky_run": flaky_run(written, 3),
        },
        {
            "test_case_id": written.case_id("search"),
            "name": "search",
            "runs": 6,
            "retry_flaky_runs": 2,
            "retry_rate": 0.3333,
            "flips": 0,
            "flip_rate": 0.0,
            "flakiness": 0.3333,
            "last_outcomes": "PPPPPP",
            "first_flaky_run": flaky_run(written, 0),
            "last_flaky_run": flaky_run(written, 3),
        },
    ]

    # `min_runs` lets the short history in (it ranks first: it flips every run);
    # `last` shortens the outcomes; `limit` cuts the list, not the total.
    body = await get_flaky(client, min_runs=3, last=2, limit=2)
    assert body["total"] == 4
    assert [(item["name"], item["last_outcomes"]) for item in body["items"]] == [
        ("profile", "PF"),
        ("cart", "EP"),
    ]
    assert body["items"][0]["flip_rate"] == 1.0
    assert body["items"][0]["flakiness"] == 1.0

    # The filters select: a window holding r2..r3 only, one case.
    body = await get_flaky(
        client,
        min_runs=2,
        **{"from": "2026-03-04T00:00:00Z", "to": "2026-03-05T12:00:00Z"},
        test_case_id=written.case_id("login"),
    )
    assert [(item["name"], item["runs"], item["flips"]) for item in body["items"]] == [
        ("login", 2, 1)
    ]


async def test_one_run_shows_retry_flakiness_and_no_flip_rate(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    written = await write_history(
        client, db, [RunSpec(at=T0, results={"pay": "FP", "skip": "S", "stable": "P"})]
    )

    body = await get_flaky(client, min_runs=1)

    assert body["total"] == 1
    [item] = body["items"]
    assert item["test_case_id"] == written.case_id("pay")
    assert (item["runs"], item["retry_flaky_runs"], item["retry_rate"]) == (1, 1, 1.0)
    assert (item["flips"], item["flip_rate"], item["flakiness"]) == (0, None, 1.0)
    assert item["first_flaky_run"] == item["last_flaky_run"] == flaky_run(written, 0)


async def test_no_runs_no_flaky_cases(client: httpx.AsyncClient) -> None:
    assert await get_flaky(client) == {**WINDOW, "total": 0, "items": []}


async def test_bad_parameters_are_422(client: httpx.AsyncClient) -> None:
    for params in (
        {"min_run": "5"},
        {"min_runs": "0"},
        {"min_runs": "1001"},
        {"last": "51"},
        {"limit": "101"},
        {"from": "2026-03-02", "to": "2026-03-01"},
    ):
        response = await client.get(FLAKY, params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"


def test_the_documented_example_is_a_valid_response() -> None:
    extra = FlakyCases.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    for example in extra["examples"]:  # type: ignore[union-attr]
        FlakyCases.model_validate(example)
