"""Test cases and their steps: every query they need.

Every change of a case is one atomic update of its document that also bumps `version`. Step
changes that move steps (insert, delete, reorder) are update pipelines that rewrite the array and
renumber `order` on the server, so concurrent writers never overwrite each other's steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import bson
from beanie import PydanticObjectId
from bson import ObjectId
from pydantic import ValidationError
from pymongo import DeleteOne, InsertOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from api.configurations import service as configuration_service
from api.database.capabilities import Capabilities
from api.errors import InvalidInput, NotFound, ProblemError, invalid_input
from api.limits import MAX_LIST_BYTES, list_size, list_too_large, stored_list_size
from api.query import RawPage, find_page
from api.query.bulk import BulkOutcome, BulkResponse, BulkStatus, run_bulk
from api.query.crud import (
    IfMatch,
    KnownIds,
    bump,
    check_if_match,
    conditional_filter,
    duplicate_conflict,
    get_or_404,
    insert,
    why_unchanged,
)
from api.schemas import MAX_NAME_LENGTH
from api.test_defs.params import StepListParams, TestCaseListParams
from api.test_defs.schemas import (
    MAX_STEPS,
    BulkOp,
    BulkOperation,
    StepCreate,
    StepInput,
    StepOrder,
    StepUpdate,
    TestCaseCreate,
    TestCaseUpdate,
)
from documents.base import utcnow
from documents.test_defs import (
    CaseStatus,
    TestCase,
    TestStep,
    TestSuite,
    new_step_id,
    priority_rank,
)

CASE = "test case"


def _collection() -> AsyncCollection[dict[str, Any]]:
    collection: AsyncCollection[dict[str, Any]] = TestCase.get_pymongo_collection()
    return collection


class _NoMatch(InvalidInput):
    """A conditional update matched nothing, though the case exists at the expected version."""


def new_steps(steps: Sequence[StepInput]) -> list[TestStep]:
    """Steps as stored: each with a fresh stable id, `order` 1..n."""
    return [
        TestStep(id=new_step_id(), order=position, **step.model_dump())
        for position, step in enumerate(steps, start=1)
    ]


def new_case_document(data: TestCaseCreate) -> tuple[PydanticObjectId, dict[str, Any]]:
    """A new case as a raw insert stores it: a fresh id, step ids, `order` 1..n, version 1."""
    case = TestCase(**data.model_dump(exclude={"steps"}), steps=new_steps(data.steps))
    case.id = PydanticObjectId()
    return case.id, case.model_dump(by_alias=True, exclude={"revision_id"})


async def _check_references(
    data: TestCaseCreate | TestCaseUpdate,
    *,
    at: str = "body",
    known: KnownIds | None = None,
) -> None:
    await configuration_service.check_references(
        browser_configuration_id=data.browser_configuration_id,
        environment_id=data.environment_id,
        at=at,
        known=known,
    )


async def _why_unchanged(
    id: PydanticObjectId, if_match: IfMatch, *, step_id: str | None = None
) -> Exception:
    """Why a conditional update matched nothing: unknown case, stale version or unknown step."""
    reason = await why_unchanged(TestCase, id, if_match, label=CASE)
    if reason is not None:
        return reason
    if step_id is not None:
        current = await _collection().find_one({"_id": id, "steps.id": step_id}, {"_id": 1})
        if current is None:
            return NotFound(f"step {step_id} of {CASE} {id} does not exist")
    return _NoMatch(f"{CASE} {id} could not be changed")


# -- test cases ------------------------------------------------------------------------------


async def create_case(
    *, data: TestCaseCreate, template_id: PydanticObjectId | None = None
) -> TestCase:
    await _check_references(data)
    case = TestCase(
        **data.model_dump(exclude={"steps"}),
        steps=new_steps(data.steps),
        template_id=template_id,
    )
    return await insert(case, label=CASE)


async def get_case(*, id: PydanticObjectId) -> TestCase:
    return await get_or_404(TestCase, id, label=CASE)


async def list_cases(*, params: TestCaseListParams, capabilities: Capabilities) -> RawPage:
    return await find_page(TestCase, params, capabilities=capabilities)


async def _apply(
    id: PydanticObjectId,
    update: Mapping[str, Any] | list[dict[str, Any]],
    *,
    if_match: IfMatch,
    extra_filter: Mapping[str, Any] | None = None,
    step_id: str | None = None,
    array_filters: list[dict[str, Any]] | None = None,
) -> TestCase:
    """One atomic update of a case; the reason it matched nothing becomes the error."""
    query = {**conditional_filter(TestCase, id, if_match), **(extra_filter or {})}
    try:
        raw = await _collection().find_one_and_update(
            query, update, array_filters=array_filters, return_document=ReturnDocument.AFTER
        )
    except DuplicateKeyError as exc:
        raise duplicate_conflict(exc, label=CASE) from exc
    if raw is None:
        raise await _why_unchanged(id, if_match, step_id=step_id)
    case: TestCase = TestCase.model_validate(raw)
    return case


def _touch(changes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`$set` the changes and `updated_at`, `$inc` the version: every change of a case.

    A new `priority` sets its stored rank in the same update, so the two never disagree.
    """
    if changes and changes.get("priority") is not None:
        changes = {**changes, "priority_rank": priority_rank(changes["priority"])}
    return bump(TestCase, changes)


