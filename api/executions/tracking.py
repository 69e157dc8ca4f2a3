"""A run's counters and status, exact under many concurrent reporters, without transactions.

Every change to a run's executions (a status change, a new execution, a cancel) is three
single-document atomic writes:

1. `open_change`: the run records the change as pending (a token, and `seq`, the run's version
   after this write). Refused (409) once the run is finished.
2. the caller writes the executions, stamping `run_seq = seq` on each one it changes.
3. `close_change`: the run drops the token and applies the change to its counters (`$inc` of
   the old and the new status together), in one update guarded by the token being there.

So a run's stored counters are exact whenever it has nothing pending, and a change a client saw
answered is in them. Between steps 2 and 3 they lag behind the executions, so a run is served as
`observed(run)`: as stored when nothing is pending (no extra round trip), else with counters
counted from its executions at that moment (one aggregation, not written back). What a client
observes is thus always exact, also while 50 reporters write.

`settle` recounts from the executions, only when nothing is pending (its write is guarded by the
run's version, which every open and close moves), and finishes the run when none of its
executions is queued or running: once, as `passed` or `failed` by the latest attempt of each
case, or `cancelled`. The closer of the last change settles; so do `cancel` and
`POST /executions/runs/{id}/recount`.

A change left open by a process that died between 1 and 3 blocks settling until it is older than
`ABANDONED_AFTER`; `settle` then drops it and counts what the executions say. A writer that was
only slow and closes later finds its token gone and asks for a recount instead of counting twice.

Live status (`api/executions/events.py`) reads the same journal: every execution stamped with a
`run_seq` at or below `watermark(run)` is final, so a stream resumes from an event id without
gaps.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from beanie import PydanticObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from api.errors import Conflict, NotFound
from api.executions.status import FAILING, RUN_FINISHED
from documents.base import utcnow
from documents.executions import (
    RUN_FACTS,
    ExecutionStatus,
    RunCounters,
    RunFacts,
    RunStatus,
    TestExecution,
    TestRun,
)

logger = logging.getLogger(__name__)

RUN = "test run"
ABANDONED_AFTER = timedelta(minutes=15)
"""A pending change older than this was left by a process that stopped: settling ignores it."""
_SETTLE_ATTEMPTS = 5

type Delta = Counter[str]
"""Per counter name (an execution status, or `total`), how much a change adds to it."""


@dataclass(frozen=True, slots=True)
class Change:
    """An open change to a run's executions: stamp `seq` on every execution it writes."""

    run_id: PydanticObjectId
    token: str
    seq: int
    run: RunFacts
    """The run's facts, copied into every execution the change creates."""


def _runs() -> AsyncCollection[dict[str, Any]]:
    collection: AsyncCollection[dict[str, Any]] = TestRun.get_pymongo_collection()
    return collection


def _run(raw: dict[str, Any]) -> TestRun:
    run: TestRun = TestRun.model_validate(raw)
    return run


async def open_change(run_id: PydanticObjectId, *, cancel: bool = False) -> Change:
    """Step 1: record a pending change on the run (404 unknown, 409 finished or cancelling).

    `cancel` marks the run as cancelled-to-be in the same write (a cancel may repeat).
    """
    token = secrets.token_hex(12)
    condition: dict[str, Any] = {"_id": run_id, "status": {"$nin": sorted(RUN_FINISHED)}}
    if not cancel:
        condition["cancel_requested"] = {"$ne": True}
    stamp: dict[str, Any] = {"version": {"$add": ["$version", 1]}}
    if cancel:
        stamp["cancel_requested"] = True
    pipeline = [
        {"$set": stamp},
        {
            "$set": {
                "pending": {
                    "$concatArrays": [
                        {"$ifNull": ["$pending", []]},
                        [{"token": {"$literal": token}, "seq": "$version", "at": utcnow()}],
                    ]
                }
            }
        },
    ]
    raw = await _runs().find_one_and_update(
        condition,
        pipeline,
        projection=dict.fromkeys(("version", *RUN_FACTS), 1),
        return_document=ReturnDocument.AFTER,
    )
    if raw is None:
        raise await _why_closed(run_id)
    return Change(
        run_id=run_id, token=token, seq=int(raw["version"]), run=RunFacts.model_validate(raw)
    )


