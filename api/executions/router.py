"""`/executions`: test runs, the executions of test cases in them, and their step results."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from api.conditional import NOT_MODIFIED, IfNoneMatchDep, not_modified, tagged
from api.deps import IfMatchDep, ObjectIdPath, SettingsDep, require_json_body
from api.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType, problem_responses
from api.executions import bulk as bulk_service
from api.executions import imports as import_service
from api.executions import runs as run_service
from api.executions import service as execution_service
from api.executions.params import ExecutionListParams, ImportParams, RunListParams
from api.executions.schemas import (
    BulkResults,
    ExecutionCreate,
    ExecutionRead,
    ExecutionUpdate,
    ImportedCounts,
    ImportRead,
    RunCreate,
    RunRead,
    RunUpdate,
    StepResults,
)
from api.idempotency.routes import IdempotentRoute
from api.query import BulkResponse, Page
from api.query.fields import partial_model
from documents.executions import TestExecution, TestRun

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/executions",
    tags=["executions"],
    dependencies=[Depends(require_json_body)],
    responses=problem_responses(422),
)

RunItem = partial_model(RunRead)
ExecutionItem = partial_model(ExecutionRead)

_READ = problem_responses(404)


def run_read(run: TestRun, response: Response) -> RunRead:
    tagged(run, response)
    return RunRead.of(run)


def _execution(execution: TestExecution) -> ExecutionRead:
    return ExecutionRead.of(execution)


# -- runs -----------------------------------------------------------------------------------------


@router.get("/runs", response_model_exclude_unset=True)
async def list_runs(params: Annotated[RunListParams, Query()]) -> Page[RunItem]:  # type: ignore[valid-type]
    """List test runs, filtered, sorted and paginated."""
    raw = await run_service.list_runs(params=params)
    return raw.to_page(RunItem)


@router.post(
    "/runs",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409, 415),
)
async def create_run(data: RunCreate, request: Request, response: Response) -> RunRead:
    """Create a run, with one queued execution per case of `suite_id` (its active cases, in
    suite order) and of `test_case_ids`.

    The run keeps snapshots of the browser configuration (the one named, else the suite's, else
    the default) and the environment (the one named, else the suite's) it uses; secret variable
    values are never copied.
    """
    run = await run_service.create_run(data=data)
    response.headers["Location"] = request.url_for("get_run", id=str(run.id)).path
    return run_read(run, response)


@router.get("/runs/{id:item}", response_model=RunRead, responses={**_READ, **NOT_MODIFIED})
async def get_run(
    id: ObjectIdPath, response: Response, if_none_match: IfNoneMatchDep = None
) -> RunRead | Response:
    """One test run. The `ETag` is its `version`, which every change of its executions moves."""
    run = await run_service.get_run(id=id)
    return not_modified(run, if_none_match) or run_read(run, response)


@router.patch("/runs/{id:item}", responses=problem_responses(404, 409, 412, 415))
async def update_run(
    id: ObjectIdPath, data: RunUpdate, if_match: IfMatchDep, response: Response
) -> RunRead:
    """Change a run's name or CI metadata. With `If-Match`, only from that version."""
    run = await run_service.update_run(id=id, data=data, if_match=if_match)
    return run_read(run, response)


@router.delete(
    "/runs/{id:item}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 409, 412),
)
async def delete_run(id: ObjectIdPath, if_match: IfMatchDep) -> None:
    """Delete a run and everything that belongs to it (its executions).

    A running run is a 409: cancel it first.
    """
    await run_service.delete_run(id=id, if_match=if_match)


@router.post("/runs/{id:item}/cancel", responses=problem_responses(404, 409))
async def cancel_run(id: ObjectIdPath, response: Response) -> RunRead:
    """Cancel the run: it and every execution not yet finished become `cancelled`.

    A finished run is a 409. Cancelling a run that is being cancelled answers it again.
    """
    return run_read(await run_service.cancel_run(id=id), response)


@router.post(
    "/runs/{id:item}/recount",
    responses={
        **problem_responses(404),
        202: {
            "model": RunRead,
            "description": "Changes are being written: the counters are recounted when the "
            "last of them closes (`recount_needed` is true until then).",
        },
    },
)
async def recount_run(id: ObjectIdPath, response: Response) -> RunRead:
    """Recount the run's counters from its executions (a repair: they are kept exact anyway),
    and finish the run if none of its executions is left to run."""
    run = await run_service.recount_run(id=id)
    if run.recount_needed:
        response.status_code = status.HTTP_202_ACCEPTED
    return run_read(run, response)


# -- executions -----------------------------------------------------------------------------------


@router.get("", response_model_exclude_unset=True)
async def list_executions(
    params: Annotated[ExecutionListParams, Query()],
) -> Page[ExecutionItem]:  # type: ignore[valid-type]
    """List executions, filtered (by run, case, status, attempt, error signature, start time),
    sorted and paginated."""
    raw = await execution_service.list_executions(params=params)
    return raw.to_page(ExecutionItem)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, 415))
