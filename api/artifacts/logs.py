"""`/artifacts/logs`: log lines of runs and executions, written in batches, listed, exported."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.artifacts import log_service
from api.artifacts.log_params import LogExportParams, LogListParams
from api.artifacts.log_schemas import LogBatch, LogEntryRead
from api.auth.guard import Domain, requires
from api.deps import CapabilitiesDep, require_json_body
from api.errors import problem_responses
from api.idempotency.routes import IdempotentRoute
from api.query import BulkResponse, CursorPage
from api.query.fields import partial_model
from api.sse import STREAM_HEADERS, EventStreamResponse

NDJSON = "application/x-ndjson"

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/artifacts/logs",
    tags=["artifacts"],
    dependencies=[requires(Domain.RESULTS)],
    responses=problem_responses(422),
)

LogItem = partial_model(LogEntryRead)


class NdjsonResponse(EventStreamResponse):
    """A streamed body of JSON lines, its iterator closed however the response ends."""

    media_type = NDJSON


@router.post(
    "",
    response_model_exclude_none=True,
    dependencies=[Depends(require_json_body)],
    responses=problem_responses(415),
)
async def create_log_entries(data: LogBatch, capabilities: CapabilitiesDep) -> BulkResponse:
    """Store up to 5,000 log lines at once, written unordered in batches.

    Every line gets an outcome at its index: `created` with its id, or `failed` with a problem
    at `body.entries.<index>`; a failing line never stops the others. A line fails for a bad
    field, a `context` over its size or with a key starting with `$` or holding a `.` (422), an
    unknown run or execution, or an execution of another run (422). `created` counts the lines
    stored. If the database fails midway, the lines already written keep their outcome and the
    rest fail with 503, saying whether they may have been written.

    Lines expire `JBTS_LOG_RETENTION_DAYS` (default 30) days after their `timestamp` (a line
    older than that is stored and removed by the next TTL pass). The whole request is bounded by
    `JBTS_MAX_BODY_BYTES` (5 MiB by default, 413 beyond): send large lines in smaller batches.
    """
    return await log_service.create_entries(
        entries=data.entries, batch_size=capabilities.write_batch
    )


@router.get("", response_model_exclude_unset=True)
async def list_log_entries(
    params: Annotated[LogListParams, Query()], capabilities: CapabilitiesDep
) -> CursorPage[LogItem]:  # type: ignore[valid-type]
    """List log lines in time order (then by id), filtered by run, execution, level (or
    `min_level`), source, time and words in the message; paginated by `page`, or by `cursor`
    (pass the `next_cursor` of a page to get the next one; a walk by cursor stays correct while
    lines are added)."""
    raw = await log_service.list_entries(params=params, capabilities=capabilities)
    return raw.to_cursor_page(LogItem)


@router.get(
    "/export",
    response_class=NdjsonResponse,
    responses={
        200: {
            "description": "Every matching line, one JSON object (a `LogEntryRead`) per line, "
            "in time order.",
            "content": {NDJSON: {"schema": {"type": "string"}}},
        }
    },
)
async def export_log_entries(
    params: Annotated[LogExportParams, Query()], capabilities: CapabilitiesDep
) -> NdjsonResponse:
    """Download every matching line as NDJSON (`application/x-ndjson`), streamed: the same
    filters as the list, in time order; read from the database a batch at a time, so a run of
    millions of lines is never held whole."""
    lines = log_service.export_lines(params=params, capabilities=capabilities)
    return NdjsonResponse(lines, headers=STREAM_HEADERS)
