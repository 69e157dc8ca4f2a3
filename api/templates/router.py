"""`/templates`: test templates, and test cases made from them."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from api.deps import ObjectIdPath, etag, require_json_body
from api.errors import problem_responses
from api.idempotency.routes import IdempotentRoute
from api.query import Page
from api.query.fields import partial_model
from api.templates import service as template_service
from api.templates.params import TemplateListParams
from api.templates.schemas import InstantiateRequest, TemplateCreate, TemplateRead, TemplateUpdate
from api.test_defs.schemas import TestCaseRead

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/templates",
    tags=["templates"],
    dependencies=[Depends(require_json_body)],
    responses=problem_responses(422),
)

TemplateItem = partial_model(TemplateRead)

_READ = problem_responses(404)
_WRITE = problem_responses(404, 409, 415)


@router.get("", response_model_exclude_unset=True)
async def list_templates(params: Annotated[TemplateListParams, Query()]) -> Page[TemplateItem]:  # type: ignore[valid-type]
    """List test templates, filtered by category, sorted and paginated."""
    raw = await template_service.list_templates(params=params)
    return raw.to_page(TemplateItem)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, 415))
async def create_template(
    data: TemplateCreate, request: Request, response: Response
) -> TemplateRead:
    """Create a test template. Every `{{name}}` in its steps must name one of its parameters."""
    created = await template_service.create_template(data=data)
    response.headers["Location"] = request.url_for("get_template", id=str(created.id)).path
    return TemplateRead.of(created)


@router.get("/{id}", responses=_READ)
async def get_template(id: ObjectIdPath) -> TemplateRead:
    """One test template."""
    return TemplateRead.of(await template_service.get_template(id=id))


@router.patch("/{id}", responses=_WRITE)
async def update_template(id: ObjectIdPath, data: TemplateUpdate) -> TemplateRead:
    """Change some fields of a test template; `parameters` and `steps` replace whole lists."""
    return TemplateRead.of(await template_service.update_template(id=id, data=data))


@router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT, responses=_READ)
async def delete_template(id: ObjectIdPath) -> None:
    """Delete a test template. Test cases made from it are kept."""
    await template_service.delete_template(id=id)


@router.post("/{id}/instantiate", status_code=status.HTTP_201_CREATED, responses=_WRITE)
async def instantiate_template(
    id: ObjectIdPath, data: InstantiateRequest, request: Request, response: Response
) -> TestCaseRead:
    """Create a test case from the template, every `{{name}}` replaced by its value.

    A parameter not given takes its default; one without a default must be given (422 naming
    it). Values are inserted as plain text. The new case records the template as `template_id`.
    """
    case = await template_service.instantiate_template(id=id, data=data)
    response.headers["Location"] = request.url_for("get_case", id=str(case.id)).path
    response.headers["ETag"] = etag(case.version)
    return TestCaseRead.of(case)
