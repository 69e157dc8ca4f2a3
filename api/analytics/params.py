"""The filters every analytics route takes: which runs (suite, environment, browser
configuration, branch, trigger, opened within `from`..`to`) and which of their cases (one case,
or cases with any of some tags)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Annotated, Self
from zoneinfo import available_timezones

from bson import ObjectId
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from api.analytics.schemas import FailureSort, FailureStatus, SlowBy, SlowMetric
from api.executions.schemas import Branch
from api.query import CommaList
from api.query.filters import Moment
from api.schemas import ObjectIdInput, Tag
from documents.base import as_utc, utcnow
from documents.executions import RunTrigger

DEFAULT_WINDOW = timedelta(days=30)
"""The window when `from` is not given: the 30 days before `to`."""
FAILURES_LIMIT = 20
"""Failure groups listed when `limit` is not given."""
MAX_FAILURES_LIMIT = 100
MAX_WINDOW = timedelta(days=366)
"""The longest window a request may ask for (a per-day trend has at most 367 days)."""


class WindowFilters(BaseModel):
    """The filters of `AnalyticsFilters` but the case: those of a route whose path names the
    case (`GET /tests/{id}/stats`), where a `test_case_id` parameter is an unknown one (422)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    suite_id: ObjectIdInput | None = Field(default=None, description="Runs of this suite.")
    environment_id: ObjectIdInput | None = Field(
        default=None, description="Runs in this test environment."
    )
    browser_configuration_id: ObjectIdInput | None = Field(
        default=None, description="Runs with this browser configuration."
    )
    branch: Branch | None = Field(default=None, description="Runs of this branch.")
    trigger: Annotated[
        CommaList[RunTrigger] | None,
        Field(description="Runs of any of these triggers, e.g. `ci,schedule`."),
    ] = None
    tags: Annotated[
        CommaList[Tag] | None,
        Field(description="Cases that had any of these tags when they ran, e.g. `smoke,checkout`."),
    ] = None
    from_: Moment | None = Field(
        default=None,
        alias="from",
        description="Runs opened at or after this time (ISO 8601; a date is its midnight UTC). "
        "Default: 30 days before `to`.",
    )
    to: Moment | None = Field(
        default=None, description="Runs opened before this time (ISO 8601). Default: now."
    )

    @model_validator(mode="after")
    def _bounded_window(self) -> Self:
        start, end = self.window()
        if start >= end:
            raise ValueError("`from` must be before `to`")
        if end - start > MAX_WINDOW:
            raise ValueError(f"the window from `from` to `to` is at most {MAX_WINDOW.days} days")
        return self

    def window(self, *, now: datetime | None = None) -> tuple[datetime, datetime]:
        """`[start, end)`: the runs opened in it count."""
        end = as_utc(self.to) if self.to is not None else (now or utcnow())
        start = as_utc(self.from_) if self.from_ is not None else end - DEFAULT_WINDOW
        return start, end


class AnalyticsFilters(WindowFilters):
    """Which executions a figure is computed from: those of the runs opened at or after `from`
    and before `to` that match every run filter given, and of the cases the case filters
    name. A run's time is when it was opened (`created_at`; for an imported report, when it was
    imported)."""

    test_case_id: ObjectIdInput | None = Field(default=None, description="This case only.")

    # Not a parameter: runs a window of time cannot leave out (`excluding`).
    _excluded_runs: tuple[ObjectId, ...] = PrivateAttr(default=())

    @property
    def excluded_runs(self) -> tuple[ObjectId, ...]:
        """Runs of the window whose executions the figures leave out."""
        return self._excluded_runs

    def excluding(self, run_ids: tuple[ObjectId, ...]) -> Self:
        """These filters, leaving out these runs (a suite report's latest runs span a window
        that may hold other runs opened in the same millisecond as the oldest of them)."""
        copy = self.model_copy()
        copy._excluded_runs = run_ids
        return copy


class FailuresParams(AnalyticsFilters):
    """`GET /executions/analytics/failures`: the filters, and which groups to list."""

    sort: FailureSort = Field(
        default=FailureSort.COUNT,
        description="`count`: most failures first; `last_seen`: most recently seen first. Ties "
        "go to the other key, then to the signature.",
    )
    limit: int = Field(
        default=FAILURES_LIMIT, ge=1, le=MAX_FAILURES_LIMIT, description="At most this many groups."
    )
    status: CommaList[FailureStatus] | None = Field(
        default=None, description="Only failures of these statuses (default: both)."
    )


class CaseStatsParams(WindowFilters):
    """`GET /tests/{id}/stats`: the filters but the case, which the path names."""


# -- flaky and slowest (api.analytics.flaky, api.analytics.slowest) --------------------------------

MAX_ANALYTICS_LIMIT = 100
"""The most items a ranking answers."""


class FlakyParams(AnalyticsFilters):
    """The filters, and how the flaky ranking is made."""

    min_runs: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Cases with fewer runs in the window (runs whose outcome was passed, failed "
        "or error) are not ranked: too little history to tell.",
    )
    last: int = Field(
        default=10, ge=1, le=50, description="How many latest outcomes `last_outcomes` shows."
    )
    limit: int = Field(
        default=20, ge=1, le=MAX_ANALYTICS_LIMIT, description="How many cases to answer."
    )


class SlowestParams(AnalyticsFilters):
    """The filters, and how the slowest ranking is made."""

    metric: SlowMetric = Field(
        default=SlowMetric.P95,
        description="What ranks the durations: their 95th percentile, mean or maximum.",
    )
    by: SlowBy = Field(
        default=SlowBy.CASE,
        description="Rank cases (`case`: durations of their executions) or steps (`step`: "
        "durations of their step results, by step id within their case).",
    )
    min_runs: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="Cases (or steps) with durations from fewer runs in the window are not ranked.",
    )
    limit: int = Field(
        default=20, ge=1, le=MAX_ANALYTICS_LIMIT, description="How many cases (or steps) to answer."
    )


# -- summary --------------------------------------------------------------------------------------

DEFAULT_TZ = "UTC"
MAX_TZ_LENGTH = 64


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _known_zone(name: str) -> str:
    if name != DEFAULT_TZ and name not in _zones():
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/Paris")
    return name


TimeZone = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TZ_LENGTH,
        description="The IANA time zone the per-day trend's days are in, e.g. `Europe/Paris`.",
        examples=["Europe/Paris"],
    ),
    AfterValidator(_known_zone),
]


class SummaryParams(AnalyticsFilters):
    """The common filters, and the time zone of the trend's days."""

    tz: TimeZone = DEFAULT_TZ