async def _why_closed(run_id: PydanticObjectId) -> NotFound | Conflict:
    run = await _runs().find_one({"_id": run_id}, {"status": 1})
    if run is None:
        return NotFound(f"{RUN} {run_id} does not exist")
    if run["status"] in RUN_FINISHED:
        return Conflict(f"{RUN} {run_id} is {run['status']}: its executions can no longer change")
    return Conflict(f"{RUN} {run_id} is being cancelled: its executions can no longer change")


async def close_change(
    change: Change,
    *,
    delta: Delta | None = None,
    recount: bool = False,
    started_at: datetime | None = None,
) -> TestRun | None:
    """Step 3: apply the change's `delta` to the counters and drop it from the pending ones.

    `recount`: the change's effect is not known exactly (a cancel of many executions, a write
    the database may or may not have applied): the counters are recounted once nothing is
    pending. `started_at`: an execution of this change started (or finished) then; a queued run
    becomes `running`. Returns the run after, or None if it no longer exists.
    """
    now = utcnow()
    increments: dict[str, int] = {"version": 1}
    for name, amount in (delta or Counter()).items():
        if amount:
            increments[f"counters.{name}"] = amount
    update: dict[str, Any] = {
        "$pull": {"pending": {"token": change.token}},
        "$inc": increments,
        "$set": {"updated_at": now, **({"recount_needed": True} if recount else {})},
    }
    raw = await _runs().find_one_and_update(
        {"_id": change.run_id, "pending.token": change.token},
        update,
        return_document=ReturnDocument.AFTER,
    )
    if raw is None:
        # Dropped as abandoned by a settle (this writer was slow), or the run was deleted: what
        # the settle counted may not include this change, so count again.
        logger.warning("change %s of run %s closed late: recounting", change.token, change.run_id)
        return await request_recount(change.run_id)
    run = _run(raw)
    if started_at is not None and run.status is RunStatus.QUEUED:
        run = await _mark_started(run, started_at) or run
    if _settles(run):
        return await settle(change.run_id)
    return run


async def _mark_started(run: TestRun, started_at: datetime) -> TestRun | None:
    raw = await _runs().find_one_and_update(
        {"_id": run.id, "status": RunStatus.QUEUED.value},
        {
            "$set": {"status": RunStatus.RUNNING.value, "started_at": started_at},
            "$inc": {"version": 1},
        },
        return_document=ReturnDocument.AFTER,
    )
    return None if raw is None else _run(raw)


def _settles(run: TestRun) -> bool:
    """Whether the run has something to settle: a recount asked for, or nothing left to run."""
    if run.pending:
        return False
    if run.recount_needed:
        return True
    if run.status in RUN_FINISHED:
        return False
    counters = run.counters
    return run.cancel_requested or (
        counters.total > 0 and counters.queued == 0 and counters.running == 0
    )


async def request_recount(run_id: PydanticObjectId) -> TestRun | None:
    """Ask for the run's counters to be recounted, now if nothing is pending, else by the last
    change to close. Returns the run after (recounted or not yet), None if it does not exist."""
    raw = await _runs().find_one_and_update(
        {"_id": run_id},
        {"$set": {"recount_needed": True}, "$inc": {"version": 1}},
        projection={"_id": 1},
    )
    if raw is None:
        return None
    return await settle(run_id)


