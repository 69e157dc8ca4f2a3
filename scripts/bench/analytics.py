"""Benchmark operations of analytics: each route over the seeded year of runs.

Picks: the suite with the most runs, the case executed most often (the history case), and the
window the seeded runs span. Each route is measured over that window (the suite's report over its
latest 20 runs). The raw equivalent is the cheapest figure of the same executions: one indexed
`$match` of the window and a count per status (`$group`), so the ratio says what the full figures
cost over reading the same documents once.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from documents.base import as_utc
from scripts.bench.operations import API, TESTS, Goal, Operation, Picks, Read

if TYPE_CHECKING:
    from pymongo.asynchronous.database import AsyncDatabase

ANALYTICS = f"{API}/executions/analytics"
FIGURES = Goal(p95_ms=1000, round_trips=3)
"""An analytics route at size `medium` on the embedded engine: within a second, in at most three
round trips (the figures' pipelines, run concurrently where there are two)."""
SUITE_REPORT = Goal(p95_ms=2000)
"""A suite report reads its runs' executions too (the report lists them), then its figures."""


async def pick_analytics(db: AsyncDatabase[Any]) -> dict[str, Any]:
    """The suite with the most runs, and the window every seeded run falls in."""
    runs = db["test_runs"]
    top = await (
        await runs.aggregate(
            [
                {"$match": {"suite_id": {"$ne": None}}},
                {"$group": {"_id": "$suite_id", "runs": {"$sum": 1}}},
                {"$sort": {"runs": -1, "_id": 1}},
                {"$limit": 1},
            ]
        )
    ).to_list()
    first = await runs.find_one({}, {"created_at": 1}, sort=[("created_at", 1)])
    last = await runs.find_one({}, {"created_at": 1}, sort=[("created_at", -1)])
    if not top or first is None or last is None:
        return {"analytics_suite_id": None, "analytics_suite_runs": 0, "window": None}
    start = first["created_at"]
    end = last["created_at"] + timedelta(milliseconds=1)
    return {
        "analytics_suite_id": top[0]["_id"],
        "analytics_suite_runs": top[0]["runs"],
        "window": (start, end),
    }


async def _by_status(db: AsyncDatabase[Any], match: dict[str, Any], hint: str) -> None:
    pipeline = [{"$match": match}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]
    await (await db["test_executions"].aggregate(pipeline, hint=hint)).to_list()


def analytics_operations(db: AsyncDatabase[Any], picks: Picks) -> list[Operation]:
    if picks.window is None or picks.analytics_suite_id is None:
        return []
    start, end = picks.window
    window = {"from": as_utc(start).isoformat(), "to": as_utc(end).isoformat()}
    in_window = {"run.created_at": {"$gte": start, "$lt": end}}
    suite = {"run.suite_id": picks.analytics_suite_id, **in_window}
    case = {"test_case_id": picks.history_case_id, **in_window}
    suite_query = {**window, "suite_id": str(picks.analytics_suite_id)}

    def figure(
        name: str,
        path: str,
        query: dict[str, str],
        match: dict[str, Any],
        hint: str,
        *,
        route: str | None = None,
    ) -> Read:
        url = f"{path}?{urlencode(query)}"
        return Read(
            name,
            url,
            route=f"GET {route or path}",
            goal=FIGURES,
            raw_query=f"aggregate([$match {sorted(match)}, $group by status]) hint {hint}",
            query=partial(_by_status, db, match, hint),
        )

    return [
        figure(
            "analytics summary (year)",
            f"{ANALYTICS}/summary",
            window,
            in_window,
            "analytics_window",
        ),
        figure(
            "analytics summary (suite)",
            f"{ANALYTICS}/summary",
            suite_query,
            suite,
            "analytics_suite",
        ),
        figure("flaky cases (year)", f"{ANALYTICS}/flaky", window, in_window, "analytics_window"),
        figure(
            "slowest cases (year)", f"{ANALYTICS}/slowest", window, in_window, "analytics_window"
        ),
        figure(
            "slowest steps (suite)",
            f"{ANALYTICS}/slowest",
            {**suite_query, "by": "step"},
            suite,
            "analytics_suite",
        ),
        figure("failures (year)", f"{ANALYTICS}/failures", window, in_window, "analytics_window"),
        figure(
            f"case stats ({picks.history_executions})",
            f"{TESTS}/{picks.history_case_id}/stats",
            window,
            case,
            "analytics_case",
            route=f"{TESTS}/{{id}}/stats",
        ),
        Read(
            f"suite report json ({min(20, picks.analytics_suite_runs)} runs)",
            f"{API}/suites/{picks.analytics_suite_id}/report",
            route=f"GET {API}/suites/{{id}}/report",
            goal=SUITE_REPORT,
            raw_query="aggregate([$match {run.suite_id, run.created_at}, $group by status])",
            query=partial(_by_status, db, suite, "analytics_suite"),
        ),
    ]
