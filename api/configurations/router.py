"""`/configurations/browsers` and `/configurations/environments`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from api.configurations import service as configuration_service
from api.configurations.params import BrowserListParams, EnvironmentListParams
from api.configurations.schemas import (
    BrowserCreate,
    BrowserRead,
    BrowserUpdate,
    EnvironmentCreate,
    EnvironmentRead,
    EnvironmentUpdate,
)
from api.deps import ObjectIdPath, require_json_body
from api.errors import problem_responses
from api.idempotency.routes import IdempotentRoute
from api.query import Page
from api.query.fields import partial_model

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/configurations",
    tags=["configurations"],
    dependencies=[Depends(require_json_body)],
    responses=problem_responses(422),
)

BrowserItem = partial_model(BrowserRead)
EnvironmentItem = partial_model(EnvironmentRead)

_READ = problem_responses(404)
_WRITE = problem_responses(404, 409, 415)


@router.get("/browsers", response_model_exclude_unset=True)
async def list_browsers(params: Annotated[BrowserListParams, Query()]) -> Page[BrowserItem]:  # type: ignore[valid-type]
    """List browser configurations, filtered, sorted and paginated."""
    raw = await configuration_service.list_browsers(params=params)
    return raw.to_page(BrowserItem)


@router.post(
    "/browsers", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, 415)
)
async def create_browser(data: BrowserCreate, request: Request, response: Response) -> BrowserRead:
    """Create a browser configuration. `is_default: true` makes it the only default."""
    created = await configuration_service.create_browser(data=data)
    response.headers["Location"] = request.url_for("get_browser", id=str(created.id)).path
    return BrowserRead.of(created)


@router.get("/browsers/{id}", responses=_READ)
async def get_browser(id: ObjectIdPath) -> BrowserRead:
    """One browser configuration."""
    return BrowserRead.of(await configuration_service.get_browser(id=id))


@router.patch("/browsers/{id}", responses=_WRITE)
async def update_browser(id: ObjectIdPath, data: BrowserUpdate) -> BrowserRead:
    """Change some fields of a browser configuration."""
    return BrowserRead.of(await configuration_service.update_browser(id=id, data=data))


@router.delete("/browsers/{id}", status_code=status.HTTP_204_NO_CONTENT, responses=_READ)
async def delete_browser(id: ObjectIdPath) -> None:
    """Delete a browser configuration."""
    await configuration_service.delete_browser(id=id)


@router.get("/environments", response_model_exclude_unset=True)
async def list_environments(
    params: Annotated[EnvironmentListParams, Query()],
) -> Page[EnvironmentItem]:  # type: ignore[valid-type]
    """List test environments, filtered, sorted and paginated. Secret values are hidden."""
    raw = await configuration_service.list_environments(params=params)
    return raw.to_page(EnvironmentItem)


@router.post(
    "/environments", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, 415)
)
async def create_environment(
    data: EnvironmentCreate, request: Request, response: Response
) -> EnvironmentRead:
    """Create a test environment. Secret variables are stored but never returned in clear."""
    created = await configuration_service.create_environment(data=data)
    response.headers["Location"] = request.url_for("get_environment", id=str(created.id)).path
    return EnvironmentRead.of(created)


@router.get("/environments/{id}", responses=_READ)
async def get_environment(id: ObjectIdPath) -> EnvironmentRead:
    """One test environment."""
    return EnvironmentRead.of(await configuration_service.get_environment(id=id))


@router.patch("/environments/{id}", responses=_WRITE)
async def update_environment(id: ObjectIdPath, data: EnvironmentUpdate) -> EnvironmentRead:
    """Change some fields of a test environment."""
    updated = await configuration_service.update_environment(id=id, data=data)
    return EnvironmentRead.of(updated)


@router.delete("/environments/{id}", status_code=status.HTTP_204_NO_CONTENT, responses=_READ)
async def delete_environment(id: ObjectIdPath) -> None:
    """Delete a test environment."""
    await configuration_service.delete_environment(id=id)
