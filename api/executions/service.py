"""Executions: the execution of one test case in a run, its status and its step results.

Every status change goes through `api.executions.tracking` (open a change on the run, write the
execution guarded by the status it was read in, close the change with the counters' delta), so
the run's counters and status stay exact under concurrent reporters. Step results are one atomic
update of the execution.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from beanie import PydanticObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from api.errors import Conflict, InvalidInput, NotFound, ProblemFieldError
from api.executions import tracking
from api.executions.params import ExecutionListParams
from api.executions.schemas import ErrorInput, ExecutionCreate, ExecutionUpdate, StepResults
from api.executions.signature import signature
from api.executions.status import TERMINAL, allowed, refusal
from api.limits import MAX_LIST_BYTES, list_size, list_too_large
from api.query import RawPage, find_page
from api.query.crud import ensure_exists, get_or_404
from documents.base import utcnow
from documents.executions import (
    MAX_TRANSITIONS,
    CaseSnapshot,
    ExecutionError,
    ExecutionStatus,
    ExecutionTransition,
    RunFacts,
    StepStatus,
    TestExecution,
    TestRun,
    TestStepExecution,
)
from documents.test_defs import TestCase

EXECUTION = "execution"
_ATTEMPT_TRIES = 3


def executions() -> AsyncCollection[dict[str, Any]]:
    collection: AsyncCollection[dict[str, Any]] = TestExecution.get_pymongo_collection()
    return collection


# -- building executions ----------------------------------------------------------------------


def snapshot(case: TestCase) -> CaseSnapshot:
    return CaseSnapshot(
        version=case.version,
        name=case.name,
        automation_key=case.automation_key,
        steps=list(case.steps),
        tags=list(case.tags),
    )


def new_execution(
    case: TestCase, *, run_id: PydanticObjectId, run: RunFacts | None, attempt: int, seq: int
) -> TestExecution:
    """A queued execution of `case` in the run `run_id` (whose facts are `run`, or set when it
    is written), with one pending step execution per step; being queued is its first
    transition, at `seq`."""
    now = utcnow()
    return TestExecution(
        id=PydanticObjectId(),
        created_at=now,
        updated_at=now,
        run_id=run_id,
        run=run,
        test_case_id=case.id,
        test_case=snapshot(case),
        attempt=attempt,
        steps=[
            TestStepExecution(step_id=step.id, order=step.order, action=step.action)
            for step in case.steps
        ],
        run_seq=seq,
        transitions=[ExecutionTransition(status=ExecutionStatus.QUEUED, seq=seq, at=now)],
    )


def transition(fields: Mapping[str, Any], seq: int) -> dict[str, Any]:
    """The transition record of a status change writing `fields` (its `status`, `updated_at`,
    and `duration_ms` once final) as the run's change `seq`."""
    return ExecutionTransition(
        status=fields["status"],
        seq=seq,
        at=fields["updated_at"],
        duration_ms=fields.get("duration_ms"),
    ).model_dump()


def status_update(fields: Mapping[str, Any], seq: int) -> dict[str, Any]:
    """The one update of an execution that writes a status change (`fields`, from
    `status_fields`) as the run's change `seq`: the fields, `run_seq`, and the transition
    appended to `transitions` (at most `MAX_TRANSITIONS` are kept, which the status machine
    never exceeds)."""
    return {
        "$set": {**fields, "run_seq": seq},
        "$push": {"transitions": {"$each": [transition(fields, seq)], "$slice": -MAX_TRANSITIONS}},
    }


def stored(execution: TestExecution) -> dict[str, Any]:
    document: dict[str, Any] = execution.model_dump(by_alias=True, exclude={"revision_id"})
    return document


def _execution(raw: dict[str, Any]) -> TestExecution:
    execution: TestExecution = TestExecution.model_validate(raw)
    return execution


def error_model(error: ErrorInput | None) -> ExecutionError | None:
    """The stored error: the client's, with a signature computed when it sent none."""
    if error is None:
        return None
    return ExecutionError(
        message=error.message,
        type=error.type,
        stack=error.stack,
        signature=error.signature or signature(error.message, error.type),
    )


def error_of(error: ErrorInput | None) -> dict[str, Any] | None:
    model = error_model(error)
    return None if model is None else model.model_dump()


