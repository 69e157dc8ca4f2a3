"""`/executions/analytics/...`: figures over the executions of a window of runs."""

from fastapi import APIRouter

from api.errors import problem_responses
from api.idempotency.routes import IdempotentRoute

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/executions/analytics",
    tags=["analytics"],
    responses=problem_responses(422),
)
