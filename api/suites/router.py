"""`/suites`: test suites and the test cases they hold, in order."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from api.auth.guard import Domain, requires
from api.conditional import NOT_MODIFIED, IfNoneMatchDep, not_modified, tagged
from api.deps import CapabilitiesDep, IfMatchDep, ObjectIdPath, require_json_body
from api.errors import problem_responses
from api.executions import runs as run_service
from api.executions.router import run_read
from api.executions.schemas import RunRead, SuiteRunCreate
from api.idempotency.routes import IdempotentRoute
from api.query import Page
from api.query.fields import partial_model
from api.suites import service as suite_service
from api.suites.params import SuiteListParams, SuiteTestListParams
from api.suites.schemas import SuiteCreate, SuiteRead, SuiteTestIds, SuiteUpdate
from api.test_defs.schemas import TestCaseItem
from documents.test_defs import TestSuite

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/suites",
    tags=["suites"],
    dependencies=[requires(Domain.DEFINITIONS), Depends(require_json_body)],
    responses=problem_responses(422),
)

SuiteItem = partial_model(SuiteRead)

_READ = problem_responses(404)
_WRITE = problem_responses(404, 409, 412, 415)
_MEMBERS = problem_responses(404, 412, 415)
_ADD_MEMBERS = problem_responses(404, 409, 412, 415)  # 409: the suite changed meanwhile


def _read(suite: TestSuite, response: Response) -> SuiteRead:
    tagged(suite, response)
    return SuiteRead.of(suite)


@router.get("", response_model_exclude_unset=True)
async def list_suites(
    params: Annotated[SuiteListParams, Query()], capabilities: CapabilitiesDep
) -> Page[SuiteItem]:  # type: ignore[valid-type]
    """List test suites, filtered, searched (`q`), sorted and paginated."""
    raw = await suite_service.list_suites(params=params, capabilities=capabilities)
    return raw.to_page(SuiteItem)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, 415))
async def create_suite(data: SuiteCreate, request: Request, response: Response) -> SuiteRead:
    """Create a test suite, optionally with its first test cases (each must exist)."""
    created = await suite_service.create_suite(data=data)
    response.headers["Location"] = request.url_for("get_suite", id=str(created.id)).path
    return _read(created, response)


@router.get("/{id:item}", response_model=SuiteRead, responses={**_READ, **NOT_MODIFIED})
async def get_suite(
    id: ObjectIdPath, response: Response, if_none_match: IfNoneMatchDep = None
) -> SuiteRead | Response:
    """One test suite. The `ETag` is its `version`."""
    suite = await suite_service.get_suite(id=id)
    return not_modified(suite, if_none_match) or _read(suite, response)


@router.patch("/{id:item}", responses=_WRITE)
async def update_suite(
    id: ObjectIdPath, data: SuiteUpdate, if_match: IfMatchDep, response: Response
) -> SuiteRead:
    """Change some fields of a test suite (its test cases change through `/{id}/tests`).

    `version` grows by one; with `If-Match`, only from that version.
    """
    return _read(await suite_service.update_suite(id=id, data=data, if_match=if_match), response)


@router.delete(
    "/{id:item}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404, 412)
)
async def delete_suite(id: ObjectIdPath, if_match: IfMatchDep) -> None:
    """Delete a test suite. Its test cases are kept."""
    await suite_service.delete_suite(id=id, if_match=if_match)


@router.get("/{id:item}/tests", response_model_exclude_unset=True, responses=_READ)
async def list_suite_tests(
    id: ObjectIdPath, params: Annotated[SuiteTestListParams, Query()]
) -> Page[TestCaseItem]:  # type: ignore[valid-type]
    """The suite's test cases in suite order, paginated."""
    raw = await suite_service.list_suite_tests(id=id, params=params)
    return raw.to_page(TestCaseItem)


@router.post("/{id:item}/tests", responses=_ADD_MEMBERS)
async def add_suite_tests(
    id: ObjectIdPath, data: SuiteTestIds, if_match: IfMatchDep, response: Response
) -> SuiteRead:
    """Append test cases to the suite in the order given; ones already in it are skipped.

    Every id must be a test case, or nothing changes (422 listing the unknown ones). A suite
    holds at most 10,000 test cases (422 naming the limit). A change adds one to `version`; with
    `If-Match`, only from that version.
    """
    updated = await suite_service.add_tests(
        id=id, test_case_ids=data.test_case_ids, if_match=if_match
    )
    return _read(updated, response)


@router.delete("/{id:item}/tests", responses=_MEMBERS)
async def remove_suite_tests(
    id: ObjectIdPath, data: SuiteTestIds, if_match: IfMatchDep, response: Response
) -> SuiteRead:
    """Remove test cases from the suite (the cases themselves are kept); others are ignored.

    A change adds one to `version`; with `If-Match`, only from that version.
    """
    updated = await suite_service.remove_tests(
        id=id, test_case_ids=data.test_case_ids, if_match=if_match
    )
    return _read(updated, response)


@router.post(
    "/{id:item}/runs",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 415),
    dependencies=[requires(Domain.RESULTS)],  # creates a run: what a runner with results:write does
)
async def create_suite_run(
    id: ObjectIdPath,
    data: SuiteRunCreate,
    request: Request,
    response: Response,
    capabilities: CapabilitiesDep,
) -> RunRead:
    """Run the suite: a run with one queued execution per active test case, in suite order
    (plus any `test_case_ids`), with the suite's browser configuration and environment unless
    others are named."""
    run = await run_service.create_run(data=data, suite_id=id, batch_size=capabilities.write_batch)
    response.headers["Location"] = request.url_for("get_run", id=str(run.id)).path
    return run_read(run, response)
