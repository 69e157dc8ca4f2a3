"""`POST /executions/bulk`: many results at once, idempotent per run + case + attempt.

A result names a run, a test case (by id or by automation key) and an attempt. Where that
execution exists (queued when the run was created, or reported before), the result updates it,
following the status machine as a report (`allowed(..., reported=True)`: a queued execution may
go straight to a final status); where it does not, the result creates it. A result that repeats
what the execution already says is `unchanged` and writes nothing, so a runner that retries a
request after a timeout creates nothing twice and counts nothing twice, also once the first
request has finished the run.

The results of one run are one change of `api.executions.tracking`: read the executions they
name (one bounded query per batch of cases) and plan each result; then, if anything is to be
written, open the change, write in batches of unordered `bulk_write`s stamping `run_seq = seq`,
and close the change with the counters' delta of what was written. Updates are guarded by the
status they were read in. A bulk write reports only how many updates matched: when fewer matched
than were sent, the executions still stamped with this change's `seq` say which applied; if an
applied update may since have been restamped by a later change, the counters are recounted
rather than guessed (and the others fail: 409, they may or may not have applied).

A result can lose a race to a concurrent report of the same attempt (typically a retry racing
its original): its insert meets the winner's unique `attempt_key`, or its update finds the
status changed. It is then planned again against the execution now there, as if that had been
read in the first place: `unchanged` when it already holds this result, else an update through
the status machine written in the same change (so the counters stay exact), or the conflict
that says why it cannot apply; losing a second time is a 409 (retry). Likewise, when the run
has finished meanwhile and refuses the change (409 for the results that would write), a result
that the finishing report already wrote is `unchanged`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from beanie import PydanticObjectId
from pymongo import DeleteOne, InsertOne, UpdateOne
from pymongo.errors import BulkWriteError, PyMongoError

from api.errors import Conflict, InvalidInput, NotFound, ProblemError
from api.executions import service, tracking
from api.executions.runs import cases_by_id
from api.executions.schemas import ResultInput
from api.executions.status import TERMINAL, allowed, refusal
from api.query.bulk import (
    BulkOutcome,
    BulkResponse,
    BulkStatus,
    fail_unwritten,
    respond,
    write_error,
)
from documents.base import utcnow
from documents.executions import ExecutionStatus, TestExecution
from documents.test_defs import TestCase

logger = logging.getLogger(__name__)

RESULTS = "body.results"

type Attempt = tuple[PydanticObjectId, int]
"""A test case and an attempt: what a result names within its run."""


class _DatabaseFailed(Exception):
    """The database failed while a run's results were written: later runs are not tried."""


@dataclass(slots=True)
class _Item:
    """One result: its outcome, and what writing it takes and changes."""

    index: int
    result: ResultInput
    at: str
    outcome: BulkOutcome = field(default_factory=lambda: BulkOutcome(status=BulkStatus.FAILED))
    case_id: PydanticObjectId | None = None
    document: dict[str, Any] | None = None
    """A new execution to insert (its `run_seq` set once the change is open)."""
    update: dict[str, Any] | None = None
    """The `$set` of an update of an existing execution (idem)."""
    array_filters: list[Mapping[str, Any]] = field(default_factory=list)
    before: ExecutionStatus | None = None
    """The execution's status before (None: it is new)."""
    after: ExecutionStatus | None = None
    start: datetime | None = None
    """When the execution started (or finished, if it never started), as written."""

    @property
    def ok(self) -> bool:
        return self.outcome.error is None

    @property
    def writes(self) -> bool:
        return self.ok and (self.document is not None or self.update is not None)

    @property
    def attempt(self) -> Attempt | None:
        return None if self.case_id is None else (self.case_id, self.result.attempt)

    def fail(self, error: ProblemError) -> None:
        self.outcome.op = None
        self.outcome.error = error


