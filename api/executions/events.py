"""Live status of a run: the events of `GET /executions/runs/{id}/events`.

**One query loop**, the same on every deployment, reads the journal `api.executions.tracking`
keeps on the run. Every change of the run's executions stamps them with `run_seq`, and every
execution whose `run_seq` is at most `watermark(run)` is written and final. So the loop reads the
run, and when its watermark `w` passed the last one sent, sends an `execution` event for each
status change (transition) of an execution with `last < seq <= w`, then a `run` event with the
run's state (`tracking.observed`: counters exact even while changes are pending), and remembers
`w`.

**Every status change is an event.** Each write of an execution's status also appends, in the
same single-document update, a transition `{status, seq, at, duration_ms}` to its `transitions`
(`service.status_update`, the cancel's pipeline, a new execution's first one): at most
`MAX_TRANSITIONS`, as the status machine allows. An execution that went queued, running, passed
before the loop looked is three events, each with the status and duration of its transition,
in `seq, _id` order (bounded batches: one aggregation each, its first stage `run_id, run_seq`
on the `run_seq` index, since an execution's `run_seq` is that of its latest write and so at or
above the `seq` of each of its transitions; only the transitions in range are sorted). An
execution written before transitions were kept counts as one, its status at its `run_seq`. The
stream ends after the `run` event of a finished run with no change pending (or when the run is
deleted).

**Event ids** (what a reconnecting client sends back as `Last-Event-ID`): a `run` event's id is
the watermark, `"17"`; an `execution` event's id is its transition's `seq` and the execution's id,
`"17:6650f1c2a7b4e3d2c1b0a998"`, since one change (a cancel, a new run) stamps many executions
with one `run_seq`. Resuming from `"17"` sends the transitions with `seq > 17`; from
`"17:<id>"`, those of `seq` 17 after that id, then those above 17: no gap, no repeat. Every
connection starts with the run's state: the transitions after `Last-Event-ID` (if sent), then a
`run` event (again, with its id, when nothing changed since).

**What wakes the loop** is the one part that depends on the deployment, and lives here only:
`run_changes` opens a `RunChanges`, a change stream on the run where the capability probe says
`change_streams` (`WatchedRun`, at most `MAX_WATCHED` at once per process), else a poll of the
run's `version` every `JBTS_EVENTS_POLL_MS` (`PolledRun`). Either only wakes the loop, which then
reads; a change stream that fails for any reason but a lost connection is replaced by polling
(logged once per process). The loop's first read of the run follows the opening of its
`RunChanges`, so no change falls between the two.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, Final, Protocol

from beanie import PydanticObjectId
from bson import ObjectId
from pymongo.asynchronous.change_stream import AsyncChangeStream
from pymongo.errors import ConnectionFailure, PyMongoError

from api.errors import InvalidInput, NotFound
from api.executions import service as execution_service
from api.executions import tracking
from api.executions.runs import RUN, runs
from api.executions.schemas import (
    MAX_EVENT_ERROR_LENGTH,
    CountersRead,
    ExecutionEvent,
    RunEvent,
)
from api.executions.status import RUN_FINISHED, TERMINAL
from documents.executions import ExecutionStatus, TestRun

logger = logging.getLogger(__name__)

EVENT_ID_PATTERN = r"^[0-9]{1,18}(:[0-9a-f]{24})?$"
"""A `run` event's id (the run's watermark), or an `execution` event's (`run_seq:execution id`)."""
_EVENT_ID = re.compile(EVENT_ID_PATTERN)
EVENT_BATCH = 200
"""Transitions read per query while catching up (a cancel stamps a whole run with one `run_seq`)."""
RUN_SEQ_INDEX = "run_seq"  # test_executions {run_id, run_seq, _id} (m0006): no sort in memory
MAX_AWAIT_MS = 1000
"""The longest a change stream's `getMore` waits on the server before the loop looks again."""
MAX_WATCHED = 25
"""Change streams open at once in this process; further streams poll. A change stream holds a
pooled connection through each `getMore` (PyMongo's pool has 100 by default): without a bound,
enough open streams would leave requests waiting for a connection."""
LAST_EVENT_ID = "header.Last-Event-ID"


