"""`/executions/analytics/...`: figures over the executions of a window of runs."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.analytics import failures as failures_service
from api.analytics import flaky as flaky_service
from api.analytics import slowest as slowest_service
from api.analytics import summary as summary_service
from api.analytics.params import FailuresParams, FlakyParams, SlowestParams, SummaryParams
from api.analytics.schemas import FailuresRead, FlakyCases, SlowestCases, SummaryRead
from api.auth.guard import Domain, requires
from api.errors import problem_responses
from api.idempotency.routes import IdempotentRoute

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/executions/analytics",
    tags=["analytics"],
    dependencies=[requires(Domain.RESULTS)],
    responses=problem_responses(422),
)


# -- summary --------------------------------------------------------------------------------------


@router.get("/summary", response_model=SummaryRead)
async def get_summary(params: Annotated[SummaryParams, Query()]) -> SummaryRead:
    """Runs and executions of the window by status, the pass rate (each case's outcome in a run
    is its latest attempt), duration percentiles of executions and of runs, and a per-day
    trend in the time zone `tz` (every day of the window, zeros for days without runs)."""
    return await summary_service.summary(params=params)


@router.get("/failures")
async def failures(params: Annotated[FailuresParams, Query()]) -> FailuresRead:
    """Failures (failed and errored executions, every attempt) of the runs opened in the
    window, grouped by error signature: how many, how many cases and runs they hit, when the
    first and the latest happened, the run of the first, the latest message and the cases
    most affected. Most failures first (`sort=count`, the default) or most recently seen first
    (`sort=last_seen`)."""
    return await failures_service.failure_groups(
        filters=params, sort=params.sort, limit=params.limit, statuses=params.status
    )


# -- flaky and slowest ----------------------------------------------------------------------------


@router.get("/flaky")
async def flaky_cases(params: Annotated[FlakyParams, Query()]) -> FlakyCases:
    """Cases ranked by flakiness over the window, with both signals: **retry flakiness** (runs
    in which an attempt failed or errored and a later one passed; `retry_rate` = those / runs)
    and **flip rate** (changes between pass and fail, error counting as fail, from one run of
    the case to the next, skipped and cancelled runs left out; `flip_rate` = flips / (runs - 1)).
    A case's outcome in a run is its latest attempt; `runs` counts those passed, failed or
    error. `flakiness`, the larger of the two rates, ranks the cases; a case with no retry-flaky
    run and no flip is not listed, nor one with fewer than `min_runs` runs. `last_outcomes`
    shows the last `last` outcomes (oldest first: `P`, `F`, `E`, `S` skipped, `C` cancelled);
    the first and last flaky runs are the first and last that were retry-flaky or flipped."""
    return await flaky_service.flaky_cases(
        filters=params, min_runs=params.min_runs, last=params.last, limit=params.limit
    )


@router.get("/slowest")
async def slowest_cases(params: Annotated[SlowestParams, Query()]) -> SlowestCases:
    """Cases (or, with `by=step`, their steps by step id) ranked by the `metric` of their
    durations over the window (`p95` by default, `avg` or `max`), slowest first. Durations are
    those of executions (every attempt) that finished passed, failed or error, or of their step
    results. Each item has its run and duration counts, p95/avg/max, and the metric's change
    against the previous window of the same length with the same filters (`previous_ms`,
    `change` as `+35%`, `change_ratio`; null without durations before)."""
    return await slowest_service.slowest_cases(
        filters=params,
        metric=params.metric,
        by=params.by,
        min_runs=params.min_runs,
        limit=params.limit,
    )
