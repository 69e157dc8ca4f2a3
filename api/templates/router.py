"""`/templates`: test templates, and test cases made from them."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from api.auth.guard import Domain, requires
from api.conditional import NOT_MODIFIED, IfNoneMatchDep, not_modified, tagged
from api.deps import IfMatchDep, ObjectIdPath, etag, require_json_body
from api.errors import problem_responses
from api.idempotency.routes import IdempotentRoute
from api.query import Page
from api.query.fields import partial_model
from api.templates import service as template_service
from api.templates.params import TemplateListParams
from api.templates.schemas import InstantiateRequest, TemplateCreate, TemplateRead, TemplateUpdate
from api.test_defs.schemas import TestCaseRead
from documents.test_defs import TestTemplate

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/templates",
    tags=["templates"],
    dependencies=[requires(Domain.DEFINITIONS), Depends(require_json_body)],
    responses=problem_responses(422),
)

TemplateItem = partial_model(TemplateRead)

_READ = problem_responses(404)
_WRITE = problem_responses(404, 409, 415)
_CONDITIONAL = problem_responses(404, 409, 412, 415)


def _read(template: TestTemplate, response: Response) -> TemplateRead:
    tagged(template, response)
    return TemplateRead.of(template)


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
    return _read(created, response)


@router.get("/{id:item}", response_model=TemplateRead, responses={**_READ, **NOT_MODIFIED})
async def get_template(
    id: ObjectIdPath, response: Response, if_none_match: IfNoneMatchDep = None
) -> TemplateRead | Response:
    """One test template. The `ETag` is its `version`."""
    template = await template_service.get_template(id=id)
    return not_modified(template, if_none_match) or _read(template, response)


@router.patch("/{id:item}", responses=_CONDITIONAL)
async def update_template(
    id: ObjectIdPath, data: TemplateUpdate, if_match: IfMatchDep, response: Response
) -> TemplateRead:
    """Change some fields of a test template; `parameters` and `steps` replace whole lists.

    `version` grows by one; with `If-Match`, only from that version.
    """
    updated = await template_service.update_template(id=id, data=data, if_match=if_match)
    return _read(updated, response)


@router.delete(
    "/{id:item}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404, 412)
)
async def delete_template(id: ObjectIdPath, if_match: IfMatchDep) -> None:
    """Delete a test template. Test cases made from it are kept."""
    await template_service.delete_template(id=id, if_match=if_match)


@router.post("/{id:item}/instantiate", status_code=status.HTTP_201_CREATED, responses=_WRITE)
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
