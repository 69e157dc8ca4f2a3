"""`GET /suites/{id}/report?format=json`: every figure of `analytics` over a known history.

Four daily runs of a suite of four cases (durations in ms; a case's attempts run one after
another, in the order below, from the run's opening):

| run (opened)      | log in       | search   | checkout | export        | run      |
|-------------------|--------------|----------|----------|---------------|----------|
| r0 (Mon 09:00)    | P 1000       | P 1000   | P 3000   | F 500 timeout | 5,500    |
| r1 (Tue 09:00)    | F 2000, P 1000 (timeout) | P 1000 | P 5000 | E 500 cart | 9,500 |
| r2 (Wed 09:00)    | P 1000       | F 1500 cart | P 4000 | F 500 timeout | 7,000    |
| r3 (Thu 09:00)    | P 1000       | P 1000   | P 6000   | S 500         | 8,500    |

`log in` is retry-flaky in r1, `search` flips (P P F P), `checkout` is the slow case, and the
failures have two signatures: a timeout (whose milliseconds differ: one signature) and a missing
element. Percentiles are the nearest rank (`api.analytics.stages`).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from api.artifacts.report_params import MAX_SUITE_RUNS
from tests.api.analytics.history import T0, Result, RunSpec, Written, days, write_history
from tests.api.executions.helpers import SUITES, create_case, create_run, create_suite

TIMEOUT = "Timeout 5000ms exceeded waiting for #submit"
CART = "Element #cart not found"
CASES = ["log in", "search", "checkout", "export"]
HISTORY = [
    {
        "log in": Result("P", durations=(1000,)),
        "search": Result("P", durations=(1000,)),
        "checkout": Result("P", durations=(3000,)),
        "export": Result("F", durations=(500,), message=TIMEOUT),
    },
    {
        "log in": Result("FP", durations=(2000, 1000), message=TIMEOUT),
        "search": Result("P", durations=(1000,)),
        "checkout": Result("P", durations=(5000,)),
        "export": Result("E", durations=(500,), message=CART),
    },
    {
        "log in": Result("P", durations=(1000,)),
        "search": Result("F", durations=(1500,), message=CART),
        "checkout": Result("P", durations=(4000,)),
        "export": Result("F", durations=(500,), message=TIMEOUT.replace("5000", "7000")),
    },
    {
        "log in": Result("P", durations=(1000,)),
        "search": Result("P", durations=(1000,)),
        "checkout": Result("P", durations=(6000,)),
        "export": Result("S", durations=(500,)),
    },
]
NO_CHANGE = {"previous_ms": None, "change": None, "change_ratio": None}


@pytest.fixture
async def known(client: httpx.AsyncClient, db: AsyncDatabase[Any]) -> Written:
    runs = [
        RunSpec(at=T0 + days(index), results=dict(results), suite="web")
        for index, results in enumerate(HISTORY)
    ]
    return await write_history(client, db, runs, suites={"web": CASES})


async def analytics(client: httpx.AsyncClient, suite_id: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"{SUITES}/{suite_id}/report", params={"format": "json", **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert [run["run"]["id"] for run in body["runs"]] == [
        run["run_id"] for run in body["analytics"]["trend"]
    ]
    figures: dict[str, Any] = body["analytics"]
    return figures


def trend(
    written: Written, index: int, status: str, pass_rate: float | None, duration: int, **counts: int
) -> dict[str, Any]:
    """The trend entry of run `index` of the history."""
    return {
        "run_id": written.runs[index],
        "name": f"run at {(T0 + days(index)).isoformat()}",
        "opened_at": f"2026-03-0{2 + index}T09:00:00Z",
        "status": status,
        "pass_rate": pass_rate,
        "passed": counts.get("passed", 0),
        "failed": counts.get("failed", 0),
        "error": counts.get("error", 0),
        "skipped": counts.get("skipped", 0),
        "duration_ms": duration,
    }


def opened(index: int) -> str:
    return f"2026-03-0{2 + index}T09:00:00Z"


class TestKnownHistory:
    async def test_every_figure_over_the_four_runs(
        self, client: httpx.AsyncClient, known: Written
    ) -> None:
        runs, case = known.runs, known.case_id
        figures = await analytics(client, known.suites["web"]["id"])

        assert figures["runs"] == 4
        # Newest first; by the latest attempt of each case (r1's retried log in passed).
        assert figures["trend"] == [
            trend(known, 3, "passed", 1.0, 8500, passed=3, skipped=1),
            trend(known, 2, "failed", 0.5, 7000, passed=2, failed=2),
            trend(known, 1, "failed", 0.75, 9500, passed=3, error=1),
            trend(known, 0, "failed", 0.75, 5500, passed=3, failed=1),
        ]
        # Runs: 5500 7000 8500 9500. Executions that ran (not the skip), every attempt:
        # 500 x3, 1000 x7, 1500, 2000, 3000, 4000, 5000, 6000.
        assert figures["durations"] == {
            "runs": {"p50": 7000, "p95": 9500, "max": 9500},
            "executions": {"p50": 1000, "p95": 6000, "max": 6000},
        }
        window = {"from": opened(0), "to": "2026-03-05T09:00:00.001000Z"}
        # search: P P F P, 2 flips of 3. log in: 1 retry-flaky run of 4. export: F E F (S left
        # out): error counts as a failure, so no flip.
        assert figures["flaky"] == {
            **window,
            "total": 2,
            "items": [
                {
                    "test_case_id": case("search"),
                    "name": "search",
                    "runs": 4,
                    "retry_flaky_runs": 0,
                    "retry_rate": 0.0,
                    "flips": 2,
                    "flip_rate": 0.6667,
                    "flakiness": 0.6667,
                    "last_outcomes": "PPFP",
                    "first_flaky_run": {"run_id": runs[2], "at": opened(2)},
                    "last_flaky_run": {"run_id": runs[3], "at": opened(3)},
                },
                {
                    "test_case_id": case("log in"),
                    "name": "log in",
                    "runs": 4,
                    "retry_flaky_runs": 1,
                    "retry_rate": 0.25,
                    "flips": 0,
                    "flip_rate": 0.0,
                    "flakiness": 0.25,
                    "last_outcomes": "PPPP",
                    "first_flaky_run": {"run_id": runs[1], "at": opened(1)},
                    "last_flaky_run": {"run_id": runs[1], "at": opened(1)},
                },
            ],
        }
        # No runs of the suite before r0: no change.
        assert figures["slowest"] == {
            **window,
            "metric": "p95",
            "by": "case",
            "total": 4,
            "items": [
                slow(case("checkout"), "checkout", 4, 4, 6000, 4500, 6000, **NO_CHANGE),
                slow(case("log in"), "log in", 4, 5, 2000, 1200, 2000, **NO_CHANGE),
                slow(case("search"), "search", 4, 4, 1500, 1125, 1500, **NO_CHANGE),
                slow(case("export"), "export", 3, 3, 500, 500, 500, **NO_CHANGE),
            ],
        }
        failures = figures["failures"]
        assert (failures["total"], failures["failures"]) == (2, 5)
        timeout, cart = failures["items"]
        assert without_execution(timeout) == {
            "signature": "Timeout <n>ms exceeded waiting for #submit",
            "count": 3,
            "cases": 2,
            "runs": 3,
            "first_seen": "2026-03-02T09:00:05.500000Z",  # r0's export finished
            "last_seen": "2026-03-04T09:00:07Z",  # r2's export finished
            "first_run_id": runs[0],
            "example": {
                "message": "Timeout 7000ms exceeded waiting for #submit",
                "type": None,
                "run_id": runs[2],
            },
            "top_cases": [
                {"id": case("export"), "name": "export", "count": 2},
                {"id": case("log in"), "name": "log in", "count": 1},
            ],
        }
        assert without_execution(cart) == {
            "signature": CART,
            "count": 2,
            "cases": 2,
            "runs": 2,
            "first_seen": "2026-03-03T09:00:09.500000Z",  # r1's export errored
            "last_seen": "2026-03-04T09:00:02.500000Z",  # r2's search failed
            "first_run_id": runs[1],
            "example": {"message": CART, "type": None, "run_id": runs[2]},
            "top_cases": [
                {"id": case("export"), "name": "export", "count": 1},
                {"id": case("search"), "name": "search", "count": 1},
            ],
        }

    async def test_runs_limits_the_figures_to_the_latest_runs(
        self, client: httpx.AsyncClient, known: Written
    ) -> None:
        runs, case = known.runs, known.case_id
        figures = await analytics(client, known.suites["web"]["id"], runs=2)

        assert figures["runs"] == 2
        assert figures["trend"] == [
            trend(known, 3, "passed", 1.0, 8500, passed=3, skipped=1),
            trend(known, 2, "failed", 0.5, 7000, passed=2, failed=2),
        ]
        # Runs 7000 8500; executions 500, 1000 x3, 1500, 4000, 6000.
        assert figures["durations"] == {
            "runs": {"p50": 7000, "p95": 8500, "max": 8500},
            "executions": {"p50": 1000, "p95": 6000, "max": 6000},
        }
        window = {"from": opened(2), "to": "2026-03-05T09:00:00.001000Z"}
        # Over r2 and r3: search F P (1 flip of 1); log in's retry was in r1, outside.
        assert figures["flaky"] == {
            **window,
            "total": 1,
            "items": [
                {
                    "test_case_id": case("search"),
                    "name": "search",
                    "runs": 2,
                    "retry_flaky_runs": 0,
                    "retry_rate": 0.0,
                    "flips": 1,
                    "flip_rate": 1.0,
                    "flakiness": 1.0,
                    "last_outcomes": "FP",
                    "first_flaky_run": {"run_id": runs[3], "at": opened(3)},
                    "last_flaky_run": {"run_id": runs[3], "at": opened(3)},
                }
            ],
        }
        # The change is against as long a window before: the day before r2 holds r1.
        assert figures["slowest"]["items"] == [
            slow(case("checkout"), "checkout", 2, 2, 6000, 5000, 6000, 5000, "+20%", 0.2),
            slow(case("search"), "search", 2, 2, 1500, 1250, 1500, 1000, "+50%", 0.5),
            slow(case("log in"), "log in", 2, 2, 1000, 1000, 1000, 2000, "-50%", -0.5),
            slow(case("export"), "export", 1, 1, 500, 500, 500, 500, "+0%", 0.0),
        ]
        failures = figures["failures"]
        assert (failures["total"], failures["failures"]) == (2, 2)
        assert [
            (group["signature"], group["count"], group["first_run_id"])
            for group in failures["items"]
        ] == [
            ("Timeout <n>ms exceeded waiting for #submit", 1, runs[2]),
            (CART, 1, runs[2]),
        ]

    async def test_one_run_lists_only_retry_flaky_cases(
        self, client: httpx.AsyncClient, known: Written
    ) -> None:
        figures = await analytics(client, known.suites["web"]["id"], runs=1)

        assert figures["runs"] == 1
        assert figures["trend"] == [trend(known, 3, "passed", 1.0, 8500, passed=3, skipped=1)]
        assert figures["durations"] == {
            "runs": {"p50": 8500, "p95": 8500, "max": 8500},
            "executions": {"p50": 1000, "p95": 6000, "max": 6000},
        }
        assert (figures["flaky"]["total"], figures["flaky"]["items"]) == (0, [])
        assert figures["failures"] == {"items": [], "total": 0, "failures": 0}


def slow(
    case_id: str,
    name: str,
    runs: int,
    executions: int,
    p95: int,
    avg: int,
    maximum: int,
    previous_ms: int | None,
    change: str | None,
    change_ratio: float | None,
) -> dict[str, Any]:
    return {
        "test_case_id": case_id,
        "name": name,
        "step": None,
        "runs": runs,
        "executions": executions,
        "p95_ms": p95,
        "avg_ms": avg,
        "max_ms": maximum,
        "previous_ms": previous_ms,
        "change": change,
        "change_ratio": change_ratio,
    }


def without_execution(group: dict[str, Any]) -> dict[str, Any]:
    """The group with its example's execution id checked and left out."""
    example = dict(group["example"])
    assert isinstance(example.pop("execution_id"), str)
    return {**group, "example": example}


