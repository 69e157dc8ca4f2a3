"""`/tests`: test cases, their steps, bulk writes and clones."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from api.analytics import case_stats as case_stats_service
from api.analytics.params import CaseStatsParams
from api.analytics.schemas import CaseStatsRead
from api.auth.guard import Domain, requires
from api.conditional import NOT_MODIFIED, IfNoneMatchDep, not_modified, tagged
from api.deps import CapabilitiesDep, IfMatchDep, ObjectIdPath, require_json_body
from api.errors import problem_responses
from api.executions import history as history_service
from api.executions.params import HistoryParams
from api.executions.schemas import HistoryItem, HistoryPage
from api.idempotency.routes import IdempotentRoute
from api.query import BulkResponse, Page
from api.query.fields import partial_model
from api.test_defs import service as case_service
from api.test_defs.params import StepListParams, TestCaseListParams
from api.test_defs.schemas import (
    BulkRequest,
    CloneRequest,
    StepCreate,
    StepOrder,
    StepRead,
    StepUpdate,
    TestCaseCreate,
    TestCaseItem,
    TestCaseRead,
    TestCaseUpdate,
)
from documents.test_defs import TestCase, TestStep

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/tests",
    tags=["tests"],
    dependencies=[requires(Domain.DEFINITIONS), Depends(require_json_body)],
    responses=problem_responses(422),
)

StepItem = partial_model(StepRead)
HistoryEntry = partial_model(HistoryItem, name="HistoryEntry")

StepIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The step's stable id.",
        examples=["3f9a1c2b7d4e"],
    ),
]

_READ = problem_responses(404)
_CONDITIONAL = problem_responses(404, 409, 412, 415)


def _read(case: TestCase, response: Response) -> TestCaseRead:
    tagged(case, response)
    return TestCaseRead.of(case)


def _step_read(step: TestStep, case: TestCase, response: Response) -> StepRead:
    tagged(case, response)
    return StepRead.model_validate(step.model_dump())


@router.get("", response_model_exclude_unset=True)
async def list_cases(
    params: Annotated[TestCaseListParams, Query()], capabilities: CapabilitiesDep
) -> Page[TestCaseItem]:  # type: ignore[valid-type]
    """List test cases, filtered, searched (`q`), sorted and paginated."""
    raw = await case_service.list_cases(params=params, capabilities=capabilities)
    return raw.to_page(TestCaseItem)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, 415))
async def create_case(data: TestCaseCreate, request: Request, response: Response) -> TestCaseRead:
    """Create a test case with its steps (each gets a stable `id`)."""
    case = await case_service.create_case(data=data)
    response.headers["Location"] = request.url_for("get_case", id=str(case.id)).path
    return _read(case, response)


@router.post("/bulk", response_model_exclude_none=True, responses=problem_responses(415))
async def bulk(data: BulkRequest, capabilities: CapabilitiesDep) -> BulkResponse:
    """Create, update and delete up to 1,000 cases, written unordered (in one command on
    MongoDB, in bounded batches on the embedded engine).

    Every operation gets a result at its index; a failing one never stops the others. An id named
    by two operations fails the later one (422). If the database fails midway, the operations
    already written keep their result and the rest fail with 503, saying whether they may have
    been written (then `id` says which case to read).
    """
    return await case_service.bulk(operations=data.operations, batch_size=capabilities.write_batch)


@router.get("/{id:item}", response_model=TestCaseRead, responses={**_READ, **NOT_MODIFIED})
async def get_case(
    id: ObjectIdPath, response: Response, if_none_match: IfNoneMatchDep = None
) -> TestCaseRead | Response:
    """One test case with its steps. The `ETag` is its version."""
    case = await case_service.get_case(id=id)
    return not_modified(case, if_none_match) or _read(case, response)


@router.patch("/{id:item}", responses=_CONDITIONAL)
async def update_case(
    id: ObjectIdPath, data: TestCaseUpdate, if_match: IfMatchDep, response: Response
) -> TestCaseRead:
    """Change some fields; `version` grows by one. With `If-Match`, only from that version."""
    return _read(await case_service.update_case(id=id, data=data, if_match=if_match), response)


@router.delete(
    "/{id:item}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404, 412)
)
async def delete_case(id: ObjectIdPath, if_match: IfMatchDep) -> None:
    """Delete a test case; every suite that lists it lets go of it in the same request."""
    await case_service.delete_case(id=id, if_match=if_match)


@router.post(
    "/{id:item}/clone", status_code=status.HTTP_201_CREATED, responses=problem_responses(404, 415)
)
async def clone_case(
    id: ObjectIdPath, request: Request, response: Response, data: CloneRequest | None = None
) -> TestCaseRead:
    """Copy a case: new id and step ids, status `draft`, version 1, no automation key."""
    case = await case_service.clone_case(id=id, name=data.name if data else None)
    response.headers["Location"] = request.url_for("get_case", id=str(case.id)).path
    return _read(case, response)


@router.get(
    "/{id:item}/history",
    response_model_exclude_unset=True,
    responses=_READ,
    dependencies=[requires(Domain.RESULTS)],  # executions, not definitions
)
async def case_history(
    id: ObjectIdPath, params: Annotated[HistoryParams, Query()]
) -> HistoryPage[HistoryEntry]:  # type: ignore[valid-type]
    """The case's executions over time, newest first (those not started yet come last), each
    with its run's name, branch, commit and the names of the browser configuration and
    environment it used; `fields=` picks item fields.

    `pass_rate` is passed / (passed + failed + error) over the executions of the page returned:
    skipped, cancelled, queued and running executions do not count; null when none is left.
    An existing case never executed has an empty page.
    """
    history = await history_service.case_history(id=id, params=params)
    page = history.page.to_page(HistoryEntry)
    return HistoryPage[HistoryEntry](**dict(page), pass_rate=history.pass_rate)  # type: ignore[valid-type]


@router.get(
    "/{id:item}/stats",
    responses=_READ,
    dependencies=[requires(Domain.RESULTS)],  # figures of executions, not definitions
)
async def case_stats(
    id: ObjectIdPath, params: Annotated[CaseStatsParams, Query()]
) -> CaseStatsRead:
    """The case's figures over the runs opened in the window (default: the last 30 days): runs,
    outcomes and pass rate (its latest attempt in each run), flips between passing and failing
    from one run to the next (skipped ones left out) and the flip rate, durations of its
    finished executions, its last failure, and the steps that failed most often. A case never
    run in the window has zeros and nulls; the analytics filters apply, but the case is the
    path's (a `test_case_id` parameter is unknown: 422)."""
    return await case_stats_service.case_stats(id=id, filters=params)