def _leave_suites(case_ids: Any) -> dict[str, Any]:
    """The update that takes cases out of the suites listing them (a change of each suite)."""
    return {"$pull": {"test_case_ids": case_ids}, **bump(TestSuite)}


async def update_case(*, id: PydanticObjectId, data: TestCaseUpdate, if_match: IfMatch) -> TestCase:
    await _check_references(data)
    changes = data.changes()
    if not changes:
        current = await get_case(id=id)
        check_if_match(current, if_match, label=CASE)
        return current
    return await _apply(id, _touch(changes), if_match=if_match)


async def delete_case(*, id: PydanticObjectId, if_match: IfMatch) -> None:
    """Delete the case and take it out of every suite that lists it.

    The suites let go of it first: an interruption between the two writes leaves a case in no
    suite, never a suite listing a case that is gone. Each write is atomic on its own, so
    concurrent deletes of cases of one suite never collide.
    """
    query = conditional_filter(TestCase, id, if_match)
    if await _collection().find_one(query, {"_id": 1}) is None:
        raise await _why_unchanged(id, if_match)
    await TestSuite.get_pymongo_collection().update_many({"test_case_ids": id}, _leave_suites(id))
    result = await _collection().delete_one(query)
    if result.deleted_count == 0:
        raise await _why_unchanged(id, if_match)


def _copy_name(name: str) -> str:
    """`<name> (copy)`, the name shortened to keep it a valid name (copies of copies too)."""
    suffix = " (copy)"
    return name[: MAX_NAME_LENGTH - len(suffix)] + suffix


async def clone_case(*, id: PydanticObjectId, name: str | None) -> TestCase:
    """A copy with a new id, new step ids, status draft, version 1 and no automation key."""
    original = await get_case(id=id)
    copy = TestCase(
        **original.model_dump(
            exclude={"id", "revision_id", "created_at", "updated_at", "version", "steps"}
        ),
        steps=[TestStep(**{**step.model_dump(), "id": new_step_id()}) for step in original.steps],
    )
    copy.name = name or _copy_name(original.name)
    copy.status = CaseStatus.DRAFT
    copy.automation_key = None
    return await insert(copy, label=CASE)


# -- steps -----------------------------------------------------------------------------------

_BIG = 1_000_000  # "to the end" for $slice

_RENUMBERED = {
    "$map": {
        "input": {"$range": [0, {"$size": "$steps"}]},
        "as": "i",
        "in": {
            "$mergeObjects": [{"$arrayElemAt": ["$steps", "$$i"]}, {"order": {"$add": ["$$i", 1]}}]
        },
    }
}


def _rewrite_steps(steps: Any) -> list[dict[str, Any]]:
    """An update pipeline that replaces `steps`, renumbers them and bumps the version."""
    return [
        {"$set": {"steps": steps}},
        {
            "$set": {
                "steps": _RENUMBERED,
                "version": {"$add": ["$version", 1]},
                "updated_at": {"$literal": utcnow()},
            }
        },
    ]


def _step(case: TestCase, step_id: str) -> TestStep:
    return next(step for step in case.steps if step.id == step_id)


async def list_steps(*, id: PydanticObjectId, params: StepListParams) -> tuple[list[Any], int]:
    """One page of a case's steps, in order; `fields=` is projected on the server."""
    page: dict[str, Any] = {"$slice": ["$steps", params.skip, params.limit]}
    if params.fields is not None:
        chosen = dict.fromkeys(["id", *params.fields])  # `id` always, as on every list
        page = {"$map": {"input": page, "in": {name: f"$$this.{name}" for name in chosen}}}
    pipeline: list[dict[str, Any]] = [
        {"$match": {"_id": id}},
        {"$project": {"_id": 0, "items": page, "total": {"$size": "$steps"}}},
    ]
    found = await (await _collection().aggregate(pipeline)).to_list()
    if not found:
        raise NotFound(f"{CASE} {id} does not exist")
    return found[0]["items"], found[0]["total"]