async def create_execution(
    data: ExecutionCreate, request: Request, response: Response
) -> ExecutionRead:
    """Add a queued execution of a test case to a run (a retry: the next `attempt`).

    It holds a snapshot of the case (version, name, steps) and one pending step execution per
    step. A finished run takes no more executions (409).
    """
    execution = await execution_service.create_execution(data=data)
    response.headers["Location"] = request.url_for("get_execution", id=str(execution.id)).path
    return _execution(execution)


@router.post("/bulk", response_model_exclude_none=True, responses=problem_responses(415))
async def report_results(data: BulkResults) -> BulkResponse:
    """Report up to 1,000 results (of any runs) at once, written unordered in batches.

    A result names its run, its test case (`test_case_id`, or the case's `automation_key`) and
    its `attempt` (default 1). Idempotent per run + case + attempt: where that execution exists
    (queued when the run was created, or reported before) the result updates it, following the
    status machine (a queued execution may go straight to a final status); otherwise it is
    created with a snapshot of the case. A result that repeats what the execution already says
    is `unchanged` and writes nothing, so a request sent twice creates and counts nothing twice.

    Every result gets an outcome at its index (`created`, `updated`, `unchanged` or `failed`
    with a problem); a failing one never stops the others: an unknown run, case or key, or both
    or neither of `test_case_id` and `automation_key` (422), an attempt named twice in one
    request (422 for the later), a change the status machine refuses or a finished run (409).
    The runs' counters and statuses follow; a run whose executions are all final finishes. If
    the database fails midway, the results already written keep their outcome and the rest fail
    with 503, saying whether they may have been written (then `id` names the execution to read).
    """
    return await bulk_service.report_results(results=data.results)


@router.get("/{id:item}", responses=_READ)
async def get_execution(id: ObjectIdPath) -> ExecutionRead:
    """One execution, with its case snapshot and step results."""
    return _execution(await execution_service.get_execution(id=id))


@router.patch("/{id:item}", responses=problem_responses(404, 409, 415))
async def update_execution(id: ObjectIdPath, data: ExecutionUpdate) -> ExecutionRead:
    """Change an execution's status: `queued -> running -> passed|failed|error|skipped`,
    `queued|running -> cancelled`; anything else, and any change of a finished execution, is a
    409 naming both states.

    The server stamps `started_at` on `running`, and `finished_at` and `duration_ms` on a final
    status, unless the client sends them. An `error` without `signature` gets one computed from
    its message. The run's counters and status follow.
    """
    return _execution(await execution_service.update_execution(id=id, data=data))


@router.post("/{id:item}/steps", responses=problem_responses(404, 409, 415))
async def report_steps(id: ObjectIdPath, data: StepResults) -> ExecutionRead:
    """Report one or many step results in one atomic update; a step reported again has its
    result replaced. An unknown `step_id` is a 422 naming it, and nothing is written.

    A queued execution starts running with its first step result; a finished one is a 409.
    """
    return _execution(await execution_service.report_steps(id=id, data=data))


# -- JUnit imports: XML or multipart bodies, so outside the JSON-only router -------------------

IMPORT_PATH = "/executions/runs/import"
"""Where reports are imported (below `/api/v1`): its body limit is `JBTS_MAX_IMPORT_BYTES`."""
MULTIPART = "multipart/form-data"
XML_MEDIA_TYPES = ("application/xml", "text/xml")
_EXAMPLE_REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuite name="smoke" tests="2" timestamp="2026-11-30T09:15:00Z" hostname="ci-agent-7">
  <testcase classname="tests.test_login" name="test_ok" time="0.41"/>
  <testcase classname="tests.test_login" name="test_lockout" time="1.2">
    <failure message="assert 'Locked' == 'Welcome'" type="AssertionError">stack</failure>
  </testcase>