@router.get("/{id:item}/steps", response_model_exclude_unset=True, responses=_READ)
async def list_steps(
    id: ObjectIdPath, params: Annotated[StepListParams, Query()]
) -> Page[StepItem]:  # type: ignore[valid-type]
    """The case's steps in order, paginated; `fields=` picks step fields."""
    items, total = await case_service.list_steps(id=id, params=params)
    return Page[StepItem](  # type: ignore[valid-type]
        items=[StepItem.model_validate(item) for item in items],
        total=total,
        page=params.page,
        limit=params.limit,
        pages=Page.count_pages(total, params.limit),
    )


@router.post("/{id:item}/steps", status_code=status.HTTP_201_CREATED, responses=_CONDITIONAL)
async def add_step(
    id: ObjectIdPath, data: StepCreate, if_match: IfMatchDep, response: Response
) -> StepRead:
    """Append a step, or insert it at `position` (1-based). The `ETag` is the case's version."""
    step, case = await case_service.add_step(id=id, data=data, if_match=if_match)
    return _step_read(step, case, response)


@router.put("/{id:item}/steps/order", responses=_CONDITIONAL)
async def reorder_steps(
    id: ObjectIdPath, data: StepOrder, if_match: IfMatchDep, response: Response
) -> list[StepRead]:
    """Reorder the steps: `step_ids` lists every step id of the case once, in the new order."""
    case = await case_service.reorder_steps(id=id, data=data, if_match=if_match)
    tagged(case, response)
    return [StepRead.model_validate(step.model_dump()) for step in case.steps]


@router.patch("/{id:item}/steps/{step_id:item}", responses=_CONDITIONAL)
async def update_step(
    id: ObjectIdPath,
    step_id: StepIdPath,
    data: StepUpdate,
    if_match: IfMatchDep,
    response: Response,
) -> StepRead:
    """Change some fields of one step; its id and position stay."""
    step, case = await case_service.update_step(
        id=id, step_id=step_id, data=data, if_match=if_match
    )
    return _step_read(step, case, response)


@router.delete(
    "/{id:item}/steps/{step_id:item}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_CONDITIONAL,
)
async def delete_step(
    id: ObjectIdPath, step_id: StepIdPath, if_match: IfMatchDep, response: Response
) -> None:
    """Remove one step; the ones after it move up."""
    case = await case_service.delete_step(id=id, step_id=step_id, if_match=if_match)
    tagged(case, response)