def _steps_fit_after(growth: Any) -> dict[str, Any]:
    """A filter: the case's steps, grown by `growth` bytes (a number or an expression), still
    take at most `MAX_LIST_BYTES` as stored."""
    return {"$expr": {"$lte": [{"$add": [stored_list_size("steps"), growth]}, MAX_LIST_BYTES]}}


def _too_large(id: PydanticObjectId, steps: Sequence[Mapping[str, Any]]) -> InvalidInput:
    """422 for a step write that `_steps_fit_after` refused; `steps` as it would have left them."""
    what = f"with this change, the steps of {CASE} {id}"
    return InvalidInput.at("body", list_too_large(what, list_size("steps", steps)))


def _with_id(step_id: str) -> dict[str, Any]:
    """The stored steps whose id is `step_id` (one, or none)."""
    return {"$filter": {"input": "$steps", "cond": {"$eq": ["$$this.id", step_id]}}}


async def add_step(
    *, id: PydanticObjectId, data: StepCreate, if_match: IfMatch
) -> tuple[TestStep, TestCase]:
    step = TestStep(id=new_step_id(), **data.model_dump(exclude={"position"}))
    # The step's bytes in the array, its index written with up to 3 digits ("499").
    added = list_size("steps", [step.model_dump()]) - list_size("steps", []) + 2
    literal = {"$literal": [step.model_dump()]}
    before = None if data.position is None else data.position - 1
    parts: list[Any]
    if before is None:
        parts = ["$steps", literal]
    elif before == 0:
        parts = [literal, "$steps"]
    else:
        parts = [{"$slice": ["$steps", before]}, literal, {"$slice": ["$steps", before, _BIG]}]
    full = f"steps.{MAX_STEPS - 1}"
    try:
        case = await _apply(
            id,
            _rewrite_steps({"$concatArrays": parts}),
            if_match=if_match,
            extra_filter={full: {"$exists": False}, **_steps_fit_after(added)},
        )
    except _NoMatch:
        current = await get_case(id=id)
        if len(current.steps) >= MAX_STEPS:
            raise InvalidInput(
                f"{CASE} {id} already has {MAX_STEPS} steps, the most it may"
            ) from None
        stored = [existing.model_dump() for existing in current.steps]
        raise _too_large(id, [*stored, step.model_dump()]) from None
    return _step(case, step.id), case


async def update_step(
    *, id: PydanticObjectId, step_id: str, data: StepUpdate, if_match: IfMatch
) -> tuple[TestStep, TestCase]:
    fields = data.changes()
    changes = {f"steps.$[step].{name}": value for name, value in fields.items()}
    if not changes:  # nothing to change: no write, no new version (as for a case)
        case = await get_case(id=id)
        if (if_match is not None and case.version not in if_match) or step_id not in {
            step.id for step in case.steps
        }:
            raise await _why_unchanged(id, if_match, step_id=step_id)
        return _step(case, step_id), case
    # The steps grow by the size of the new values less that of the values they replace.
    replaced = {
        "$let": {
            "vars": {"step": {"$arrayElemAt": [_with_id(step_id), 0]}},
            "in": {name: f"$$step.{name}" for name in fields},
        }
    }
    growth = {"$subtract": [len(bson.encode(fields)), {"$bsonSize": replaced}]}
    try:
        case = await _apply(
            id,
            _touch(changes),
            if_match=if_match,
            extra_filter={"steps.id": step_id, **_steps_fit_after(growth)},
            step_id=step_id,
            array_filters=[{"step.id": step_id}],
        )
    except _NoMatch:
        current = await get_case(id=id)
        stored = [step.model_dump() for step in current.steps]
        raise _too_large(
            id, [{**s, **fields} if s["id"] == step_id else s for s in stored]
        ) from None
    return _step(case, step_id), case


async def delete_step(*, id: PydanticObjectId, step_id: str, if_match: IfMatch) -> TestCase:
    remaining = {"$filter": {"input": "$steps", "cond": {"$ne": ["$$this.id", step_id]}}}
    return await _apply(
        id,
        _rewrite_steps(remaining),
        if_match=if_match,
        extra_filter={"steps.id": step_id},
        step_id=step_id,
    )