</testsuite>
"""

imports = APIRouter(
    route_class=IdempotentRoute,
    prefix="/executions",
    tags=["executions"],
    responses=problem_responses(422),
)


@imports.post(
    "/runs/import",
    status_code=status.HTTP_201_CREATED,
    responses={
        **problem_responses(409, 413, 415),
        413: {
            **problem_responses(413)[413],
            "description": "The report is larger than `JBTS_MAX_IMPORT_BYTES` (20 MiB by "
            "default): nothing is stored.",
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A JUnit XML report: the multipart field `file`, or the body itself.",
            "content": {
                MULTIPART: {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "The JUnit XML report.",
                            }
                        },
                        "required": ["file"],
                        "additionalProperties": False,
                    }
                },
                **{
                    media_type: {
                        "schema": {"type": "string", "description": "The JUnit XML report."},
                        "example": _EXAMPLE_REPORT,
                    }
                    for media_type in XML_MEDIA_TYPES
                },
            },
        }
    },
)
async def import_junit(
    request: Request,
    response: Response,
    params: Annotated[ImportParams, Query()],
    settings: SettingsDep,
) -> ImportRead:
    """Import a JUnit XML report (pytest, Maven Surefire/Failsafe, JUnit 5/Gradle) as a run
    (`trigger: import`) with one execution per `<testcase>`: passed, failed, error or skipped;
    `time` becomes the duration, a `<failure>`/`<error>` the error (message, type, stack).

    Each testcase finds its test case by `automation_key` = `classname::name` (the name alone
    without a classname); a key no case has becomes a new case (active, tagged `imported`), so
    the history of each case accumulates over imports. A testcase repeated in one report is
    imported as attempts 2, 3, ... of its case. The run finishes at once, `failed` if the latest
    attempt of any case failed or errored, else `passed`; with a report timestamp, its times are
    the report's.

    Send the file as the multipart field `file`, or as an `application/xml` or `text/xml` body;
    run options are query parameters. A report with a DTD or entities (XML bombs, external
    entities), malformed XML or no testcases is a 422, a file over `JBTS_MAX_IMPORT_BYTES` a 413,
    another media type a 415: then nothing is stored.
    """
    data = await _report_file(request, max_bytes=settings.max_import_bytes)
    imported = await import_service.import_junit(data=data, options=params)
    response.headers["Location"] = request.url_for("get_run", id=str(imported.run.id)).path
    return ImportRead(
        run=run_read(imported.run, response),
        testcases=imported.testcases,
        cases_created=imported.cases_created,
        cases_found=imported.cases_found,
        executions=ImportedCounts(
            passed=imported.statuses["passed"],
            failed=imported.statuses["failed"],
            error=imported.statuses["error"],
            skipped=imported.statuses["skipped"],
        ),
    )


async def _report_file(request: Request, *, max_bytes: int) -> bytes:
    """The report's bytes, from a multipart `file` or the body (415 otherwise, 413 if over)."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == MULTIPART:
        return await _uploaded(request, max_bytes=max_bytes)
    if media_type in XML_MEDIA_TYPES:
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > max_bytes:
                raise _too_large(max_bytes)
        return bytes(data)
    raise UnsupportedMediaType(
        "expected a JUnit XML report: multipart/form-data with a `file` field, or an "
        f"application/xml or text/xml body; got {content_type or 'no Content-Type'}"
    )


async def _uploaded(request: Request, *, max_bytes: int) -> bytes:
    try:
        async with request.form(max_files=1, max_fields=10) as form:
            others = sorted(name for name in form if name != "file")
            if others:
                raise InvalidInput.at(
                    f"body.{others[0]}",
                    "the form takes only `file`: send run options as query parameters",
                )
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidInput.at("body.file", "send the JUnit XML report as the file `file`")
            data = await upload.read(max_bytes + 1)
    except HTTPException as exc:  # a malformed multipart body
        raise InvalidInput.at("body", f"the multipart body cannot be read: {exc.detail}") from exc
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the report is larger than the limit of {max_bytes} bytes")
