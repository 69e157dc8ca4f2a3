"""Bulk writes: unordered `bulk_write` commands in bounded batches, and an outcome per item.

Items that failed validation before reaching the database keep their place in the result; the
rest go to MongoDB as unordered writes, so one bad item never sinks the others, in batches of the
deployment's `Capabilities.write_batch`: the whole request in one command on MongoDB; on the
embedded engine bounded batches, so no single command's work grows with the request (a slow
engine finishes each batch rather than the driver abandoning a huge command midway). Every result
says what happened to the data: an id named twice in one request is refused (its outcome would be
ambiguous), and when the database fails midway the items already written keep their status.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bson import ObjectId
from pydantic import BaseModel, Field
from pymongo import DeleteOne, InsertOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, PyMongoError

from api.errors import (
    TOO_LARGE_CODES,
    Conflict,
    DatabaseUnavailable,
    InvalidInput,
    NotFound,
    Problem,
    ProblemError,
    document_too_large,
)

MAX_BULK_ITEMS = 1000

logger = logging.getLogger(__name__)

type WriteOp = InsertOne[Any] | UpdateOne | DeleteOne


class BulkStatus(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    UNCHANGED = "unchanged"
    """The item repeats what the document already says: nothing was written (a retry)."""
    FAILED = "failed"


class BulkResult(BaseModel):
    """The outcome of one submitted item, at its `index` in the request."""

    index: int
    status: BulkStatus
    id: str | None = Field(
        default=None,
        description="The document created, updated, deleted or left unchanged. On a failure, "
        "only when the item may have been written all the same (a 503): the id to read to find "
        "out.",
    )
    error: Problem | None = None


class BulkResponse(BaseModel):
    results: list[BulkResult]
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = Field(
        default=0, description="Items that repeated what the data already said: nothing written."
    )
    failed: int = 0


@dataclass(slots=True)
class BulkOutcome:
    """One item to write (`op`) or an error found before writing (`error`).

    `id` is the document the item creates or names. A failed update or delete should still carry
    the id it names, so that a later item naming it again is recognised as a repeat.
    """

    status: BulkStatus
    id: ObjectId | None = None
    op: WriteOp | None = None
    error: ProblemError | None = None
    maybe_written: bool = False


type BeforeWrite = Callable[[Sequence[BulkOutcome]], Awaitable[None]]
"""Work a batch needs just before it is written (e.g. cases about to be deleted leave suites)."""


class _BatchFailed(Exception):
    """The database failed during a batch; `maybe_written` if its writes may have happened."""

    def __init__(self, *, maybe_written: bool) -> None:
        super().__init__()
        self.maybe_written = maybe_written


def write_error(error: dict[str, Any]) -> ProblemError:
    code = error.get("code")
    message = str(error.get("errmsg", "write failed"))
    if code == 11000:
        key = ", ".join(error.get("keyValue", {}) or {}) or "a unique key"
        return Conflict(f"duplicate value for {key}")
    if code == 121:
        return InvalidInput("the database's schema validator refused the document")
    if code in TOO_LARGE_CODES:
        return document_too_large()
    return Conflict(message)


def _names_a_document(item: BulkOutcome) -> bool:
    """The item updates or deletes an existing document (or would have, had it not failed)."""
    return item.id is not None and item.status is not BulkStatus.CREATED


def refuse_repeated_ids(items: Sequence[BulkOutcome], *, label: str, at: str) -> None:
    """Fail every item naming an id an earlier item names, at `<at>.<index>.id`.

    Two operations on one document in an unordered write have no defined order, and their
    results would overstate what happened (two deletions of one case). The earlier item is
    unaffected, whatever its own outcome; the check depends only on the request.
    """
    first: dict[ObjectId, int] = {}
    for index, item in enumerate(items):
        if not _names_a_document(item):
            continue
        assert item.id is not None
        earlier = first.setdefault(item.id, index)
        if earlier != index and item.error is None:
            item.op = None
            item.error = InvalidInput.at(
                f"{at}.{index}.id",
                f"{label} {item.id} is already named by {at.rsplit('.', 1)[-1]}.{earlier}: "
                f"one request may name each {label} once",
            )


async def _write_batch(
    collection: AsyncCollection[Any],
    batch: Sequence[BulkOutcome],
    *,
    label: str,
    before_write: BeforeWrite | None,
) -> None:
    """Check the batch's targets exist, then write it in one unordered command.

    Raises `_BatchFailed` when the database fails (other than refusing single writes).
    """
    targeted = [item.id for item in batch if not isinstance(item.op, InsertOne)]
    if targeted:
        # Just before the write: a bulk write reports only aggregate match counts.
        try:
            found = {doc["_id"] async for doc in collection.find({"_id": {"$in": targeted}}, {})}
        except PyMongoError as exc:
            raise _BatchFailed(maybe_written=False) from exc
        for item in batch:
            if not isinstance(item.op, InsertOne) and item.id not in found:
                item.op = None
                item.error = NotFound(f"{label} {item.id} does not exist")
    writing = [item for item in batch if item.op is not None]
    if not writing:
        return
    try:
        if before_write is not None:
            await before_write(writing)
        await collection.bulk_write([item.op for item in writing if item.op], ordered=False)
    except BulkWriteError as exc:
        for error in exc.details.get("writeErrors", []):
            writing[error["index"]].error = write_error(error)
    except PyMongoError as exc:
        raise _BatchFailed(maybe_written=True) from exc


def unavailable(*, maybe_written: bool) -> DatabaseUnavailable:
    if maybe_written:
        return DatabaseUnavailable(
            "the database became unavailable while this item was being written: it may have "
            "been written; read it before retrying"
        )
    return DatabaseUnavailable(
        "the database became unavailable before this item was written: it was not written; retry it"
    )


async def run_bulk(
    collection: AsyncCollection[Any],
    items: Sequence[BulkOutcome],
    *,
    label: str,
    at: str = "body.operations",
    before_write: BeforeWrite | None = None,
    batch_size: int,
) -> BulkResponse:
    """Write the items' ops in batches of unordered bulk writes; report every item in order.

    `batch_size` is the deployment's `Capabilities.write_batch`: writes per command, and ids per
    existence check. `at` is where the items are in the request (for errors); `before_write` runs
    for each batch with the items about to be written. Updates and deletes of ids that do not
    exist are reported as 404 per item. When the database fails in a batch, that batch's items
    may have been written and later ones were not: each says so in a 503, and the batches before
    keep theirs.
    """
    if len(items) > MAX_BULK_ITEMS:
        raise InvalidInput.at("body", f"at most {MAX_BULK_ITEMS} items per bulk request")
    outcomes = list(items)
    refuse_repeated_ids(outcomes, label=label, at=at)
    pending = [item for item in outcomes if item.op is not None]
    for start in range(0, len(pending), batch_size):
        batch = pending[start : start + batch_size]
        try:
            await _write_batch(collection, batch, label=label, before_write=before_write)
        except _BatchFailed as failed:
            logger.warning(
                "bulk write of %ss stopped at batch %d of %d: the database failed",
                label,
                start // batch_size + 1,
                -(-len(pending) // batch_size),
                exc_info=failed.__cause__,
            )
            fail_unwritten(batch, maybe_written=failed.maybe_written)
            fail_unwritten(pending[start + batch_size :], maybe_written=False)
            break
    return respond(outcomes)


def fail_unwritten(items: Sequence[BulkOutcome], *, maybe_written: bool) -> None:
    """The database failed: each item not yet failed gets a 503 saying whether it may have been
    written (then `respond` shows its id)."""
    for item in items:
        if item.error is None:
            item.error = unavailable(maybe_written=maybe_written)
            item.maybe_written = maybe_written


def respond(outcomes: Sequence[BulkOutcome]) -> BulkResponse:
    """Every item's result at its index, and the totals."""
    response = BulkResponse(results=[])
    for index, item in enumerate(outcomes):
        if item.error is not None:
            shown_id = str(item.id) if item.maybe_written and item.id else None
            response.results.append(
                BulkResult(
                    index=index,
                    status=BulkStatus.FAILED,
                    id=shown_id,
                    error=item.error.to_problem(),
                )
            )
            response.failed += 1
            continue
        response.results.append(
            BulkResult(index=index, status=item.status, id=str(item.id) if item.id else None)
        )
        match item.status:
            case BulkStatus.CREATED:
                response.created += 1
            case BulkStatus.UPDATED:
                response.updated += 1
            case BulkStatus.DELETED:
                response.deleted += 1
            case BulkStatus.UNCHANGED:
                response.unchanged += 1
            case BulkStatus.FAILED:  # pragma: no cover - failures carry an error
                pass
    return response