async def reorder_steps(*, id: PydanticObjectId, data: StepOrder, if_match: IfMatch) -> TestCase:
    """Put the steps in the order given; the list must name every step of the case, once.

    The update applies only while the case has exactly these steps, so a step added or removed
    meanwhile is reported rather than lost.
    """
    ids = data.step_ids
    reordered = {
        "$map": {
            "input": {"$literal": ids},
            "as": "sid",
            "in": {
                "$arrayElemAt": [
                    {"$filter": {"input": "$steps", "cond": {"$eq": ["$$this.id", "$$sid"]}}},
                    0,
                ]
            },
        }
    }
    same_steps: dict[str, Any] = {"steps": {"$size": len(ids)}}
    if ids:
        same_steps["steps.id"] = {"$all": ids}
    try:
        return await _apply(
            id, _rewrite_steps(reordered), if_match=if_match, extra_filter=same_steps
        )
    except _NoMatch:
        current = await get_case(id=id)
        present = [step.id for step in current.steps]
        missing = [step_id for step_id in present if step_id not in ids]
        unknown = [step_id for step_id in ids if step_id not in present]
        problems = []
        if missing:
            problems.append(f"missing: {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown: {', '.join(unknown)}")
        raise InvalidInput.at(
            "body.step_ids",
            "step_ids must list every step of the case exactly once; " + "; ".join(problems),
        ) from None


# -- bulk ------------------------------------------------------------------------------------


def _operation_id(operation: BulkOperation, index: int) -> PydanticObjectId:
    if operation.id is None or not ObjectId.is_valid(operation.id):
        raise InvalidInput.at(
            f"body.operations.{index}.id", f"{operation.op} needs the id of a test case"
        )
    return PydanticObjectId(operation.id)


async def _plan(operation: BulkOperation, index: int, known: KnownIds) -> BulkOutcome:
    """The write for one operation, after the same checks its single-case endpoint makes."""
    at = ("body", "operations", index, "data")
    match operation.op:
        case BulkOp.CREATE:
            try:
                data = TestCaseCreate.model_validate(operation.data or {})
            except ValidationError as exc:
                raise invalid_input(exc, at=at) from exc
            await _check_references(data, at=".".join(map(str, at)), known=known)
            case_id, document = new_case_document(data)
            return BulkOutcome(status=BulkStatus.CREATED, id=case_id, op=InsertOne(document))
        case BulkOp.UPDATE:
            id = _operation_id(operation, index)
            try:
                changes = TestCaseUpdate.model_validate(operation.data or {})
            except ValidationError as exc:
                raise invalid_input(exc, at=at) from exc
            if not changes.changes():
                raise InvalidInput.at(".".join(map(str, at)), "update needs at least one field")
            await _check_references(changes, at=".".join(map(str, at)), known=known)
            return BulkOutcome(
                status=BulkStatus.UPDATED,
                id=id,
                op=UpdateOne({"_id": id}, _touch(changes.changes())),
            )
        case BulkOp.DELETE:
            id = _operation_id(operation, index)
            return BulkOutcome(status=BulkStatus.DELETED, id=id, op=DeleteOne({"_id": id}))


async def _before_deleting(items: Sequence[BulkOutcome]) -> None:
    """Cases about to be deleted first leave every suite that lists them (as a single DELETE
    does), so an interruption never leaves a suite listing a deleted case."""
    doomed = [item.id for item in items if isinstance(item.op, DeleteOne)]
    if doomed:
        await TestSuite.get_pymongo_collection().update_many(
            {"test_case_ids": {"$in": doomed}}, _leave_suites({"$in": doomed})
        )


def _named_id(operation: BulkOperation) -> PydanticObjectId | None:
    """The case an update or delete names, when its id is well-formed."""
    if operation.op is BulkOp.CREATE or operation.id is None or not ObjectId.is_valid(operation.id):
        return None
    return PydanticObjectId(operation.id)


async def bulk(*, operations: Sequence[BulkOperation], batch_size: int) -> BulkResponse:
    """Create, update and delete many cases in unordered bulk writes of `batch_size` each."""
    planned: list[BulkOutcome] = []
    known = KnownIds()  # each configuration named is looked up once
    for index, operation in enumerate(operations):
        try:
            planned.append(await _plan(operation, index, known))
        except ProblemError as exc:
            failed = BulkOutcome(status=BulkStatus.FAILED, id=_named_id(operation), error=exc)
            planned.append(failed)
    return await run_bulk(
        _collection(), planned, label=CASE, before_write=_before_deleting, batch_size=batch_size
    )
