"""`/executions/analytics/...`: figures over the executions of a window of runs."""

from fastapi import APIRouter

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
