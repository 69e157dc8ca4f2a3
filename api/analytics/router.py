"""`/executions/analytics/...`: figures over the executions of a window of runs."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.analytics import summary as summary_service
from api.analytics.params import SummaryParams
from api.analytics.schemas import SummaryRead
from api.errors import problem_responses
from api.idempotency.routes import IdempotentRoute

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/executions/analytics",
    tags=["analytics"],
    responses=problem_responses(422),
)


# -- summary --------------------------------------------------------------------------------------


@router.get("/summary", response_model=SummaryRead)
async def get_summary(params: Annotated[SummaryParams, Query()]) -> SummaryRead:
    """Runs and executions of the window by status, the pass rate (each case's outcome in a run
    is its latest attempt), duration percentiles of executions and of runs, and a per-day
    trend in the time zone `tz` (every day of the window, zeros for days without runs)."""
    return await summary_service.summary(params=params)
