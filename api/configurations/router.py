"""`/configurations/browsers` and `/configurations/environments`."""

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse

from api.auth.guard import Domain, PrincipalDep, requires
from api.conditional import NOT_MODIFIED, IfNoneMatchDep, not_modified, tagged
from api.configurations import service as configuration_service
from api.configurations.params import BrowserListParams, DeleteParams, EnvironmentListParams
from api.configurations.schemas import (
    BrowserCreate,
    BrowserRead,
    BrowserUpdate,
    EnvironmentCreate,
    EnvironmentRead,
    EnvironmentUpdate,
    ReferencedProblem,
    revealed,
)
from api.deps import IfMatchDep, ObjectIdPath, etag, require_json_body
from api.errors import PROBLEM_MEDIA_TYPE, Forbidden, problem_responses
from api.idempotency.routes import IdempotentRoute
from api.query import Page
from api.query.fields import partial_model
from documents.configurations import BrowserConfiguration, TestEnvironment
from documents.keys import Scope

audit = logging.getLogger("api.audit")

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/configurations",
    tags=["configurations"],
    dependencies=[requires(Domain.CONFIG), Depends(require_json_body)],
    responses=problem_responses(422),
)

BrowserItem = partial_model(BrowserRead)
EnvironmentItem = partial_model(EnvironmentRead)

_READ = {**problem_responses(404), **NOT_MODIFIED}
_WRITE = problem_responses(404, 409, 412, 415)
_DELETE = {
    **problem_responses(404, 412),
    409: {
        "model": ReferencedProblem,
        "description": "Still referenced by test cases, suites or runs (a few are listed); "
        "`?force=true` clears those references and deletes.",
        "content": {
            PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ReferencedProblem"}}
        },
    },
}

DeleteQuery = Annotated[DeleteParams, Query()]


def _browser(browser: BrowserConfiguration, response: Response) -> BrowserRead:
    tagged(browser, response)
    return BrowserRead.of(browser)


def _environment(environment: TestEnvironment, response: Response) -> EnvironmentRead:
    tagged(environment, response)
    return EnvironmentRead.of(environment)


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
    return _browser(created, response)


@router.get("/browsers/{id:item}", response_model=BrowserRead, responses=_READ)
async def get_browser(
    id: ObjectIdPath, response: Response, if_none_match: IfNoneMatchDep = None
) -> BrowserRead | Response:
    """One browser configuration. The `ETag` is its `revision`."""
    browser = await configuration_service.get_browser(id=id)
    return not_modified(browser, if_none_match) or _browser(browser, response)


@router.patch("/browsers/{id:item}", responses=_WRITE)
async def update_browser(
    id: ObjectIdPath, data: BrowserUpdate, if_match: IfMatchDep, response: Response
) -> BrowserRead:
    """Change some fields; `revision` grows by one. With `If-Match`, only from that revision."""
    updated = await configuration_service.update_browser(id=id, data=data, if_match=if_match)
    return _browser(updated, response)


@router.delete("/browsers/{id:item}", status_code=status.HTTP_204_NO_CONTENT, responses=_DELETE)
async def delete_browser(id: ObjectIdPath, params: DeleteQuery, if_match: IfMatchDep) -> None:
    """Delete a browser configuration nothing references (409 listing what still does).

    With `force=true`, test cases, suites and runs that reference it lose the reference first.
    """
    await configuration_service.delete_browser(id=id, if_match=if_match, force=params.force)


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
    return _environment(created, response)


@router.get(
    "/environments/{id:item}",
    response_model=EnvironmentRead,
    responses={**_READ, **problem_responses(403)},
)
async def get_environment(
    id: ObjectIdPath,
    response: Response,
    principal: PrincipalDep,
    if_none_match: IfNoneMatchDep = None,
    reveal: Annotated[
        Literal["secrets"] | None,
        Query(
            description="`secrets`: return secret variable values in clear. Needs a key with "
            "the scope `secrets:read` (or `admin`), 403 otherwise; with JBTS_AUTH=off no "
            "request has a key, so a reveal is always refused. Each reveal is written to the "
            "`api.audit` log (key name, environment id, variable names; never values)."
        ),
    ] = None,
) -> EnvironmentRead | Response:
    """One test environment. The `ETag` is its `version`. Secret values are null unless
    `reveal=secrets`."""
    environment = await configuration_service.get_environment(id=id)
    if reveal is None:
        return not_modified(environment, if_none_match) or _environment(environment, response)
    if not principal.holds(Scope.SECRETS_READ):
        raise Forbidden(
            f"revealing secret values needs an API key with the scope `{Scope.SECRETS_READ}` "
            f"(or `{Scope.ADMIN}`)",
            extensions={"required_scope": Scope.SECRETS_READ},
        )
    audit.info(
        "secrets revealed: key %r read environment %s, variables %s",
        principal.name,
        environment.id,
        [variable.name for variable in environment.variables if variable.secret],
    )
    return JSONResponse(
        revealed(environment),
        headers={"ETag": etag(environment.current_version), "Cache-Control": "no-store"},
    )


@router.patch("/environments/{id:item}", responses=_WRITE)
async def update_environment(
    id: ObjectIdPath, data: EnvironmentUpdate, if_match: IfMatchDep, response: Response
) -> EnvironmentRead:
    """Change some fields; `version` grows by one. With `If-Match`, only from that version."""
    updated = await configuration_service.update_environment(id=id, data=data, if_match=if_match)
    return _environment(updated, response)


@router.delete("/environments/{id:item}", status_code=status.HTTP_204_NO_CONTENT, responses=_DELETE)
async def delete_environment(id: ObjectIdPath, params: DeleteQuery, if_match: IfMatchDep) -> None:
    """Delete a test environment nothing references (409 listing what still does).

    With `force=true`, test cases, suites and runs that reference it lose the reference first.
    """
    await configuration_service.delete_environment(id=id, if_match=if_match, force=params.force)