async def report_results(
    *, results: Sequence[ResultInput], at: str = RESULTS, batch_size: int
) -> BulkResponse:
    """Create or update one execution per result; every result gets an outcome at its index.

    `at` is where the results are in the request (for errors). `batch_size` is the deployment's
    `Capabilities.write_batch`: writes per command, and ids per `$in`. The request's size is
    bounded by its schema; a caller passing more (an import) still gets bounded commands.
    """
    items = [_Item(index, result, f"{at}.{index}") for index, result in enumerate(results)]
    for item in items:
        _check(item)
    cases = await _resolve_keys([item for item in items if item.ok], batch_size=batch_size)
    _refuse_repeats(items)
    by_run: dict[PydanticObjectId, list[_Item]] = {}
    for item in items:
        if item.ok:
            by_run.setdefault(item.result.run_id, []).append(item)
    runs = list(by_run.items())
    for position, (run_id, run_items) in enumerate(runs):
        try:
            await _report_run(run_id, run_items, cases=cases, batch_size=batch_size)
        except _DatabaseFailed:
            for _, later in runs[position + 1 :]:
                fail_unwritten([item.outcome for item in later], maybe_written=False)
            break
    return respond([item.outcome for item in items])


# -- checks before any run is touched -------------------------------------------------------------


def _check(item: _Item) -> None:
    result = item.result
    if (result.test_case_id is None) == (result.automation_key is None):
        item.fail(
            InvalidInput.at(
                item.at, "name the test case by exactly one of test_case_id and automation_key"
            )
        )
        return
    try:
        service.error_allowed(result.status, result.error, at=f"{item.at}.error")
    except InvalidInput as exc:
        item.fail(exc)
        return
    item.case_id = result.test_case_id


async def _resolve_keys(
    items: Sequence[_Item], *, batch_size: int
) -> dict[PydanticObjectId, TestCase]:
    """Find the cases named by automation key (bounded batches); 422 for an unknown key.

    Returns the cases found, by id (snapshots of new executions need them).
    """
    keys = list(dict.fromkeys(item.result.automation_key for item in items))
    wanted = [key for key in keys if key is not None]
    by_key: dict[str, TestCase] = {}
    for start in range(0, len(wanted), batch_size):
        batch = wanted[start : start + batch_size]
        async for case in TestCase.find({"automation_key": {"$in": batch}}):
            if case.automation_key is not None:
                by_key[case.automation_key] = case
    for item in items:
        key = item.result.automation_key
        if key is None:
            continue
        case = by_key.get(key)
        if case is None:
            item.fail(
                InvalidInput.at(
                    f"{item.at}.automation_key", f"no test case has the automation key {key!r}"
                )
            )
        else:
            item.case_id = case.id
    return {case.id: case for case in by_key.values() if case.id is not None}


def _refuse_repeats(items: Sequence[_Item]) -> None:
    """Fail every result naming a run + case + attempt an earlier result names (its outcome
    would be ambiguous); the earlier one is unaffected."""
    first: dict[tuple[PydanticObjectId, PydanticObjectId, int], int] = {}
    for item in items:
        if not item.ok or item.case_id is None:
            continue
        named = (item.result.run_id, item.case_id, item.result.attempt)
        earlier = first.setdefault(named, item.index)
        if earlier != item.index:
            item.fail(
                InvalidInput.at(
                    item.at,
                    f"attempt {item.result.attempt} of test case {item.case_id} in run "
                    f"{item.result.run_id} is already reported by results.{earlier}: one request "
                    "may report each attempt once",
                )
            )


# -- one run --------------------------------------------------------------------------------------


