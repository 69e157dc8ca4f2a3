"""`GET /executions/analytics/summary`: exact figures of known history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from api.analytics.schemas import SummaryRead
from tests.api.analytics.history import T0, Result, RunSpec, days, write_history
from tests.api.executions.helpers import create_case, create_run
from tests.api.helpers import assert_invalid

SUMMARY = "/api/v1/executions/analytics/summary"
EXECUTION_STATUSES = ("queued", "running", "passed", "failed", "error", "skipped", "cancelled")
RUN_STATUSES = ("queued", "running", "passed", "failed", "error", "cancelled")
NO_DURATIONS = {"p50": None, "p95": None, "max": None}


def executions(**counts: int) -> dict[str, int]:
    """Executions by status: every status, those not given 0."""
    return {status: counts.get(status, 0) for status in EXECUTION_STATUSES}


def runs(**counts: int) -> dict[str, int]:
    """Runs by status: every status, those not given 0."""
    return {status: counts.get(status, 0) for status in RUN_STATUSES}


def zero_day(date: str) -> dict[str, Any]:
    return {"date": date, "runs": 0, "executions": executions(), "pass_rate": None}


async def summary(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get(SUMMARY, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


THREE_RUNS = [
    # Monday 09:00 UTC: a failure retried into a pass, a pass, a skip.
    RunSpec(
        at=T0,
        results={
            "log in": Result("FP", durations=(2000, 1000)),
            "search": Result("P", durations=(3000,)),
            "checkout": Result("S", durations=(500,)),
        },
    ),
    # Monday 11:00 UTC: a pass, an error, a failure.
    RunSpec(
        at=T0 + timedelta(hours=2),
        results={
            "log in": Result("P", durations=(1500,)),
            "search": Result("E", durations=(4000,)),
            "checkout": Result("F", durations=(2500,)),
        },
    ),
    # Tuesday 09:00 UTC: all pass.
    RunSpec(
        at=T0 + days(1),
        results={
            "log in": Result("P", durations=(1000,)),
            "search": Result("P", durations=(1000,)),
            "checkout": Result("P", durations=(5000,)),
        },
    ),
]


class TestKnownHistory:
    async def test_three_runs_over_two_days(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await write_history(client, db, THREE_RUNS)

        body = await summary(client, **{"from": "2026-03-01", "to": "2026-03-04"})

        assert body["window"] == {
            "from": "2026-03-01T00:00:00Z",
            "to": "2026-03-04T00:00:00Z",
            "tz": "UTC",
        }
        # Runs: 6,500 ms (passed), 8,000 ms (failed: a case errored), 7,000 ms (passed).
        assert body["runs"] == {
            "total": 3,
            "by_status": runs(passed=2, failed=1),
            "duration_ms": {"p50": 7000, "p95": 8000, "max": 8000},
        }
        # Every attempt with a verdict (not the skip): 1000 x3, 1500, 2000, 2500, 3000, 4000,
        # 5000 (nearest rank).
        assert body["executions"] == {
            "total": 10,
            "by_status": executions(passed=6, failed=2, error=1, skipped=1),
            "duration_ms": {"p50": 2000, "p95": 5000, "max": 5000},
        }
        # Latest attempts: 2 of 2 (the retried failure passed, the skip does not count),
        # 1 of 3, 3 of 3.
        assert body["pass_rate"] == 0.75
        assert body["trend"] == [
            zero_day("2026-03-01"),
            {
                "date": "2026-03-02",
                "runs": 2,
                "executions": executions(passed=3, failed=2, error=1, skipped=1),
                "pass_rate": 0.6,
            },
            {
                "date": "2026-03-03",
                "runs": 1,
                "executions": executions(passed=3),
                "pass_rate": 1.0,
            },
        ]

    async def test_an_empty_window_is_zeros(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await write_history(client, db, THREE_RUNS[:1])

        body = await summary(client, **{"from": "2026-02-01", "to": "2026-02-03T00:00:00Z"})

        assert body == {
            "window": {
                "from": "2026-02-01T00:00:00Z",
                "to": "2026-02-03T00:00:00Z",
                "tz": "UTC",
            },
            "runs": {"total": 0, "by_status": runs(), "duration_ms": NO_DURATIONS},
            "executions": {"total": 0, "by_status": executions(), "duration_ms": NO_DURATIONS},
            "pass_rate": None,
            "trend": [zero_day("2026-02-01"), zero_day("2026-02-02")],
        }

    async def test_one_run(self, client: httpx.AsyncClient, db: AsyncDatabase[Any]) -> None:
        await write_history(
            client,
            db,
            [
                RunSpec(
                    at=T0,
                    results={
                        "log in": Result("P", durations=(1200,)),
                        "search": Result("F", durations=(800,)),
                    },
                )
            ],
        )

        body = await summary(client, **{"from": "2026-03-02", "to": "2026-03-03"})

        assert body["runs"] == {
            "total": 1,
            "by_status": runs(failed=1),
            "duration_ms": {"p50": 2000, "p95": 2000, "max": 2000},
        }
        assert body["executions"] == {
            "total": 2,
            "by_status": executions(passed=1, failed=1),
            "duration_ms": {"p50": 800, "p95": 1200, "max": 1200},
        }
        assert body["pass_rate"] == 0.5
        assert body["trend"] == [
            {
                "date": "2026-03-02",
                "runs": 1,
                "executions": executions(passed=1, failed=1),
                "pass_rate": 0.5,
            }
        ]

    async def test_all_skipped_has_no_pass_rate(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await write_history(client, db, [RunSpec(at=T0, results={"log in": "S", "search": "S"})])

        body = await summary(client, **{"from": "2026-03-02", "to": "2026-03-03"})

        assert body["runs"]["total"] == 1
        assert body["executions"]["by_status"] == executions(skipped=2)
        assert body["executions"]["duration_ms"] == NO_DURATIONS  # skipped: nothing ran
        assert body["pass_rate"] is None
        assert body["trend"] == [
            {
                "date": "2026-03-02",
                "runs": 1,
                "executions": executions(skipped=2),
                "pass_rate": None,
            }
        ]


class TestTimeZones:
    """Days are the client's: a run late on Monday evening in UTC is on Tuesday in Paris."""

    WINDOW = {"from": "2026-03-02", "to": "2026-03-04"}

    async def runs_per_day(self, client: httpx.AsyncClient, tz: str | None) -> dict[str, int]:
        params = dict(self.WINDOW, **({"tz": tz} if tz else {}))
        body = await summary(client, **params)
        assert body["window"]["tz"] == (tz or "UTC")
        assert sum(day["runs"] for day in body["trend"]) == body["runs"]["total"] == 2
        return {day["date"]: day["runs"] for day in body["trend"]}

    async def test_days_are_in_the_time_zone_given(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        monday_late = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
        tuesday_early = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
        await write_history(
            client,
            db,
            [
                RunSpec(at=monday_late, results={"log in": "P"}),
                RunSpec(at=tuesday_early, results={"log in": "F"}),
            ],
        )

        # The window [Mon 00:00 UTC, Wed 00:00 UTC) spans these local days.
        assert await self.runs_per_day(client, None) == {"2026-03-02": 1, "2026-03-03": 1}
        assert await self.runs_per_day(client, "Europe/Paris") == {
            "2026-03-02": 0,
            "2026-03-03": 2,  # 00:30 and 03:00 in Paris
            "2026-03-04": 0,
        }
        assert await self.runs_per_day(client, "America/New_York") == {
            "2026-03-01": 0,
            "2026-03-02": 2,  # 18:30 and 21:00 in New York
            "2026-03-03": 0,
        }

    async def test_the_pass_rate_of_a_day_follows_the_time_zone(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await write_history(
            client,
            db,
            [
                RunSpec(at=datetime(2026, 3, 2, 23, 30, tzinfo=UTC), results={"log in": "P"}),
                RunSpec(at=datetime(2026, 3, 3, 9, 0, tzinfo=UTC), results={"log in": "F"}),
            ],
        )

        utc = await summary(client, **self.WINDOW)
        paris = await summary(client, **self.WINDOW, tz="Europe/Paris")

        assert [day["pass_rate"] for day in utc["trend"]] == [1.0, 0.0]
        assert [day["pass_rate"] for day in paris["trend"]] == [None, 0.5, None]
        assert utc["pass_rate"] == paris["pass_rate"] == 0.5

    async def test_days_keep_their_dates_across_daylight_saving_changes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        """Paris moves from UTC+1 to UTC+2 at 01:00 UTC on 2025-03-30 and back at 01:00 UTC on
        2025-10-26: a run is on its local day by the offset of its own moment."""
        at = [
            datetime(2025, 3, 29, 22, 30, tzinfo=UTC),  # Sat 23:30 +01:00
            datetime(2025, 3, 29, 23, 30, tzinfo=UTC),  # Sun 00:30 +01:00
            datetime(2025, 3, 30, 21, 30, tzinfo=UTC),  # Sun 23:30 +02:00
            datetime(2025, 3, 30, 22, 30, tzinfo=UTC),  # Mon 00:30 +02:00 (23:30 at +01:00)
            datetime(2025, 10, 25, 21, 30, tzinfo=UTC),  # Sat 23:30 +02:00
            datetime(2025, 10, 25, 22, 30, tzinfo=UTC),  # Sun 00:30 +02:00
            datetime(2025, 10, 26, 22, 30, tzinfo=UTC),  # Sun 23:30 +01:00 (Mon 00:30 at +02:00)
            datetime(2025, 10, 26, 23, 30, tzinfo=UTC),  # Mon 00:30 +01:00
        ]
        await write_history(
            client, db, [RunSpec(at=moment, results={"log in": "P"}) for moment in at]
        )

        spring = await summary(
            client, **{"from": "2025-03-29", "to": "2025-04-01", "tz": "Europe/Paris"}
        )
        autumn = await summary(
            client, **{"from": "2025-10-25", "to": "2025-10-28", "tz": "Europe/Paris"}
        )

        # [Sat 00:00 UTC, Tue 00:00 UTC) is from Saturday 01:00 to Tuesday 02:00 in Paris; in
        # autumn, from Saturday 02:00 to Tuesday 01:00.
        assert [(day["date"], day["runs"]) for day in spring["trend"]] == [
            ("2025-03-29", 1),
            ("2025-03-30", 2),
            ("2025-03-31", 1),
            ("2025-04-01", 0),
        ]
        assert [(day["date"], day["runs"]) for day in autumn["trend"]] == [
            ("2025-10-25", 1),
            ("2025-10-26", 2),
            ("2025-10-27", 1),
            ("2025-10-28", 0),
        ]
        assert spring["runs"]["total"] == autumn["runs"]["total"] == 4

    async def test_an_unknown_time_zone_is_refused(self, client: httpx.AsyncClient) -> None:
        for tz in ("Mars/Olympus_Mons", "", "../etc/passwd", "x" * 65):
            assert_invalid(await client.get(SUMMARY, params={"tz": tz}), "query.tz")


async def test_the_default_window_is_the_last_30_days(client: httpx.AsyncClient) -> None:
    case = await create_case(client, "log in")
    await create_run(client, test_case_ids=[case["id"]])  # opened now, not yet started

    body = await summary(client)

    start = datetime.fromisoformat(body["window"]["from"])
    end = datetime.fromisoformat(body["window"]["to"])
    assert end - start == timedelta(days=30)
    assert abs(datetime.now(UTC) - end) < timedelta(minutes=5)
    assert body["runs"]["total"] == 1
    assert body["runs"]["by_status"] == runs(queued=1)
    assert body["runs"]["duration_ms"] == NO_DURATIONS
    assert body["executions"]["by_status"] == executions(queued=1)
    assert body["pass_rate"] is None
    assert len(body["trend"]) in (30, 31)  # 31 unless the window starts at midnight
    assert body["trend"][-1]["date"] == end.date().isoformat()
    assert body["trend"][-1]["runs"] == 1


def test_the_documented_example_is_a_valid_response() -> None:
    extra = SummaryRead.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    for example in extra["examples"]:  # type: ignore[union-attr]
        SummaryRead.model_validate(example)


async def test_every_pipeline_starts_with_an_indexed_match(
    client: httpx.AsyncClient, db: AsyncDatabase[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With and without case filters (whose runs come from the executions by `$lookup`)."""
    sent: list[tuple[str, list[dict[str, Any]], str]] = []
    aggregate = AsyncCollection.aggregate

    async def recording(
        self: AsyncCollection[Any], pipeline: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> Any:
        sent.append((self.name, pipeline, kwargs.get("hint", "")))
        return await aggregate(self, pipeline, *args, **kwargs)

    monkeypatch.setattr(AsyncCollection, "aggregate", recording)
    case = await create_case(client, "log in", tags=["smoke"])
    for params in ({}, {"test_case_id": case["id"]}, {"tags": "smoke"}, {"branch": "main"}):
        await summary(client, **params)

    assert len(sent) == 8
    for collection, pipeline, hint in sent:
        indexes = await db[collection].index_information()
        assert hint in indexes, (collection, hint)
        first_key = indexes[hint]["key"][0][0]
        assert first_key in pipeline[0]["$match"], (collection, hint, pipeline[0])
    assert {collection for collection, _, _ in sent} == {"test_executions", "test_runs"}
    with_lookup = [pipeline for _, pipeline, _ in sent if any("$lookup" in s for s in pipeline)]
    assert len(with_lookup) == 2  # the runs of the case filters
