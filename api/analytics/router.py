"""`/executions/analytics/...`: figures over the executions of a window of runs."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.analytics import failures as failures_service
from api.analytics.params import FailuresParams
from api.analytics.schemas import FailuresRead
from api.errors import problem_responses
from api.idempotency.routes import IdempotentRoute

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/executions/analytics",
    tags=["analytics"],
    responses=problem_responses(422),
)


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