async def _report_run(
    run_id: PydanticObjectId,
    items: Sequence[_Item],
    *,
    cases: dict[PydanticObjectId, TestCase],
    batch_size: int,
) -> None:
    """Plan, then write the run's results as one change of the run."""
    try:
        existing = await _existing(run_id, items, batch_size=batch_size)
        missing = [
            item.case_id
            for item in items
            if item.case_id is not None and item.case_id not in cases
            if item.attempt not in existing
        ]
        cases.update(await cases_by_id(list(dict.fromkeys(missing)), batch_size=batch_size))
    except PyMongoError as exc:
        logger.warning("bulk report of run %s: the database failed", run_id, exc_info=True)
        fail_unwritten([item.outcome for item in items], maybe_written=False)
        raise _DatabaseFailed from exc
    now = utcnow()
    for item in items:
        try:
            _plan(item, existing.get(item.attempt) if item.attempt else None, cases, now=now)
        except ProblemError as exc:
            item.fail(exc)
    writing = [item for item in items if item.writes]
    if not writing:
        return  # nothing to write (a retry): the run is left alone, even when it has finished
    try:
        change = await tracking.open_change(run_id)
    except NotFound:
        for item in writing:
            item.fail(InvalidInput.at(f"{item.at}.run_id", f"test run {run_id} does not exist"))
        return
    except Conflict as exc:
        await _refused(run_id, writing, exc, batch_size=batch_size)
        return
    except PyMongoError as exc:
        fail_unwritten([item.outcome for item in writing], maybe_written=False)
        raise _DatabaseFailed from exc
    await _write_change(change, writing, batch_size=batch_size)


async def _refused(
    run_id: PydanticObjectId, writing: Sequence[_Item], refusal: Conflict, *, batch_size: int
) -> None:
    """The run takes no more changes (it finished): each result that would write fails with
    why, unless a concurrent report wrote the same result meanwhile (a retry racing its
    original, which finished the run): that one is `unchanged`."""
    try:
        existing = await _existing(run_id, writing, batch_size=batch_size)
    except PyMongoError:
        existing = {}  # nothing was written: the refusal stands
    now = utcnow()
    for item in writing:
        execution = existing.get(item.attempt) if item.attempt else None
        if execution is not None:
            _forget_plan(item)
            try:
                _plan(item, execution, {}, now=now)
            except ProblemError:
                pass
            else:
                if not item.writes:
                    continue
        item.fail(refusal)


async def _existing(
    run_id: PydanticObjectId, items: Sequence[_Item], *, batch_size: int
) -> dict[Attempt, TestExecution]:
    """The run's executions of the items' cases, by case and attempt (a query per batch)."""
    case_ids = list(dict.fromkeys(item.case_id for item in items if item.case_id is not None))
    found: dict[Attempt, TestExecution] = {}
    for start in range(0, len(case_ids), batch_size):
        batch = case_ids[start : start + batch_size]
        async for raw in service.executions().find(
            {"run_id": run_id, "test_case_id": {"$in": batch}}
        ):
            execution = TestExecution.model_validate(raw)
            found[(execution.test_case_id, execution.attempt)] = execution
    return found


def _plan(
    item: _Item,
    execution: TestExecution | None,
    cases: dict[PydanticObjectId, TestCase],
    *,
    now: datetime,
) -> None:
    """What the result writes: a new execution, an update of its execution, or nothing."""
    result = item.result
    new = result.status
    extra: dict[str, Any] = {}
    if result.worker is not None:
        extra["worker"] = result.worker
    if result.error is not None:
        extra["error"] = service.error_of(result.error)
    steps_at = f"{item.at}.steps"
    if execution is None:
        case = cases.get(item.case_id) if item.case_id is not None else None
        if case is None:
            raise InvalidInput.at(
                f"{item.at}.test_case_id", f"test case {item.case_id} does not exist"
            )
        # Its run's facts and version are the change's, set when it is written (`_op`).
        execution = service.new_execution(
            case, run_id=result.run_id, run=None, attempt=result.attempt, seq=1
        )
        fields = _status_fields(execution, new, result, now=now)
        document = {**service.stored(execution), **fields, **extra}
        if result.steps:
            document["steps"] = service.with_step_results(
                execution, result.steps, at=steps_at, now=now
            )
        item.outcome.status = BulkStatus.CREATED
        item.outcome.id = execution.id
        item.document = document
        item.after = new
        item.start = fields.get("started_at") or fields.get("finished_at")
        return
    item.outcome.id = execution.id
    current = execution.status
    if current == new and current in TERMINAL:
        if service.unchanged_terminal(execution, worker=result.worker, error=result.error):
            item.outcome.status = BulkStatus.UNCHANGED
            return
        raise Conflict(
            f"execution {execution.id} is already {current.value}, which is final, with another "
            "worker or error: it cannot change"
        )
    if current == new:  # running again: its worker or step results
        if not result.steps and result.worker in (None, execution.worker):
            item.outcome.status = BulkStatus.UNCHANGED
            return
        fields = {"updated_at": now}
    elif allowed(current, new, reported=True):
        fields = _status_fields(execution, new, result, now=now)
    else:
        raise Conflict(f"execution {execution.id}: {refusal(current, new)}")
    step_fields, filters = service.step_updates(execution, result.steps, at=steps_at, now=now)
    item.outcome.status = BulkStatus.UPDATED
    item.update = {**fields, **extra, **step_fields}
    item.array_filters = list(filters)
    item.before = current
    item.after = new
    item.start = fields.get("started_at") or fields.get("finished_at")