async def settle(run_id: PydanticObjectId) -> TestRun | None:
    """Recount the counters from the executions and finish the run if nothing is left to run.

    Does nothing while a change is pending (its closer settles after it) unless the change was
    abandoned. Returns the run after, or None if it does not exist.
    """
    for _ in range(_SETTLE_ATTEMPTS):
        raw = await _runs().find_one({"_id": run_id})
        if raw is None:
            return None
        run = _run(raw)
        now = utcnow()
        abandoned = [change.token for change in run.pending if now - change.at >= ABANDONED_AFTER]
        if len(abandoned) < len(run.pending):
            return run  # a change is being written: its closer settles
        if run.status in RUN_FINISHED and not run.recount_needed:
            return run
        counts, failing = await recount(run_id)
        fields: dict[str, Any] = {
            "counters": counts.model_dump(),
            "recount_needed": False,
            "updated_at": now,
        }
        active = counts.queued + counts.running
        finishing = run.status not in RUN_FINISHED and (
            (run.cancel_requested and active == 0) or (counts.total > 0 and active == 0)
        )
        if finishing:
            fields.update(_finish(run, now=now, failing=failing))
        update: dict[str, Any] = {"$set": fields, "$inc": {"version": 1}}
        if abandoned:
            update["$pull"] = {"pending": {"token": {"$in": abandoned}}}
            logger.warning("run %s: dropping %d abandoned change(s)", run_id, len(abandoned))
        settled = await _runs().find_one_and_update(
            {"_id": run_id, "version": run.version}, update, return_document=ReturnDocument.AFTER
        )
        if settled is not None:
            return _run(settled)
        # The run changed since it was read (a change opened or closed): look again.
    return await TestRun.get(run_id)


def _finish(run: TestRun, *, now: datetime, failing: int) -> dict[str, Any]:
    if run.cancel_requested:
        status = RunStatus.CANCELLED
    elif failing:
        status = RunStatus.FAILED
    else:
        status = RunStatus.PASSED
    fields: dict[str, Any] = {"status": status.value, "finished_at": now}
    if run.started_at is not None:
        fields["duration_ms"] = max(0, int((now - run.started_at).total_seconds() * 1000))
    return fields


_BY_STATUS: dict[str, Any] = {"$group": {"_id": "$status", "n": {"$sum": 1}}}
"""How many of the run's executions have each status: rows of `_id` (a status) and `n`."""


def _counters(rows: list[dict[str, Any]]) -> RunCounters:
    counts = {ExecutionStatus(row["_id"]).value: int(row["n"]) for row in rows}
    return RunCounters(**counts, total=sum(counts.values()))


async def recount(run_id: PydanticObjectId) -> tuple[RunCounters, int]:
    """The run's counters from its executions, and how many cases' latest attempt failed.

    One aggregation over the run's executions (`run_status`, `run_case_attempt`).
    """
    pipeline: list[dict[str, Any]] = [
        {"$match": {"run_id": run_id}},
        {
            "$facet": {
                "statuses": [_BY_STATUS],
                "failing": [
                    {"$sort": {"test_case_id": 1, "attempt": -1}},
                    {"$group": {"_id": "$test_case_id", "status": {"$first": "$status"}}},
                    {"$match": {"status": {"$in": sorted(FAILING)}}},
                    {"$count": "n"},
                ],
            }
        },
    ]
    collection = TestExecution.get_pymongo_collection()
    result = (await (await collection.aggregate(pipeline)).to_list())[0]
    counters = _counters(result["statuses"])
    failing = int(result["failing"][0]["n"]) if result["failing"] else 0
    return counters, failing


async def counted(run_id: PydanticObjectId) -> RunCounters:
    """The run's counters as its executions' statuses say now: one aggregation (`run_status`)."""
    pipeline: list[dict[str, Any]] = [{"$match": {"run_id": run_id}}, _BY_STATUS]
    collection = TestExecution.get_pymongo_collection()
    return _counters(await (await collection.aggregate(pipeline, hint="run_status")).to_list())


async def observed(run: TestRun) -> TestRun:
    """The run as a client is served it: as stored when nothing is pending (its counters are
    exact then), else with its counters counted from its executions now (not written back: the
    last change to close counts them). Every read path that serves a run's counters uses it."""
    if not run.pending:
        return run
    assert run.id is not None
    served: TestRun = run.model_copy(update={"counters": await counted(run.id)})
    return served


async def observed_documents(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`observed` for raw run documents (a list page): those with `pending` and `counters` get
    counters counted from their executions (one aggregation each: a run has a change pending
    only while a write to it is in flight)."""
    served: list[dict[str, Any]] = []
    for document in documents:
        if document.get("pending") and "counters" in document:
            counters = await counted(document["_id"])
            document = {**document, "counters": counters.model_dump()}
        served.append(document)
    return served


def watermark(run: TestRun) -> int:
    """The highest `run_seq` below which every execution's change is written and final."""
    if run.pending:
        return min(change.seq for change in run.pending) - 1
    return run.version
