from fastapi import APIRouter

from api.deps import DatabaseDep
from api.errors import problem_responses
from api.health import service as health_service
from api.health.schemas import Liveness, Readiness

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
async def live() -> Liveness:
    """The process is up and serving requests."""
    return Liveness()


@router.get("/ready", responses=problem_responses(503))
async def ready(database: DatabaseDep) -> Readiness:
    """Ready to serve: the database answered a ping and its migrations are at the latest version.

    The body also says what the deployment supports (transactions, change streams, full text).
    """
    return await health_service.readiness(database=database)
