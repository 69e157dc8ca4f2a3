"""`/suites`: test suites and the test cases they hold, in order."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from api.deps import CapabilitiesDep, ObjectIdPath, require_json_body
from api.errors import problem_responses
from api.idempotency.routes import IdempotentRoute
from api.query import Page
from api.query.fields import partial_model
from api.suites import service as suite_service
from api.suites.params import SuiteListParams, SuiteTestListParams
from api.suites.schemas import SuiteCreate, SuiteRead, SuiteTestIds, SuiteUpdate
from api.test_defs.schemas import TestCaseItem

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/suites",
    tags=["suites"],
    dependencies=[Depends(require_json_body)],
    responses=problem_responses(422),
)

SuiteItem = partial_model(SuiteRead)

_READ = problem_responses(404)
_WRITE = problem_responses(404, 409, 415)
_ADD = problem_responses(404, 415)


@router.get("", response_model_exclude_unset=True)
async def list_suites(
    params: Annotated[SuiteListParams, Query()], capabilities: CapabilitiesDep
) -> Page[SuiteItem]:  # type: ignore[valid-type]
    """List test suites, filtered, searched (`q`), sorted and paginated."""
    raw = await suite_service.list_suites(params=params, full_text=capabilities.full_text_search)
    return raw.to_page(SuiteItem)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, 415))
async def create_suite(data: SuiteCreate, request: Request, response: Response) -> SuiteRead:
    """Create a test suite, optionally with its first test cases (each must exist)."""
    created = await suite_service.create_suite(data=data)
    response.headers["Location"] = request.url_for("get_suite", id=str(created.id)).path
    return SuiteRead.of(created)


@router.get("/{id}", responses=_READ)
async def get_suite(id: ObjectIdPath) -> SuiteRead:
    """One test suite."""
    return SuiteRead.of(await suite_service.get_suite(id=id))


@router.patch("/{id}", responses=_WRITE)
async def update_suite(id: ObjectIdPath, data: SuiteUpdate) -> SuiteRead:
    """Change some fields of a test suite (its test cases change through `/tests`)."""
    return SuiteRead.of(await suite_service.update_suite(id=id, data=data))


@router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT, responses=_READ)
async def delete_suite(id: ObjectIdPath) -> None:
    """Delete a test suite. Its test cases are kept."""
    await suite_service.delete_suite(id=id)


@router.get("/{id}/tests", response_model_exclude_unset=True, responses=_READ)
async def list_suite_tests(
    id: ObjectIdPath, params: Annotated[SuiteTestListParams, Query()]
) -> Page[TestCaseItem]:  # type: ignore[valid-type]
    """The suite's test cases in suite order, paginated."""
    raw = await suite_service.list_suite_tests(id=id, params=params)
    return raw.to_page(TestCaseItem)


@router.post("/{id}/tests", responses=_ADD)
async def add_suite_tests(id: ObjectIdPath, data: SuiteTestIds) -> SuiteRead:
    """Append test cases to the suite in the order given; ones already in it are skipped.

    Every id must be a test case, or nothing changes (422 listing the unknown ones).
    """
    return SuiteRead.of(await suite_service.add_tests(id=id, test_case_ids=data.test_case_ids))


@router.delete("/{id}/tests", responses=_READ)
async def remove_suite_tests(id: ObjectIdPath, data: SuiteTestIds) -> SuiteRead:
    """Remove test cases from the suite (the cases themselves are kept); others are ignored."""
    updated = await suite_service.remove_tests(id=id, test_case_ids=data.test_case_ids)
    return SuiteRead.of(updated)