def duration_ms(
    started_at: datetime | None, finished_at: datetime | None, given: int | None
) -> int | None:
    if given is not None:
        return given
    if started_at is None or finished_at is None:
        return None
    return max(0, int((finished_at - started_at).total_seconds() * 1000))


def status_fields(
    execution: TestExecution,
    new: ExecutionStatus,
    *,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    duration: int | None = None,
    now: datetime,
) -> dict[str, Any]:
    """The fields a change to `new` stamps, each the client's when it sent one: `started_at` on
    starting; `finished_at` and `duration_ms` on finishing (an execution reported finished
    without a start started `duration_ms` before it finished; a cancelled one never started)."""
    fields: dict[str, Any] = {"status": new.value, "updated_at": now}
    start = started_at or execution.started_at
    if new is ExecutionStatus.RUNNING and start is None:
        start = now
    if new in TERMINAL:
        finish = finished_at or now
        if start is None and new is not ExecutionStatus.CANCELLED:
            start = finish - timedelta(milliseconds=duration or 0)
        fields["finished_at"] = finish
        fields["duration_ms"] = duration_ms(start, finish, duration)
    if start is not None:
        fields["started_at"] = start
    return fields


def moved(old: ExecutionStatus | None, new: ExecutionStatus | None) -> tracking.Delta:
    """The counters' change of one execution going from `old` to `new` (None: not there)."""
    delta: tracking.Delta = Counter()
    if old is not None:
        delta[old.value] -= 1
        delta["total"] -= 1
    if new is not None:
        delta[new.value] += 1
        delta["total"] += 1
    return delta


# -- reads ----------------------------------------------------------------------------------------


async def get_execution(*, id: PydanticObjectId) -> TestExecution:
    return await get_or_404(TestExecution, id, label=EXECUTION)


async def list_executions(*, params: ExecutionListParams) -> RawPage:
    return await find_page(TestExecution, params)


# -- create ---------------------------------------------------------------------------------------


async def _case(id: PydanticObjectId, *, location: str) -> TestCase:
    case = await TestCase.get(id)
    if case is None:
        raise InvalidInput.at(location, f"test case {id} does not exist")
    return case


async def _next_attempt(run_id: PydanticObjectId, case_id: PydanticObjectId) -> int:
    last = await executions().find_one(
        {"run_id": run_id, "test_case_id": case_id}, {"attempt": 1}, sort=[("attempt", -1)]
    )
    return 1 if last is None else int(last["attempt"]) + 1


async def create_execution(*, data: ExecutionCreate) -> TestExecution:
    """A queued execution in a run that is not finished (409), of an existing case.

    Without `attempt`, the next one for the case in the run; an attempt that exists is a 409.
    """
    await ensure_exists(TestRun, data.run_id, location="body.run_id", label=tracking.RUN)
    case = await _case(data.test_case_id, location="body.test_case_id")
    assert case.id is not None
    for _ in range(_ATTEMPT_TRIES):
        attempt = data.attempt or await _next_attempt(data.run_id, case.id)
        change = await tracking.open_change(data.run_id)
        execution = new_execution(
            case, run_id=data.run_id, run=change.run, attempt=attempt, seq=change.seq
        )
        try:
            await executions().insert_one(stored(execution))
        except DuplicateKeyError:
            await tracking.close_change(change)
            if data.attempt is not None:
                raise Conflict(
                    f"test case {case.id} already has attempt {attempt} in run {data.run_id}"
                ) from None
            continue  # another attempt was added meanwhile: take the next number
        except PyMongoError:
            await close_unknown(change)
            raise
        await tracking.close_change(change, delta=moved(None, ExecutionStatus.QUEUED))
        return execution
    raise Conflict(f"attempts of test case {case.id} kept being added to run {data.run_id}: retry")


async def close_unknown(change: tracking.Change) -> None:
    """Close a change whose write may or may not have happened: recount instead of guessing."""
    with suppress(PyMongoError):  # the database is gone: the change is settled when abandoned
        await tracking.close_change(change, recount=True)


# -- status changes -------------------------------------------------------------------------------


