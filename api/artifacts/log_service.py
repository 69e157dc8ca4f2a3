"""Log entries: batches written unordered, lists by time and cursor, and a streamed export.

A batch of up to 5,000 lines is checked line by line (a bad line fails alone, at its index): its
body, then its run and execution (each distinct id is read once per batch, and an execution must
be of the line's run). The lines that pass are inserted by unordered `insert_many` commands of
the deployment's `Capabilities.write_batch` documents (1,000 on MongoDB), so no single command's
work grows with the request: on the embedded engine (100) every insert reads the whole
collection, and a command running for minutes would be abandoned by the driver while the engine
still completes it. If the database fails midway, the
lines already written keep their outcome and the others fail with 503, saying whether they may
have been written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from beanie import PydanticObjectId
from bson import ObjectId
from pydantic import ValidationError
from pymongo.errors import BulkWriteError, PyMongoError

from api.artifacts.log_params import LogExportParams, LogListParams
from api.artifacts.log_schemas import LogEntryCreate, LogEntryRead
from api.database.capabilities import Capabilities
from api.errors import InvalidInput, invalid_input
from api.query import BulkOutcome, BulkResponse, BulkStatus, RawPage, find_page
from api.query.bulk import fail_unwritten, respond, write_error
from api.query.crud import KnownIds
from api.query.listing import list_index
from documents.artifacts import LogEntry
from documents.base import utcnow
from documents.executions import TestExecution, TestRun

ENTRIES = "body.entries"
EXPORT_BATCH = 500
"""Lines the export reads per round trip, and sends per chunk."""


def _collection() -> Any:
    return LogEntry.get_pymongo_collection()


class _Runs:
    """Which runs exist and which run each execution belongs to: each id read once per batch."""

    def __init__(self) -> None:
        self._known = KnownIds()
        self._execution_runs: dict[PydanticObjectId, PydanticObjectId | None] = {}

    async def check(self, entry: LogEntryCreate, at: str) -> None:
        if not await self._known.exists(TestRun, entry.run_id):
            raise InvalidInput.at(f"{at}.run_id", f"run {entry.run_id} does not exist")
        if entry.execution_id is None:
            return
        if entry.execution_id not in self._execution_runs:
            found = await TestExecution.get_pymongo_collection().find_one(
                {"_id": entry.execution_id}, {"run_id": 1}
            )
            self._execution_runs[entry.execution_id] = None if found is None else found["run_id"]
        run_id = self._execution_runs[entry.execution_id]
        if run_id is None:
            raise InvalidInput.at(
                f"{at}.execution_id", f"execution {entry.execution_id} does not exist"
            )
        if run_id != entry.run_id:
            raise InvalidInput.at(
                f"{at}.execution_id",
                f"execution {entry.execution_id} belongs to run {run_id}, not {entry.run_id}",
            )


def _document(entry: LogEntryCreate) -> dict[str, Any]:
    now = utcnow()
    return {
        "_id": ObjectId(),
        "run_id": entry.run_id,
        "execution_id": entry.execution_id,
        "step_order": entry.step_order,
        "level": entry.level.value,
        "source": entry.source.value,
        "message": entry.message,
        "timestamp": entry.timestamp or now,
        "context": entry.context,
        "created_at": now,
        "updated_at": now,
    }


async def _plan(
    item: LogEntryCreate | dict[str, Any], index: int, runs: _Runs
) -> tuple[BulkOutcome, dict[str, Any] | None]:
    at = f"{ENTRIES}.{index}"
    try:
        entry = item if isinstance(item, LogEntryCreate) else LogEntryCreate.model_validate(item)
        await runs.check(entry, at)
    except ValidationError as exc:
        return BulkOutcome(BulkStatus.FAILED, error=invalid_input(exc, at=at.split("."))), None
    except InvalidInput as exc:
        return BulkOutcome(BulkStatus.FAILED, error=exc), None
    document = _document(entry)
    return BulkOutcome(BulkStatus.CREATED, id=document["_id"]), document


async def create_entries(
    *, entries: Sequence[LogEntryCreate | dict[str, Any]], batch_size: int
) -> BulkResponse:
    """Store the lines that pass their checks; every line gets an outcome at its index.

    `batch_size` is the deployment's `Capabilities.write_batch`: lines per `insert_many`. On the
    embedded engine an insert's cost is its scan of the collection, not the command: a larger
    batch saves round trips only, and lengthens every command other requests wait behind."""
    runs = _Runs()
    outcomes: list[BulkOutcome] = []
    pending: list[tuple[BulkOutcome, dict[str, Any]]] = []
    for index, item in enumerate(entries):
        outcome, document = await _plan(item, index, runs)
        outcomes.append(outcome)
        if document is not None:
            pending.append((outcome, document))
    collection = _collection()
    for start in range(0, len(pending), batch_size):
        batch = pending[start : start + batch_size]
        try:
            await collection.insert_many([document for _, document in batch], ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                batch[error["index"]][0].error = write_error(error)
        except PyMongoError:
            fail_unwritten([outcome for outcome, _ in batch], maybe_written=True)
            fail_unwritten(
                [outcome for outcome, _ in pending[start + batch_size :]], maybe_written=False
            )
            break
    return respond(outcomes)


async def list_entries(*, params: LogListParams, capabilities: Capabilities) -> RawPage:
    params.with_word_boundaries(ucp=capabilities.ascii_word_boundaries)
    return await find_page(LogEntry, params)


async def export_lines(
    *, params: LogExportParams, capabilities: Capabilities
) -> AsyncIterator[str]:
    """Every matching line as NDJSON, in time order (then `_id`), read `EXPORT_BATCH` at a time:
    never more than one batch in memory."""
    params.with_word_boundaries(ucp=capabilities.ascii_word_boundaries)
    listed = params.list_params()
    cursor = _collection().find(listed.mongo_filter(), sort=listed.sort(), batch_size=EXPORT_BATCH)
    hint = list_index(LogEntry, listed)
    if hint is not None:
        cursor = cursor.hint(hint)
    lines: list[str] = []
    async with cursor:
        async for document in cursor:
            lines.append(LogEntryRead.model_validate(document).model_dump_json() + "\n")
            if len(lines) >= EXPORT_BATCH:
                yield "".join(lines)
                lines = []
    if lines:
        yield "".join(lines)


async def delete_run_logs(*, run_id: PydanticObjectId) -> int:
    """Delete every log line of a run (for a run's deletion); how many."""
    result = await LogEntry.get_pymongo_collection().delete_many({"run_id": run_id})
    return result.deleted_count


async def count_run_logs(*, run_id: PydanticObjectId) -> int:
    """How many log lines `delete_run_logs` would delete now (a dry run)."""
    return await LogEntry.get_pymongo_collection().count_documents({"run_id": run_id})