EMPTY = {
    "runs": 0,
    "trend": [],
    "durations": {
        "runs": {"p50": None, "p95": None, "max": None},
        "executions": {"p50": None, "p95": None, "max": None},
    },
    "flaky": None,
    "slowest": None,
    "failures": None,
}


class TestEmpty:
    async def test_a_suite_without_runs_has_no_figures(self, client: httpx.AsyncClient) -> None:
        case = await create_case(client, "log in")
        suite = await create_suite(client, "web", [case["id"]])

        assert await analytics(client, suite["id"]) == EMPTY

    async def test_a_suite_whose_runs_are_all_skipped_has_no_pass_rate(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        skipped = {"log in": Result("S", durations=(700,)), "search": Result("S", durations=(300,))}
        written = await write_history(
            client,
            db,
            [RunSpec(at=T0 + days(n), results=dict(skipped), suite="web") for n in range(2)],
            suites={"web": ["log in", "search"]},
        )

        figures = await analytics(client, written.suites["web"]["id"])

        assert figures["trend"] == [
            trend(written, 1, "passed", None, 1000, skipped=2),
            trend(written, 0, "passed", None, 1000, skipped=2),
        ]
        assert figures["durations"] == {
            "runs": {"p50": 1000, "p95": 1000, "max": 1000},
            "executions": {"p50": None, "p95": None, "max": None},  # nothing ran
        }
        assert (figures["flaky"]["total"], figures["flaky"]["items"]) == (0, [])
        assert (figures["slowest"]["total"], figures["slowest"]["items"]) == (0, [])
        assert figures["failures"] == {"items": [], "total": 0, "failures": 0}


class TestHowManyRuns:
    def test_the_documented_default_is_20_of_at_most_50(self, app: FastAPI) -> None:
        operation = app.openapi()["paths"]["/api/v1/suites/{id}/report"]["get"]
        (runs,) = [param for param in operation["parameters"] if param["name"] == "runs"]
        schema = runs["schema"]
        assert (schema["type"], schema["default"]) == ("integer", 20)
        assert (schema["minimum"], schema["maximum"]) == (1, MAX_SUITE_RUNS) == (1, 50)

    async def test_by_default_the_latest_20_runs(self, client: httpx.AsyncClient) -> None:
        case = await create_case(client, "log in")
        suite = await create_suite(client, "web", [case["id"]])
        created = [(await create_run(client, suite_id=suite["id"]))["id"] for _ in range(21)]

        figures = await analytics(client, suite["id"])

        assert figures["runs"] == 20
        assert [run["run_id"] for run in figures["trend"]] == created[:0:-1]
        assert all(run["pass_rate"] is None for run in figures["trend"])  # all still queued


async def test_a_run_opened_with_the_oldest_but_left_out_is_not_in_the_figures(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    """Two runs opened in the same millisecond, one report run: the figures are the listed
    run's only, though the other is in the window of time it spans."""
    failing: dict[str, Result | str] = {"log in": Result("F", durations=(900,), message=TIMEOUT)}
    passing: dict[str, Result | str] = {"log in": Result("P", durations=(300,))}
    written = await write_history(
        client,
        db,
        [
            RunSpec(at=T0, results=failing, suite="web"),
            RunSpec(at=T0, results=passing, suite="web"),
        ],
        suites={"web": ["log in"]},
    )

    figures = await analytics(client, written.suites["web"]["id"], runs=1)

    # Ties on the opening go to the later id: the passing run, created second.
    listed = trend(written, 0, "passed", 1.0, 300, passed=1) | {"run_id": written.runs[1]}
    assert figures["trend"] == [listed]
    assert figures["durations"] == {
        "runs": {"p50": 300, "p95": 300, "max": 300},
        "executions": {"p50": 300, "p95": 300, "max": 300},
    }
    assert figures["failures"] == {"items": [], "total": 0, "failures": 0}
    assert figures["flaky"]["items"] == []
    assert [(item["executions"], item["max_ms"]) for item in figures["slowest"]["items"]] == [
        (1, 300)
    ]