@dataclass(frozen=True, slots=True)
class EventId:
    """Where a stream is: after the run's changes up to `seq`, or, with `execution_id`, after
    that execution among those stamped with `seq`."""

    seq: int
    execution_id: ObjectId | None = None

    @classmethod
    def parse(cls, text: str) -> EventId:
        """ValueError unless `text` is an id this stream sends."""
        if not _EVENT_ID.fullmatch(text):
            raise ValueError(f"{text!r} is not an event id of this stream ('17' or '17:<id>')")
        seq, _, execution = text.partition(":")
        return cls(int(seq), ObjectId(execution) if execution else None)

    def __str__(self) -> str:
        return str(self.seq) if self.execution_id is None else f"{self.seq}:{self.execution_id}"


@dataclass(frozen=True, slots=True)
class Event:
    """An event of the stream: `name` is `run` or `execution`."""

    name: str
    id: EventId
    data: RunEvent | ExecutionEvent


class Heartbeat:
    """Nothing happened for a heartbeat interval: the stream sends a comment."""


HEARTBEAT: Final = Heartbeat()

type StreamItem = Event | Heartbeat


# -- starting -------------------------------------------------------------------------------------


async def start(*, id: PydanticObjectId, after: EventId | None) -> TestRun:
    """The run a stream starts from: 404 if it does not exist, 422 if `after` names an event
    it has not had yet (ids are never ahead of the run's watermark, which never goes back)."""
    run = await TestRun.get(id)
    if run is None:
        raise NotFound(f"{RUN} {id} does not exist")
    watermark = tracking.watermark(run)
    if after is not None and after.seq > watermark:
        raise InvalidInput.at(
            LAST_EVENT_ID,
            f"event {after} is not an event of {RUN} {id}: its latest event is {watermark}",
        )
    return run


def finished(run: TestRun) -> bool:
    """Whether the run can change no more: the stream ends after its `run` event."""
    return run.status in RUN_FINISHED and not run.pending


# -- the query loop -------------------------------------------------------------------------------


async def run_events(
    run: TestRun, *, after: EventId | None, changes: RunChanges, heartbeat_s: float
) -> AsyncGenerator[StreamItem]:
    """The run's events from `after` (None: from its current state) until it is finished."""
    assert run.id is not None
    run_id = run.id
    clock = asyncio.get_running_loop()
    last = after
    current: TestRun | None = run
    first = True
    said_at = clock.time()
    while current is not None:
        watermark = tracking.watermark(current)
        if first or last is None or watermark > last.seq:
            if last is not None:
                caught_up = _executions_after(run_id, after=last, upto=watermark)
                async with aclosing(caught_up):
                    async for event in caught_up:
                        yield event
            last = EventId(watermark)
            yield Event("run", last, run_event(await tracking.observed(current)))
            said_at = clock.time()
            if finished(current):
                return
        first = False
        quiet = heartbeat_s - (clock.time() - said_at)
        woken = quiet > 0 and await changes.wait(seen=current.version, within=quiet)
        if not woken and clock.time() - said_at >= heartbeat_s:
            yield HEARTBEAT
            said_at = clock.time()
        current = await TestRun.get(run_id)


def run_event(run: TestRun) -> RunEvent:
    return RunEvent(
        id=str(run.id),
        name=run.name,
        status=run.status,
        counters=CountersRead.model_validate(run.counters.model_dump()),
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_ms=run.duration_ms,
        version=run.version,
        cancel_requested=run.cancel_requested,
    )


_EXECUTION_FIELDS: Mapping[str, int] = dict.fromkeys(
    (
        "test_case_id",
        "test_case.name",
        "attempt",
        "started_at",
        "finished_at",
        "error.message",
        "worker",
    ),
    1,
)

_TRANSITIONS: Mapping[str, Any] = {
    "$cond": [
        {"$gt": [{"$size": {"$ifNull": ["$transitions", []]}}, 0]},
        "$transitions",
        # Written before executions kept their transitions: their status at their `run_seq`.
        [{"status": "$status", "seq": "$run_seq", "duration_ms": "$duration_ms"}],
    ]
}
"""The execution's status changes (`TestExecution.transitions`), as an aggregation expression."""


