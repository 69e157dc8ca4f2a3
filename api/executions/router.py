"""`/executions`: test runs, the executions of test cases in them, and their step results."""

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated, Any

from beanie import PydanticObjectId
from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from pydantic import WithJsonSchema
from pymongo.errors import PyMongoError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from api import sse
from api.auth.guard import Domain, requires
from api.conditional import NOT_MODIFIED, IfNoneMatchDep, not_modified, tagged
from api.deps import CapabilitiesDep, IfMatchDep, ObjectIdPath, SettingsDep, require_json_body
from api.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType, problem_responses
from api.executions import bulk as bulk_service
from api.executions import events as event_service
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
from api.query import BulkResponse, CursorPage
from api.query.fields import partial_model
from documents.executions import TestExecution, TestRun

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/executions",
    tags=["executions"],
    dependencies=[requires(Domain.RESULTS), Depends(require_json_body)],
    responses=problem_responses(422),
)

RunItem = partial_model(RunRead)
ExecutionItem = partial_model(ExecutionRead)

_READ = problem_responses(404)

logger = logging.getLogger(__name__)


def run_read(run: TestRun, response: Response) -> RunRead:
    tagged(run, response)
    return RunRead.of(run)


def _execution(execution: TestExecution) -> ExecutionRead:
    return ExecutionRead.of(execution)


# -- runs -----------------------------------------------------------------------------------------


@router.get("/runs", response_model_exclude_unset=True)
async def list_runs(
    params: Annotated[RunListParams, Query()],
) -> CursorPage[RunItem]:  # type: ignore[valid-type]
    """List test runs, filtered, sorted and paginated: by `page`, or by `cursor` (pass the
    `next_cursor` of a page to get the next one; a walk by cursor stays correct while runs are
    created)."""
    raw = await run_service.list_runs(params=params)
    return raw.to_cursor_page(RunItem)


@router.post(
    "/runs",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409, 415),
)
async def create_run(
    data: RunCreate, request: Request, response: Response, capabilities: CapabilitiesDep
) -> RunRead:
    """Create a run, with one queued execution per case of `suite_id` (its active cases, in
    suite order) and of `test_case_ids`.

    The run keeps snapshots of the browser configuration (the one named, else the suite's, else
    the default) and the environment (the one named, else the suite's) it uses; secret variable
    values are never copied.
    """
    run = await run_service.create_run(data=data, batch_size=capabilities.write_batch)
    response.headers["Location"] = request.url_for("get_run", id=str(run.id)).path
    return run_read(run, response)


@router.get("/runs/{id:item}", response_model=RunRead, responses={**_READ, **NOT_MODIFIED})
async def get_run(
    id: ObjectIdPath, response: Response, if_none_match: IfNoneMatchDep = None
) -> RunRead | Response:
    """One test run. The `ETag` is its `version`, which every change of its executions moves.

    Its counters are its executions' statuses at the moment it is read, also while changes are
    being written (which is also why no 304 is answered then: the counters move within a
    version)."""
    run = await run_service.get_run(id=id)
    cached = None if run.pending else not_modified(run, if_none_match)
    return cached or run_read(run, response)


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


@router.post("/runs/{id:item}/recount", responses=problem_responses(404))
async def recount_run(id: ObjectIdPath, response: Response) -> RunRead:
    """Recount the run's counters from its executions (a repair: they are kept exact anyway),
    and finish the run if none of its executions is left to run.

    While changes are being written to the run, the recount is left to the last of them to
    close: the answer then has `recount_needed: true`.
    """
    return run_read(await run_service.recount_run(id=id), response)


RETRY_MS = 2000
"""How long a disconnected `EventSource` waits before it reconnects (the stream's `retry:`)."""

_EVENTS_EXAMPLE = (
    "retry: 2000\n\n"
    "event: run\n"
    "id: 7\n"
    'data: {"id":"6650f1c2a7b4e3d2c1b0a998","name":"nightly","status":"running",'
    '"counters":{"queued":1,"running":1,"passed":0,"failed":0,"error":0,"skipped":0,'
    '"cancelled":0,"total":2},"started_at":"2026-11-30T09:00:00Z","finished_at":null,'
    '"duration_ms":null,"version":7,"cancel_requested":false}\n\n'
    ": keep-alive\n\n"
    "event: execution\n"
    "id: 8:6650f1c2a7b4e3d2c1b0a999\n"
    'data: {"id":"6650f1c2a7b4e3d2c1b0a999","test_case_id":"6650f1c2a7b4e3d2c1b0a997",'
    '"test_case_name":"Login works","attempt":1,"status":"passed",'
    '"started_at":"2026-11-30T09:00:00Z","finished_at":"2026-11-30T09:00:04.250000Z",'
    '"duration_ms":4250,"error_message":null,"worker":"ci-agent-7","run_seq":8}\n\n'
    "event: run\n"
    "id: 9\n"
    'data: {"id":"6650f1c2a7b4e3d2c1b0a998","name":"nightly","status":"running",'
    '"counters":{"queued":1,"running":0,"passed":1,"failed":0,"error":0,"skipped":0,'
    '"cancelled":0,"total":2},"started_at":"2026-11-30T09:00:00Z","finished_at":null,'
    '"duration_ms":null,"version":9,"cancel_requested":false}\n\n'
)
_EVENTS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The run's events, until the run is finished.",
        "content": {sse.EVENT_STREAM: {"schema": {"type": "string"}, "example": _EVENTS_EXAMPLE}},
    },
    **_READ,
}