def error_allowed(status: ExecutionStatus, error: ErrorInput | None, *, at: str) -> None:
    """422 at `at` for an error reported with a status that has none."""
    if error is not None and status in {ExecutionStatus.PASSED, ExecutionStatus.RUNNING}:
        raise InvalidInput.at(at, f"a {status.value} execution has no error")


def unchanged_terminal(
    execution: TestExecution, *, worker: str | None, error: ErrorInput | None
) -> bool:
    """A repeat of the change that made the execution what it is (a runner's retry)."""
    if worker is not None and worker != execution.worker:
        return False
    if error is not None:
        stored_error = execution.error
        if stored_error is None or stored_error.message != error.message:
            return False
    return True


async def update_execution(*, id: PydanticObjectId, data: ExecutionUpdate) -> TestExecution:
    """Follow the status machine (409 naming both states), stamping times, counting the change.

    The same status again is not a change: for a running execution it updates `worker`; for a
    finished one, a repeat of what it already says answers it as it is (a retried request),
    anything else is a 409.
    """
    error_allowed(data.status, data.error, at="body.error")
    execution = await get_execution(id=id)
    now = utcnow()
    extra: dict[str, Any] = {}
    if data.worker is not None:
        extra["worker"] = data.worker
    if data.error is not None:
        extra["error"] = error_of(data.error)
    if data.status == execution.status:
        if execution.status in TERMINAL:
            if unchanged_terminal(execution, worker=data.worker, error=data.error):
                return execution
            raise Conflict(refusal(execution.status, data.status))
        return await _set_same_status(execution, extra, now=now)
    if not allowed(execution.status, data.status):
        raise Conflict(refusal(execution.status, data.status))
    fields = status_fields(
        execution,
        data.status,
        started_at=data.started_at,
        finished_at=data.finished_at,
        duration=data.duration_ms,
        now=now,
    )
    return await change_status(execution, data.status, {**fields, **extra})


async def _set_same_status(
    execution: TestExecution, fields: Mapping[str, Any], *, now: datetime
) -> TestExecution:
    if not fields:
        return execution
    raw = await executions().find_one_and_update(
        {"_id": execution.id, "status": execution.status.value},
        {"$set": {**fields, "updated_at": now}},
        return_document=ReturnDocument.AFTER,
    )
    if raw is None:
        raise await _why_not(execution.id, execution.status)
    return _execution(raw)


async def _why_not(id: Any, status: ExecutionStatus) -> NotFound | Conflict:
    current = await executions().find_one({"_id": id}, {"status": 1})
    if current is None:
        return NotFound(f"{EXECUTION} {id} does not exist")
    now = ExecutionStatus(current["status"])
    return Conflict(
        f"{EXECUTION} {id} became {now.value} while this request was checked "
        f"(it was {status.value}): read it and retry"
    )


async def change_status(
    execution: TestExecution,
    new: ExecutionStatus,
    fields: Mapping[str, Any],
    *,
    array_filters: Sequence[Mapping[str, Any]] | None = None,
) -> TestExecution:
    """Write `fields` (which set `status` to `new`) while the execution is still in the status it
    was read in, as one change of its run (its counters, its status)."""
    change = await tracking.open_change(execution.run_id)
    try:
        raw = await executions().find_one_and_update(
            {"_id": execution.id, "status": execution.status.value},
            status_update(fields, change.seq),
            array_filters=list(array_filters) if array_filters else None,
            return_document=ReturnDocument.AFTER,
        )
    except PyMongoError:
        await close_unknown(change)
        raise
    if raw is None:
        await tracking.close_change(change)
        raise await _why_not(execution.id, execution.status)
    updated = _execution(raw)
    started = updated.started_at or updated.finished_at or utcnow()
    await tracking.close_change(change, delta=moved(execution.status, new), started_at=started)
    return updated


# -- step results ---------------------------------------------------------------------------------


def _step_result(step: TestStepExecution, result: Any, *, now: datetime) -> dict[str, Any]:
    finished = result.finished_at
    if finished is None and result.status not in {StepStatus.PENDING, StepStatus.RUNNING}:
        finished = now
    merged = TestStepExecution(
        step_id=step.step_id,
        order=step.order,
        action=step.action,
        status=result.status,
        started_at=result.started_at,
        finished_at=finished,
        duration_ms=duration_ms(result.started_at, finished, result.duration_ms),
        error=error_model(result.error),
        actual_value=result.actual_value,
        screenshot_ids=list(result.screenshot_ids),
    )
    return merged.model_dump()