def execution_event(raw: Mapping[str, Any]) -> ExecutionEvent:
    """The event of one transition (`raw["transition"]`) of the execution `raw`: its status,
    `run_seq` and duration are the transition's; its end (`finished_at`, the error) is told
    only with a final status, its start not while queued."""
    transition = raw["transition"]
    status = ExecutionStatus(transition["status"])
    final = status in TERMINAL
    error = (raw.get("error") or {}) if final else {}
    message = error.get("message")
    return ExecutionEvent(
        id=str(raw["_id"]),
        test_case_id=str(raw["test_case_id"]),
        test_case_name=raw["test_case"]["name"],
        attempt=raw["attempt"],
        status=status,
        started_at=None if status is ExecutionStatus.QUEUED else raw.get("started_at"),
        finished_at=raw.get("finished_at") if final else None,
        duration_ms=transition.get("duration_ms"),
        error_message=None if message is None else message[:MAX_EVENT_ERROR_LENGTH],
        worker=raw.get("worker"),
        run_seq=transition["seq"],
    )


async def _executions_after(
    run_id: PydanticObjectId, *, after: EventId, upto: int
) -> AsyncGenerator[Event]:
    """An `execution` event for each transition of the run's executions after `after` up to
    `run_seq` `upto`, in `run_seq, _id` order, read in batches of `EVENT_BATCH` (keyset: each
    resumes after the last transition sent).

    An execution's `run_seq` is that of its latest write, so every execution with a transition
    after `after` has a `run_seq` at or above it: the `run_seq` index narrows the executions,
    and only their transitions in range are sorted.
    """
    position = after
    while True:
        seq = {"$gt": ["$$t.seq", position.seq]}
        if position.execution_id is None:
            candidates: dict[str, Any] = {"$gt": position.seq}
            later: dict[str, Any] = seq
        else:
            candidates = {"$gte": position.seq}
            later = {
                "$or": [
                    seq,
                    {
                        "$and": [
                            {"$eq": ["$$t.seq", position.seq]},
                            {"$gt": ["$_id", position.execution_id]},
                        ]
                    },
                ]
            }
        in_range = {"$and": [later, {"$lte": ["$$t.seq", upto]}]}
        pipeline: list[dict[str, Any]] = [
            {"$match": {"run_id": run_id, "run_seq": candidates}},
            {
                "$project": {
                    **_EXECUTION_FIELDS,
                    "transition": {"$filter": {"input": _TRANSITIONS, "as": "t", "cond": in_range}},
                }
            },
            {"$unwind": "$transition"},
            {"$sort": {"transition.seq": 1, "_id": 1}},
            {"$limit": EVENT_BATCH},
        ]
        found = await execution_service.executions().aggregate(pipeline, hint=RUN_SEQ_INDEX)
        batch = await found.to_list()
        for raw in batch:
            position = EventId(int(raw["transition"]["seq"]), raw["_id"])
            yield Event("execution", position, execution_event(raw))
        if len(batch) < EVENT_BATCH:
            return


# -- what wakes the loop --------------------------------------------------------------------------


class RunChanges(Protocol):
    """Wakes the query loop when its run may have changed."""

    async def wait(self, *, seen: int, within: float) -> bool:
        """True once the run may have moved past version `seen`; False after `within` seconds
        without a sign of it."""
        ...

    async def aclose(self) -> None: ...


class PolledRun:
    """Where there are no change streams: read the run's version every `interval` seconds."""

    def __init__(self, run_id: PydanticObjectId, *, interval: float) -> None:
        self.run_id = run_id
        self.interval = interval

    async def wait(self, *, seen: int, within: float) -> bool:
        clock = asyncio.get_running_loop()
        deadline = clock.time() + within
        while (remaining := deadline - clock.time()) > 0:
            await asyncio.sleep(min(self.interval, remaining))
            raw = await runs().find_one({"_id": self.run_id}, {"version": 1})
            if raw is None or raw.get("version") != seen:
                return True
        return False

    async def aclose(self) -> None:
        return None