def _status_fields(
    execution: TestExecution, new: ExecutionStatus, result: ResultInput, *, now: datetime
) -> dict[str, Any]:
    return service.status_fields(
        execution,
        new,
        started_at=result.started_at,
        finished_at=result.finished_at,
        duration=result.duration_ms,
        now=now,
    )


def _op(item: _Item, change: tracking.Change) -> InsertOne[Any] | UpdateOne:
    seq = change.seq
    if item.document is not None:
        # Created in its reported status: that is its one transition.
        return InsertOne(
            {
                **item.document,
                "run": change.run.model_dump(),
                "run_seq": seq,
                "transitions": [service.transition(item.document, seq)],
            }
        )
    assert item.before is not None
    assert item.update is not None
    changes_status = item.before != item.after
    return UpdateOne(
        {"_id": item.outcome.id, "status": item.before.value},
        service.status_update(item.update, seq)
        if changes_status
        else {"$set": {**item.update, "run_seq": seq}},
        array_filters=item.array_filters or None,
    )


async def _write_change(
    change: tracking.Change, writing: Sequence[_Item], *, batch_size: int
) -> None:
    """Write the run's results in batches, then close the change with what was written."""
    for item in writing:
        item.outcome.op = _op(item, change)
    recount = False
    for start in range(0, len(writing), batch_size):
        batch = writing[start : start + batch_size]
        try:
            recount = await _write_batch(change, batch) or recount
        except PyMongoError as exc:
            logger.warning(
                "bulk report of run %s stopped at batch %d of %d: the database failed",
                change.run_id,
                start // batch_size + 1,
                -(-len(writing) // batch_size),
                exc_info=True,
            )
            await service.close_unknown(change)
            fail_unwritten([item.outcome for item in batch], maybe_written=True)
            rest = writing[start + batch_size :]
            fail_unwritten([item.outcome for item in rest], maybe_written=False)
            raise _DatabaseFailed from exc
    written = [item for item in writing if item.writes]  # not those found unchanged meanwhile
    delta: tracking.Delta = Counter()
    for item in written:
        delta.update(service.moved(item.before, item.after))
    starts = [item.start for item in written if item.start is not None]
    try:
        await tracking.close_change(
            change, delta=delta, recount=recount, started_at=min(starts, default=None)
        )
    except PyMongoError as exc:
        # Written, not yet counted: the change is settled (recounted) once it is abandoned.
        logger.warning("bulk report of run %s: could not close its change", change.run_id)
        await service.close_unknown(change)
        raise _DatabaseFailed from exc


async def _write_batch(change: tracking.Change, batch: Sequence[_Item]) -> bool:
    """Write the batch. A result that lost a race to a concurrent report of the same attempt
    (its insert met the winner's key, or its update found the status changed) is planned again
    against the execution now there, and written if it still changes it; a second loss is a
    409 (retry).

    Returns whether the counters must be recounted (which updates applied is not known).
    """
    recount, raced = await _send(change, batch)
    if not raced:
        return recount
    again = await _replan(raced)
    for item in again:
        item.outcome.op = _op(item, change)
    if again:
        recount_again, lost = await _send(change, again)
        recount = recount or recount_again
        for item in lost:
            item.fail(_beaten(item))
    return recount


async def _replan(raced: Sequence[_Item]) -> list[_Item]:
    """Plan each raced result against the execution now there (one read): `unchanged` when it
    already holds the result; returns those that still write, updates through the status
    machine as any other (a refused one fails with why)."""
    first = raced[0].result
    found = {
        (execution.test_case_id, execution.attempt): execution
        async for execution in _executions(
            {
                "run_id": first.run_id,
                "test_case_id": {"$in": list({item.case_id for item in raced})},
                "attempt": {"$in": list({item.result.attempt for item in raced})},
            }
        )
    }
    now = utcnow()
    writing: list[_Item] = []
    for item in raced:
        winner = found.get(item.attempt) if item.attempt else None
        if winner is None:  # deleted again since (or never visible): say what was met
            item.fail(_beaten(item))
            continue
        _forget_plan(item)
        try:
            _plan(item, winner, {}, now=now)
        except ProblemError as exc:
            item.fail(exc)
            continue
        if item.writes:
            writing.append(item)
    return writing


def _forget_plan(item: _Item) -> None:
    """Clear what the item was to write, before planning it again."""
    item.outcome.op = None
    item.document = None
    item.update = None
    item.array_filters = []
    item.before = item.after = None
    item.start = None


async def _executions(query: Mapping[str, Any]) -> AsyncIterator[TestExecution]:
    async for raw in service.executions().find(query):
        yield TestExecution.model_validate(raw)


async def _send(change: tracking.Change, batch: Sequence[_Item]) -> tuple[bool, list[_Item]]:
    """One unordered bulk write; fails the results that were not applied, except those that lost
    a race (an insert that met a duplicate key, an update whose execution changed meanwhile).

    Returns whether the counters must be recounted (which updates applied is not known), and
    the results that lost a race.
    """
    raced: list[_Item] = []
    try:
        written = await service.executions().bulk_write(
            [_sent(item) for item in batch], ordered=False
        )
        matched = written.matched_count
    except BulkWriteError as exc:
        matched = int(exc.details.get("nMatched", 0))
        for error in exc.details.get("writeErrors", []):
            item = batch[error["index"]]
            if error.get("code") == 11000 and isinstance(item.outcome.op, InsertOne):
                raced.append(item)
            else:
                item.fail(write_error(error))
    updates = [item for item in batch if item.ok and isinstance(item.outcome.op, UpdateOne)]
    if matched >= len(updates):
        return False, raced
    stamped = {
        raw["_id"]
        async for raw in service.executions().find(
            {"run_id": change.run_id, "run_seq": change.seq}, {"_id": 1}
        )
    }
    lost = [item for item in updates if item.outcome.id not in stamped]
    unknown = len(updates) - len(lost) < matched  # an applied update was restamped since
    if not unknown:
        return False, [*raced, *lost]
    for item in lost:
        item.fail(_changed_meanwhile(item, unknown=True))
        item.outcome.maybe_written = True
    return True, raced


def _sent(item: _Item) -> InsertOne[Any] | UpdateOne:
    assert item.outcome.op is not None
    assert not isinstance(item.outcome.op, DeleteOne)
    return item.outcome.op


def _beaten(item: _Item) -> Conflict:
    """Why a result that lost a race to a concurrent report was not applied."""
    if isinstance(item.outcome.op, InsertOne):
        return _already_there(item)
    return _changed_meanwhile(item, unknown=False)


def _already_there(item: _Item) -> Conflict:
    result = item.result
    return Conflict(
        f"attempt {result.attempt} of test case {item.case_id} in run {result.run_id} was "
        "reported by another request while this one was written, and could not be read "
        "again: retry to see whether this result is the same"
    )


def _changed_meanwhile(item: _Item, *, unknown: bool) -> Conflict:
    detail = f"execution {item.outcome.id} was changed by another report while this one was written"
    if unknown:
        return Conflict(f"{detail}; this result may or may not have been applied: read it")
    return Conflict(f"{detail} (it was {item.before}): read it and retry")