def _reported_steps(
    execution: TestExecution, results: Iterable[Any], *, at: str
) -> list[tuple[int, TestStepExecution, Any]]:
    """Each result with the step it reports (422 for an unknown step, naming it)."""
    by_id = {step.step_id: step for step in execution.steps}
    found: list[tuple[int, TestStepExecution, Any]] = []
    unknown: list[ProblemFieldError] = []
    for index, result in enumerate(results):
        step = by_id.get(result.step_id)
        if step is None:
            unknown.append(
                ProblemFieldError(
                    location=f"{at}.{index}.step_id",
                    message=f"execution {execution.id} has no step {result.step_id!r}",
                )
            )
            continue
        found.append((index, step, result))
    if unknown:
        raise InvalidInput.listing(unknown)
    return found


def _fit(execution: TestExecution, steps: Sequence[Mapping[str, Any]], *, at: str) -> None:
    """422 at `at` when the execution's step results, as they would be stored, take more than
    `MAX_LIST_BYTES` (each report replaces a step's result, so this is their total)."""
    size = list_size("steps", steps)
    if size > MAX_LIST_BYTES:
        what = f"with these results, the step results of {EXECUTION} {execution.id}"
        raise InvalidInput.at(at, list_too_large(what, size))


def _with_results(
    execution: TestExecution, results: Iterable[Any], *, at: str, now: datetime
) -> tuple[list[dict[str, Any]], list[tuple[int, str, dict[str, Any]]]]:
    """The execution's steps as stored with each reported result in place (422 for an unknown
    step, naming it), and each result as (its index in `results`, its step id, as stored)."""
    steps = [step.model_dump() for step in execution.steps]
    position = {step.step_id: index for index, step in enumerate(execution.steps)}
    applied: list[tuple[int, str, dict[str, Any]]] = []
    for index, step, result in _reported_steps(execution, results, at=at):
        steps[position[step.step_id]] = stored = _step_result(step, result, now=now)
        applied.append((index, step.step_id, stored))
    return steps, applied


def step_updates(
    execution: TestExecution, results: Iterable[Any], *, at: str, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`$set` paths and array filters replacing each reported step's result (422 for an
    unknown step, naming it, or for results over their byte budget, before anything is
    written)."""
    steps, applied = _with_results(execution, results, at=at, now=now)
    if applied:
        _fit(execution, steps, at=at)
    fields = {f"steps.$[s{index}]": stored for index, _, stored in applied}
    filters = [{f"s{index}.step_id": step_id} for index, step_id, _ in applied]
    return fields, filters


def with_step_results(
    execution: TestExecution, results: Iterable[Any], *, at: str, now: datetime
) -> list[dict[str, Any]]:
    """The execution's steps as stored, each reported one with its result (for a new
    execution; 422 for an unknown step, naming it, or for results over their byte budget)."""
    steps, _ = _with_results(execution, results, at=at, now=now)
    _fit(execution, steps, at=at)
    return steps


async def report_steps(*, id: PydanticObjectId, data: StepResults) -> TestExecution:
    """Write every step result in one atomic update of the execution.

    A queued execution starts running with its first step result (a change of its run); a
    finished one takes no more (409).
    """
    execution = await get_execution(id=id)
    if execution.status in TERMINAL:
        raise Conflict(
            f"{EXECUTION} {id} is {execution.status.value}, which is final: its step results "
            "can no longer change"
        )
    now = utcnow()
    fields, filters = step_updates(execution, data.steps, at="body.steps", now=now)
    if execution.status is ExecutionStatus.QUEUED:
        started = status_fields(execution, ExecutionStatus.RUNNING, now=now)
        return await change_status(
            execution, ExecutionStatus.RUNNING, {**fields, **started}, array_filters=filters
        )
    raw = await executions().find_one_and_update(
        {"_id": execution.id, "status": execution.status.value},
        {"$set": {**fields, "updated_at": now}},
        array_filters=filters,
        return_document=ReturnDocument.AFTER,
    )
    if raw is None:
        raise await _why_not(execution.id, execution.status)
    return _execution(raw)