class WatchedRun:
    """A change stream on the run's document; polling from the first failure that is not a lost
    connection (a deployment without change streams after all, an invalidated stream)."""

    def __init__(
        self,
        run_id: PydanticObjectId,
        stream: AsyncChangeStream[dict[str, Any]],
        *,
        poll_interval: float,
    ) -> None:
        self.run_id = run_id
        self.poll_interval = poll_interval
        self._stream: AsyncChangeStream[dict[str, Any]] | None = stream
        self._polled: PolledRun | None = None

    @classmethod
    async def open(cls, run_id: PydanticObjectId, *, poll_interval: float) -> RunChanges:
        pipeline = [{"$match": {"documentKey._id": run_id}}]
        try:
            stream = await runs().watch(pipeline, max_await_time_ms=MAX_AWAIT_MS)
        except ConnectionFailure:
            raise
        except PyMongoError as exc:
            _polling_instead(exc)
            return PolledRun(run_id, interval=poll_interval)
        return cls(run_id, stream, poll_interval=poll_interval)

    async def wait(self, *, seen: int, within: float) -> bool:
        if self._polled is not None:
            return await self._polled.wait(seen=seen, within=within)
        assert self._stream is not None
        clock = asyncio.get_running_loop()
        deadline = clock.time() + within
        while deadline - clock.time() > 0:
            try:
                if not self._stream.alive:
                    raise _StreamEnded("the change stream was closed by the server")
                change = await self._stream.try_next()
            except ConnectionFailure:
                raise
            except (PyMongoError, _StreamEnded) as exc:
                _polling_instead(exc)
                await self.aclose()
                self._polled = PolledRun(self.run_id, interval=self.poll_interval)
                return True  # the loop reads the run again: nothing is missed meanwhile
            if change is not None and _moves_past(change, seen):
                return True
        return False

    async def aclose(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with suppress(PyMongoError):
                await stream.close()


class _StreamEnded(Exception):
    pass


def _moves_past(change: Mapping[str, Any], seen: int) -> bool:
    """Whether a change event may be news: any event but an update to a version already seen
    (an event queued while the loop was reading)."""
    updated = (change.get("updateDescription") or {}).get("updatedFields") or {}
    version = updated.get("version")
    return not isinstance(version, int) or version > seen


_fallback_logged = False
_watched = 0


def _polling_instead(exc: BaseException) -> None:
    global _fallback_logged  # one warning per process
    reason = f"{type(exc).__name__}: {str(exc)[:200]}"
    if _fallback_logged:
        logger.debug("run events: polling instead of a change stream (%s)", reason)
        return
    _fallback_logged = True
    logger.warning(
        "run events: the change stream failed (%s); polling run versions instead "
        "(logged once per process)",
        reason,
    )


@asynccontextmanager
async def run_changes(
    run_id: PydanticObjectId, *, change_streams: bool, poll_interval: float
) -> AsyncIterator[RunChanges]:
    """What wakes the loop for this run: a change stream where the deployment has them, else
    polling (also beyond `MAX_WATCHED` change streams). Closed on exit, even when the stream's task
    is being cancelled."""
    global _watched  # change streams of this process: a slot is taken before one is opened
    reserved = change_streams and _watched < MAX_WATCHED
    _watched += reserved
    try:
        changes: RunChanges
        if reserved:
            changes = await WatchedRun.open(run_id, poll_interval=poll_interval)
        else:
            changes = PolledRun(run_id, interval=poll_interval)
        try:
            yield changes
        finally:
            await asyncio.shield(changes.aclose())
    finally:
        _watched -= reserved


async def stream(
    run_id: PydanticObjectId,
    *,
    after: EventId | None,
    change_streams: bool,
    poll_interval: float,
    heartbeat_s: float,
) -> AsyncGenerator[StreamItem]:
    """`run_events` woken by the deployment's `RunChanges`, which are closed when it ends.

    The run is read once its `RunChanges` are open, so every change after that read wakes the
    loop. A run deleted meanwhile has no events.
    """
    async with run_changes(
        run_id, change_streams=change_streams, poll_interval=poll_interval
    ) as changes:
        run = await TestRun.get(run_id)
        if run is None:
            return
        events = run_events(run, after=after, changes=changes, heartbeat_s=heartbeat_s)
        async with aclosing(events):
            async for item in events:
                yield item