def last_event_id(
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="Resume after this event (the `id:` of the last event received; an "
            "`EventSource` sends it when it reconnects).",
            max_length=43,
            pattern=event_service.EVENT_ID_PATTERN,
        ),
        # A header is a string when sent: documented without `null`.
        WithJsonSchema(
            {
                "type": "string",
                "maxLength": 43,
                "pattern": event_service.EVENT_ID_PATTERN,
                "examples": ["17", "17:6650f1c2a7b4e3d2c1b0a999"],
            }
        ),
    ] = None,
) -> event_service.EventId | None:
    if last_event_id is None:
        return None
    try:
        return event_service.EventId.parse(last_event_id)
    except ValueError as exc:  # the pattern is checked first: only a safety net
        raise InvalidInput.at(event_service.LAST_EVENT_ID, str(exc)) from None


LastEventIdDep = Annotated[event_service.EventId | None, Depends(last_event_id)]


@router.get(
    "/runs/{id:item}/events",
    response_class=sse.EventStreamResponse,
    responses=_EVENTS_RESPONSES,
)
async def run_events(
    id: ObjectIdPath,
    settings: SettingsDep,
    capabilities: CapabilitiesDep,
    after: LastEventIdDep = None,
) -> sse.EventStreamResponse:
    """Live status of the run, as Server-Sent Events (`text/event-stream`).

    First a `run` event with the run's current state; then, whenever the run or one of its
    executions changes, an `execution` event for each status change of an execution (`id`,
    `test_case_id`, `test_case_name`, `attempt`, the `status` it changed to, times,
    `duration_ms` (once final), `error_message` (with a final status), `worker`, `run_seq`),
    followed by a `run` event (`status`, `counters`, times, `version`, `cancel_requested`). An
    execution that changed several times between two looks is sent once per change, in order
    (queued, running, passed: three events). A comment (`: keep-alive`) comes every
    `JBTS_EVENTS_HEARTBEAT_S` seconds (15) while nothing changes. The stream ends after the `run`
    event in which the run is finished (`passed`, `failed`, `error`, `cancelled`); a finished
    run's stream is that one event.

    Event ids: a `run` event's id is a number that grows with the run's changes (`17`); an
    `execution` event's id is that number and the execution's id (`17:6650f1c2...`). A client
    that reconnects with `Last-Event-ID` set to the last id it received gets every change after
    it exactly once (the executions first, then a `run` event with the current state), with no
    gap. An id this run has not sent yet is a 422.
    """
    run = await event_service.start(id=id, after=after)
    assert run.id is not None
    items = event_service.stream(
        run.id,
        after=after,
        change_streams=capabilities.change_streams,
        poll_interval=settings.events_poll_ms / 1000,
        heartbeat_s=settings.events_heartbeat_s,
    )
    return sse.EventStreamResponse(_encoded(items, run_id=run.id), headers=sse.STREAM_HEADERS)


async def _encoded(
    items: AsyncGenerator[event_service.StreamItem], *, run_id: PydanticObjectId
) -> AsyncGenerator[str]:
    """The stream's frames. A database failure ends the stream (the response has started: no
    503 is possible); the client reconnects after `retry` and resumes from its last event."""
    yield sse.retry_frame(RETRY_MS)
    try:
        async with aclosing(items):
            async for item in items:
                if isinstance(item, event_service.Event):
                    yield sse.event_frame(item.name, str(item.id), item.data)
                else:
                    yield sse.KEEP_ALIVE
    except PyMongoError as exc:
        logger.warning(
            "the event stream of run %s ended: the database failed (%s)",
            run_id,
            type(exc).__name__,
        )


# -- executions -----------------------------------------------------------------------------------


@router.get("", response_model_exclude_unset=True)
async def list_executions(
    params: Annotated[ExecutionListParams, Query()],
) -> CursorPage[ExecutionItem]:  # type: ignore[valid-type]
    """List executions, filtered (by run, case, status, attempt, error signature, start time),
    sorted and paginated: by `page`, or by `cursor` (pass the `next_cursor` of a page to get the
    next one; a walk by cursor stays correct while executions are added)."""
    raw = await execution_service.list_executions(params=params)
    return raw.to_cursor_page(ExecutionItem)


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
async def report_results(data: BulkResults, capabilities: CapabilitiesDep) -> BulkResponse:
    """Report up to 1,000 results (of any runs) at once, written unordered (in one command on
    MongoDB, in bounded batches on the embedded engine).

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
    return await bulk_service.report_results(
        results=data.results, batch_size=capabilities.write_batch
    )


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
    result replaced. An unknown `step_id` is a 422 naming it, and nothing is written. The
    execution's step results together take at most 4 MiB as stored (MongoDB's documents stop at
    16 MiB): a report that would take them past it is a 422, and nothing is written.

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
    dependencies=[requires(Domain.RESULTS)],
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
    capabilities: CapabilitiesDep,
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
    imported = await import_service.import_junit(
        data=data, options=params, batch_size=capabilities.write_batch
    )
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
