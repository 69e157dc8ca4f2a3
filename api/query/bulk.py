"""Bulk writes: one unordered `bulk_write`, and an outcome for every submitted item.

Items that failed validation before reaching the database keep their place in the result; the
rest go to MongoDB in one request, so one bad item never sinks the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bson import ObjectId
from pydantic import BaseModel
from pymongo import DeleteOne, InsertOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from api.errors import Conflict, InvalidInput, NotFound, Problem, ProblemError

MAX_BULK_ITEMS = 1000

type WriteOp = InsertOne[Any] | UpdateOne | DeleteOne


class BulkStatus(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    FAILED = "failed"


class BulkResult(BaseModel):
    """The outcome of one submitted item, at its `index` in the request."""

    index: int
    status: BulkStatus
    id: str | None = None
    error: Problem | None = None


class BulkResponse(BaseModel):
    results: list[BulkResult]
    created: int = 0
    updated: int = 0
    deleted: int = 0
    failed: int = 0


@dataclass(slots=True)
class BulkOutcome:
    """One item to write (`op`) or an error found before writing (`error`)."""

    status: BulkStatus
    id: ObjectId | None = None
    op: WriteOp | None = None
    error: ProblemError | None = None


@dataclass(slots=True)
class _Plan:
    ops: list[WriteOp] = field(default_factory=list)
    op_items: list[int] = field(default_factory=list)


def _write_error(error: dict[str, Any]) -> ProblemError:
    code = error.get("code")
    message = str(error.get("errmsg", "write failed"))
    if code == 11000:
        key = ", ".join(error.get("keyValue", {}) or {}) or "a unique key"
        return Conflict(f"duplicate value for {key}")
    if code == 121:
        return InvalidInput("the database's schema validator refused the document")
    return Conflict(message)


async def run_bulk(
    collection: AsyncCollection[Any], items: Sequence[BulkOutcome], *, label: str
) -> BulkResponse:
    """Write the items' ops in one unordered bulk write; report every item in order.

    Updates and deletes of ids that do not exist are reported as 404 per item: their existence is
    checked just before the write, because a bulk write reports only aggregate match counts.
    """
    if len(items) > MAX_BULK_ITEMS:
        raise InvalidInput.at("body", f"at most {MAX_BULK_ITEMS} items per bulk request")
    outcomes = list(items)
    targeted = {
        item.id for item in outcomes if item.op is not None and not isinstance(item.op, InsertOne)
    }
    if targeted:
        found = {doc["_id"] async for doc in collection.find({"_id": {"$in": list(targeted)}}, {})}
        for item in outcomes:
            if item.op is not None and not isinstance(item.op, InsertOne) and item.id not in found:
                item.op = None
                item.error = NotFound(f"{label} {item.id} does not exist")
    plan = _Plan()
    for index, item in enumerate(outcomes):
        if item.op is not None:
            plan.ops.append(item.op)
            plan.op_items.append(index)
    if plan.ops:
        try:
            await collection.bulk_write(plan.ops, ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                item = outcomes[plan.op_items[error["index"]]]
                item.error = _write_error(error)
    response = BulkResponse(results=[])
    for index, item in enumerate(outcomes):
        if item.error is not None:
            response.results.append(
                BulkResult(index=index, status=BulkStatus.FAILED, error=item.error.to_problem())
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
            case BulkStatus.FAILED:  # pragma: no cover - failures carry an error
                pass
    return response
