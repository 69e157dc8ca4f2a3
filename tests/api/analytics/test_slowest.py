"""`GET /executions/analytics/slowest`: known durations, exact figures.

Percentiles of a handful of values: p95 of fewer than 20 values is their maximum by nearest
rank (the embedded engine) and on MongoDB alike, so the figures below hold on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from api.analytics.schemas import SlowestCases
from tests.api.analytics.history import Result, RunSpec, Written, days, write_history

SLOWEST = "/api/v1/executions/analytics/slowest"
# Two weeks, and the two weeks before them.
WINDOW = {"from": "2026-03-15T00:00:00Z", "to": "2026-03-29T00:00:00Z"}
BEFORE = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)


def checkout(duration: int, *, click: int = 900) -> Result:
    return Result("P", durations=(duration,), step_durations=(100, click))


def search(outcome: str = "P") -> Result:
    return Result(outcome, durations=(5000,) * len(outcome), step_durations=(50, 3000))


def logout(duration: int) -> Result:
    return Result("P", durations=(duration,))


async def write_known(client: httpx.AsyncClient, db: AsyncDatabase[Any]) -> Written:
    runs = [
        # The previous window: checkout p95 6000 (of 4000, 6000), avg 5000, click 600.
        RunSpec(at=BEFORE, results={"checkout": checkout(4000, click=600)}),
        RunSpec(at=BEFORE + days(1), results={"checkout": checkout(6000, click=600)}),
        # The window: checkout 1000..9000 (p95 9000, avg 4000); search 5000 in 3 runs, one of
        # them retried (4 executions); logout 200 and 400, and a skipped run that does not count.
        RunSpec(
            at=NOW,
            results={"checkout": checkout(1000), "search": search(), "logout": logout(200)},
        ),
        RunSpec(
            at=NOW + days(1),
            results={"checkout": checkout(2000), "search": search("FP"), "logout": "S"},
        ),
        RunSpec(
            at=NOW + days(2),
            results={"checkout": checkout(3000), "search": search(), "logout": logout(400)},
        ),
        RunSpec(at=NOW + days(3), results={"checkout": checkout(5000)}),
        RunSpec(at=NOW + days(4), results={"checkout": checkout(9000)}),
    ]
    return await write_history(client, db, runs)


async def get_slowest(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(SLOWEST, params={**WINDOW, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def figures(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            item["name"],
            item["runs"],
            item["executions"],
            item["p95_ms"],
            item["avg_ms"],
            item["max_ms"],
            item["previous_ms"],
            item["change"],
            item["change_ratio"],
        )
        for item in body["items"]
    ]


async def test_cases_are_ranked_by_a_metric_with_the_change_against_the_window_before(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    written = await write_known(client, db)

    body = await get_slowest(client)

    assert (body["from"], body["to"]) == (WINDOW["from"], WINDOW["to"])
    assert (body["metric"], body["by"], body["total"]) == ("p95", "case", 3)
    assert body["items"][0]["test_case_id"] == written.case_id("checkout")
    assert body["items"][0]["step"] is None
    assert figures(body) == [
        ("checkout", 5, 5, 9000, 4000, 9000, 6000, "+50%", 0.5),
        ("search", 3, 4, 5000, 5000, 5000, None, None, None),
        ("logout", 2, 2, 400, 300, 400, None, None, None),
    ]

    body = await get_slowest(client, metric="avg")
    assert body["metric"] == "avg"
    assert figures(body) == [
        ("search", 3, 4, 5000, 5000, 5000, None, None, None),
        ("checkout", 5, 5, 9000, 4000, 9000, 5000, "-20%", -0.2),
        ("logout", 2, 2, 400, 300, 400, None, None, None),
    ]

    body = await get_slowest(client, metric="max", min_runs=3, limit=1)
    assert body["total"] == 2  # logout has 2 runs
    assert figures(body) == [("checkout", 5, 5, 9000, 4000, 9000, 6000, "+50%", 0.5)]


async def test_steps_are_ranked_by_step_within_their_case(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    written = await write_known(client, db)

    body = await get_slowest(client, by="step", limit=3)

    assert (body["by"], body["total"]) == ("step", 6)  # two steps of three cases
    click = {
        name: written.cases[name]["steps"][1]["id"] for name in ("checkout", "search", "logout")
    }
    navigate = written.cases["checkout"]["steps"][0]["id"]
    steps = [(item["name"], item["step"]) for item in body["items"]]
    assert steps == [
        ("search", {"step_id": click["search"], "action": "click", "order": 2}),
        ("checkout", {"step_id": click["checkout"], "action": "click", "order": 2}),
        ("checkout", {"step_id": navigate, "action": "navigate", "order": 1}),
    ]
    # Every attempt's step results count, the failed step's too.
    assert figures(body) == [
        ("search", 3, 4, 3000, 3000, 3000, None, None, None),
        ("checkout", 5, 5, 900, 900, 900, 600, "+50%", 0.5),
        ("checkout", 5, 5, 100, 100, 100, 100, "+0%", 0.0),
    ]


async def test_an_empty_window_has_no_slow_cases(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    await write_history(client, db, [RunSpec(at=NOW, results={"all skipped": "SS"})])

    assert await get_slowest(client) == {
        **WINDOW,
        "metric": "p95",
        "by": "case",
        "total": 0,
        "items": [],
    }
    empty = await get_slowest(client, by="step", **{"from": "2026-01-01", "to": "2026-02-01"})
    assert (empty["total"], empty["items"]) == (0, [])


async def test_bad_parameters_are_422(client: httpx.AsyncClient) -> None:
    for params in (
        {"metric": "p99"},
        {"by": "suite"},
        {"metrics": "avg"},
        {"min_runs": "0"},
        {"limit": "0"},
        {"limit": "101"},
        {"from": "2026-03-02", "to": "2026-03-02"},
    ):
        response = await client.get(SLOWEST, params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"


def test_the_documented_example_is_a_valid_response() -> None:
    extra = SlowestCases.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    for example in extra["examples"]:  # type: ignore[union-attr]
        SlowestCases.model_validate(example)
