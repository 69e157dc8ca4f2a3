"""The filters every analytics route shares (`AnalyticsFilters`), tested through the summary."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.analytics.history import T0, RunSpec, Written, write_history
from tests.api.analytics.test_summary import SUMMARY, runs, summary
from tests.api.helpers import UNKNOWN_ID, assert_invalid, create_browser, create_environment

WINDOW = {"from": "2026-03-02", "to": "2026-03-03"}


class TestRefused:
    @pytest.mark.parametrize(
        ("params", "location"),
        [
            ({"suite": UNKNOWN_ID}, "query"),  # unknown parameter (a typo of suite_id)
            ({"from": "2026-03-02", "to": "2026-03-02"}, "query"),  # from == to
            ({"from": "2026-03-03", "to": "2026-03-02"}, "query"),  # from after to
            ({"from": "2025-03-01", "to": "2026-03-03"}, "query"),  # 367 days
            ({"suite_id": "not-an-id"}, "query.suite_id"),
            ({"test_case_id": "123"}, "query.test_case_id"),
            ({"environment_id": "x" * 24}, "query.environment_id"),
            ({"browser_configuration_id": "0"}, "query.browser_configuration_id"),
            ({"trigger": "ci,nightly"}, "query.trigger"),
            ({"from": "yesterday"}, "query.from"),
        ],
    )
    async def test_bad_filters_are_a_422_problem(
        self, client: httpx.AsyncClient, params: dict[str, str], location: str
    ) -> None:
        assert_invalid(await client.get(SUMMARY, params=params), location)

    async def test_a_window_of_366_days_is_allowed(self, client: httpx.AsyncClient) -> None:
        response = await client.get(SUMMARY, params={"from": "2025-03-02", "to": "2026-03-03"})
        assert response.status_code == 200, response.text
        assert len(response.json()["trend"]) == 366


async def history(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> tuple[Written, dict[str, str]]:
    """Three runs on Monday 2 March 2026, an hour apart, that differ in every run filter.

    | run | at    | suite | cases (tags)              | env | browser | branch  | trigger  |
    |-----|-------|-------|---------------------------|-----|---------|---------|----------|
    | 1   | 09:00 | s1    | a (smoke) P, b (slow) F   | e1  | b1      | main    | ci       |
    | 2   | 10:00 | -     | a (smoke) P, c P          | e2  | b2      | feature | schedule |
    | 3   | 11:00 | -     | c E                       | e1  | b2      | main    | manual   |
    """
    ids = {
        "e1": (await create_environment(client, "staging"))["id"],
        "e2": (await create_environment(client, "production"))["id"],
        "b1": (await create_browser(client, "Chrome desktop"))["id"],
        "b2": (await create_browser(client, "Firefox desktop", browser="firefox"))["id"],
    }
    written = await write_history(
        client,
        db,
        [
            RunSpec(
                at=T0,
                results={"a": "P", "b": "F"},
                suite="s1",
                environment_id=ids["e1"],
                browser_configuration_id=ids["b1"],
                branch="main",
                trigger="ci",
            ),
            RunSpec(
                at=T0.replace(hour=10),
                results={"a": "P", "c": "P"},
                environment_id=ids["e2"],
                browser_configuration_id=ids["b2"],
                branch="feature",
                trigger="schedule",
            ),
            RunSpec(
                at=T0.replace(hour=11),
                results={"c": "E"},
                environment_id=ids["e1"],
                browser_configuration_id=ids["b2"],
                branch="main",
                trigger="manual",
            ),
        ],
        suites={"s1": ["a", "b"]},
        tags={"a": ["smoke"], "b": ["slow"]},
    )
    ids["s1"] = str(written.suites["s1"]["id"])
    for name in ("a", "b", "c"):
        ids[name] = written.case_id(name)
    return written, ids


async def counts(client: httpx.AsyncClient, **params: str) -> tuple[int, int]:
    """(runs, executions) of the summary with these filters."""
    body = await summary(client, **{**WINDOW, **params})
    assert sum(day["runs"] for day in body["trend"]) == body["runs"]["total"]
    return body["runs"]["total"], body["executions"]["total"]


async def test_each_filter_narrows_the_runs_and_executions(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    _, ids = await history(client, db)

    assert await counts(client) == (3, 5)
    assert await counts(client, suite_id=ids["s1"]) == (1, 2)
    assert await counts(client, test_case_id=ids["a"]) == (2, 2)
    assert await counts(client, environment_id=ids["e1"]) == (2, 3)
    assert await counts(client, environment_id=ids["e2"]) == (1, 2)
    assert await counts(client, browser_configuration_id=ids["b2"]) == (2, 3)
    assert await counts(client, branch="main") == (2, 3)
    assert await counts(client, branch="release") == (0, 0)
    assert await counts(client, trigger="ci,schedule") == (2, 4)
    assert await counts(client, trigger="manual") == (1, 1)
    assert await counts(client, tags="smoke") == (2, 2)
    assert await counts(client, tags="smoke,slow") == (2, 3)
    assert await counts(client, suite_id=ids["s1"], tags="slow") == (1, 1)
    assert await counts(client, test_case_id=ids["c"], branch="main") == (1, 1)
    assert await counts(client, suite_id=UNKNOWN_ID) == (0, 0)
    assert await counts(client, test_case_id=UNKNOWN_ID) == (0, 0)


async def test_case_filters_count_the_runs_that_executed_a_matching_case(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    _, ids = await history(client, db)

    body = await summary(client, **WINDOW, test_case_id=ids["c"])

    # Runs 2 (passed) and 3 (failed: its one case errored), whatever their other cases did.
    assert body["runs"]["by_status"] == runs(passed=1, failed=1)
    assert body["runs"]["duration_ms"] == {"p50": 1000, "p95": 2000, "max": 2000}
    assert body["pass_rate"] == 0.5
    tagged = await summary(client, **WINDOW, tags="slow")
    assert tagged["runs"]["by_status"] == runs(failed=1)
    assert tagged["pass_rate"] == 0.0


async def test_the_window_includes_its_start_and_excludes_its_end(
    client: httpx.AsyncClient, db: AsyncDatabase[Any]
) -> None:
    await history(client, db)
    ten = "2026-03-02T10:00:00Z"

    assert await counts(client, **{"from": ten}) == (2, 3)  # runs 2 (at 10:00) and 3
    assert await counts(client, to=ten) == (1, 2)  # run 1 only
    assert await counts(client, **{"from": ten, "to": "2026-03-02T10:00:00.001Z"}) == (1, 2)
    assert await counts(client, **{"from": "2026-03-02T10:00:00.001Z"}) == (1, 1)
