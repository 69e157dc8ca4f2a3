"""What the benchmark measures: each operation as an HTTP request, and its raw PyMongo equivalent.

Every operation has a fixed target picked from the seeded data (`Picks`), the same for every rep.
The raw equivalents are the simple queries a hand-written client would send for the same answer
(`raw_query` says which); the ratio of the two is what the service adds on top of the database.
Writes that create documents delete them after each rep, outside the measured time, so the
collections keep their seeded size.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
from bson import ObjectId, json_util
from gridfs import AsyncGridFSBucket
from pymongo import ASCENDING, DESCENDING, DeleteOne, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from api.database.capabilities import Capabilities
from api.query import listing, text
from api.test_defs.params import TestCaseListParams
from api.test_defs.schemas import StepCreate, TestCaseCreate
from api.test_defs.service import new_case_document
from documents.artifacts import (
    REPORT_BUCKET,
    SCREENSHOT_BUCKET,
    LogEntry,
    Screenshot,
    TestReport,
)
from documents.executions import RUN_FACTS, attempt_key
from documents.test_defs import TestStep, new_step_id
from scripts.common import CommandError
from scripts.seeding.artifacts import encode_png
from scripts.seeding.context import build, stored

API = "/api/v1"
TESTS = f"{API}/tests"
RUNS = f"{API}/executions/runs"
EXECUTIONS = f"{API}/executions"
BENCH_TAG = "jbts-bench"
"""Tags every case the benchmark creates."""
SAMPLE = 500
"""Cases read to pick a realistic tag and search word."""
SUITE_SIZE = 200
"""The suite whose page is measured is the one whose size is closest to this."""
RUN_SUITE_SIZE = 20
"""The run created from a suite runs the suite whose active cases are closest to this many."""
NEWEST = [("created_at", DESCENDING), ("_id", DESCENDING)]
LATEST_STARTED = [("started_at", DESCENDING), ("_id", DESCENDING)]
PAGE = 50
DELETE_BATCH = 1000


class BenchError(CommandError):
    """The service answered an operation with an error: the benchmark stops there."""


@dataclass(frozen=True, slots=True)
class Goal:
    """What an operation should achieve on the embedded engine at size `medium`.

    Reported next to the numbers ("ok" or "over"), never asserted: slowness is not an error.
    """

    p95_ms: float | None = None
    service_p50_ms: float | None = None
    round_trips: int | None = None

    def describe(self) -> str:
        parts = []
        if self.p95_ms is not None:
            parts.append(f"p95<{self.p95_ms:g}")
        if self.service_p50_ms is not None:
            parts.append(f"svc≤{self.service_p50_ms:g}")
        if self.round_trips is not None:
            parts.append(f"rt≤{self.round_trips}")
        return " ".join(parts) or "-"

    def misses(self, *, p95_ms: float, service_p50_ms: float, round_trips: int) -> list[str]:
        """What the measurement misses (empty: on target)."""
        missed = []
        if self.p95_ms is not None and p95_ms >= self.p95_ms:
            missed.append(f"p95 {p95_ms:.1f} ms, target < {self.p95_ms:g} ms")
        if self.service_p50_ms is not None and service_p50_ms > self.service_p50_ms:
            missed.append(
                f"service p50 {service_p50_ms:.1f} ms, target <= {self.service_p50_ms:g} ms"
            )
        if self.round_trips is not None and round_trips > self.round_trips:
            missed.append(f"{round_trips} round trips, target <= {self.round_trips}")
        return missed


GET = Goal(p95_ms=100, service_p50_ms=2, round_trips=1)
LIST_PAGE = Goal(p95_ms=100, service_p50_ms=5, round_trips=2)
PATCH = Goal(p95_ms=100, service_p50_ms=2)
WRITE = Goal(p95_ms=100)
BULK_100 = Goal(p95_ms=1000, round_trips=2)
BULK = Goal(round_trips=2)
HISTORY = Goal(p95_ms=100, service_p50_ms=5, round_trips=4)
# Writes of executions: on the embedded engine every insert or update of an execution reads every
# stored execution (its compound unique index is checked by a scan), so their latency is the
# engine's, growing with the collection; the service's part is its time and its round trips.
CHANGE_EXECUTION = Goal(service_p50_ms=5, round_trips=4)
REPORT_STEPS = Goal(service_p50_ms=5, round_trips=2)
CREATE_RUN = Goal(service_p50_ms=15, round_trips=7)


# Artifacts. An upload streams ~100 KB into GridFS: the execution, the bucket's indexes (two
# `createIndexes`, no-ops, on every upload), a chunk, the files document, the dedup lookup, the
# metadata. A download: the metadata, the file, its chunks. A batch of 1,000 log lines: its run
# and execution, then inserts in batches of the deployment's write batch (100 on the embedded
# engine, where this goal is measured; one insert on MongoDB): bounded by the batch, not the
# data. A JSON report of a run: the run, its executions (a cursor of 500 a batch), the report;
# past the inline limit, PyMongo's GridFS upload adds its own index checks (two
# `listIndexes`, two `find`, sometimes `createIndexes`) and the file.
UPLOAD = Goal(p95_ms=300, service_p50_ms=15, round_trips=7)
DOWNLOAD = Goal(p95_ms=100, service_p50_ms=5, round_trips=3)
LOG_BATCH = Goal(service_p50_ms=60, round_trips=12)
REPORT = Goal(p95_ms=1000, service_p50_ms=100, round_trips=11)


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request: a JSON `body`, or a multipart form (`files` and `data`)."""

    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, tuple[str, bytes, str]] | None = None
    data: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Picks:
    """The fixed targets of the operations, picked from the seeded data."""

    cases: int
    case_id: ObjectId
    case_version: int
    case_steps: int
    status: str
    tag: str | None
    word: str
    suite_id: ObjectId
    suite_size: int
    run_id: ObjectId
    run_executions: int
    history_case_id: ObjectId
    history_executions: int
    run_suite_id: ObjectId
    run_suite_cases: int
    active_case_ids: tuple[ObjectId, ...]
    execution_id: ObjectId
    logged_run_id: ObjectId
    run_log_lines: int
    analytics_suite_id: ObjectId | None = None
    analytics_suite_runs: int = 0
    window: tuple[datetime, datetime] | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "test_cases": self.cases,
            "case_id": str(self.case_id),
            "status": self.status,
            "tag": self.tag,
            "word": self.word,
            "suite_id": str(self.suite_id),
            "suite_size": self.suite_size,
            "run_id": str(self.run_id),
            "run_executions": self.run_executions,
            "history_case_id": str(self.history_case_id),
            "history_executions": self.history_executions,
            "run_suite_id": str(self.run_suite_id),
            "run_suite_active_cases": self.run_suite_cases,
            "execution_id": str(self.execution_id),
            "logged_run_id": str(self.logged_run_id),
            "run_log_lines": self.run_log_lines,
            "analytics_suite_id": str(self.analytics_suite_id),
            "analytics_suite_runs": self.analytics_suite_runs,
            "window": [moment.isoformat() for moment in self.window] if self.window else None,
        }


class Operation:
    """One operation: the request, its raw equivalent, and the work around them (not timed)."""

    def __init__(
        self, name: str, *, route: str, goal: Goal, raw_query: str, share: int = 1
    ) -> None:
        self.name = name
        self.route = route  # e.g. "GET /api/v1/tests/{id}"
        self.goal = goal
        self.raw_query = raw_query
        self.share = share  # runs one rep in `share` (bulk writes are slow to repeat)

    def reps(self, reps: int) -> int:
        return max(1, reps // self.share)

    async def before(self, http: httpx.AsyncClient) -> None:
        """Sets up what the next request needs through the API (a fresh execution to change),
        outside the measured time."""

    def call(self, rep: int) -> Call:
        """The request of rep number `rep` (-1: the warm-up)."""
        raise NotImplementedError

    def answered(self, response: httpx.Response) -> None:
        """Called with each 2xx answer, outside the measured time."""

    async def prepare_raw(self, rep: int) -> None:
        """Builds what the raw equivalent sends, outside the measured time."""

    async def raw(self) -> object:
        """The raw PyMongo equivalent: what is timed."""
        raise NotImplementedError

    async def tidy(self) -> None:
        """Undoes a rep's lasting effects (created documents), outside the measured time."""


class Read(Operation):
    """A request that changes nothing; its raw equivalent is a fixed query."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        route: str,
        goal: Goal,
        raw_query: str,
        query: Callable[[], Awaitable[object]],
    ) -> None:
        super().__init__(name, route=route, goal=goal, raw_query=raw_query)
        self._url = url
        self._query = query

    def call(self, rep: int) -> Call:
        return Call("GET", self._url)

    async def raw(self) -> object:
        return await self._query()


class UpdateCase(Operation):
    """`PATCH` a case as a client that read it does: with `If-Match` naming the version it saw."""

    def __init__(self, cases: AsyncCollection[Any], picks: Picks) -> None:
        super().__init__(
            "patch case",
            route=f"PATCH {TESTS}/{{id}}",
            goal=PATCH,
            raw_query="find_one_and_update({_id}, {$set: fields + updated_at, $inc: {version: 1}})",
        )
        self._cases = cases
        self._id = picks.case_id
        self._version = picks.case_version
        self._changes: dict[str, Any] = {}

    @staticmethod
    def _body(rep: int) -> dict[str, Any]:
        return {
            "priority": ("high", "medium")[rep % 2],
            "description": f"Checked again by the benchmark (rep {rep}).",
        }

    def call(self, rep: int) -> Call:
        return Call(
            "PATCH",
            f"{TESTS}/{self._id}",
            body=self._body(rep),
            headers={"If-Match": f'"{self._version}"'},
        )

    def answered(self, response: httpx.Response) -> None:
        self._version = int(response.headers["ETag"].strip('"'))

    async def prepare_raw(self, rep: int) -> None:
        self._changes = self._body(rep)

    async def raw(self) -> object:
        found = await self._cases.find_one_and_update(
            {"_id": self._id},
            {"$set": {**self._changes, "updated_at": datetime.now(UTC)}, "$inc": {"version": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if found is not None:
            self._version = found["version"]  # the next request's If-Match
        return found


STEP = {
    "action": "assert_visible",
    "selector": "#order-confirmation",
    "description": "The order confirmation is shown",
}


class AppendStep(Operation):
    """Append a step to a case; the step is removed again after each rep."""

    def __init__(self, cases: AsyncCollection[Any], picks: Picks) -> None:
        super().__init__(
            "append step",
            route=f"POST {TESTS}/{{id}}/steps",
            goal=WRITE,
            raw_query="find_one_and_update({_id}, {$push: {steps: step}, $inc: {version: 1}})",
        )
        self._cases = cases
        self._id = picks.case_id
        self._order = picks.case_steps + 1
        self._step: dict[str, Any] = {}

    def call(self, rep: int) -> Call:
        return Call("POST", f"{TESTS}/{self._id}/steps", body=STEP)

    async def prepare_raw(self, rep: int) -> None:
        data = StepCreate.model_validate(STEP).model_dump(exclude={"position"})
        self._step = TestStep(id=new_step_id(), order=self._order, **data).model_dump()

    async def raw(self) -> object:
        return await self._cases.find_one_and_update(
            {"_id": self._id},
            {
                "$push": {"steps": self._step},
                "$set": {"updated_at": datetime.now(UTC)},
                "$inc": {"version": 1},
            },
            return_document=ReturnDocument.AFTER,
        )

    async def tidy(self) -> None:
        await self._cases.update_one({"_id": self._id}, {"$pop": {"steps": 1}})


def case_body(number: int) -> dict[str, Any]:
    """A realistic new case: five steps, three tags (one marks it as the benchmark's)."""
    return {
        "name": f"Checkout with a saved card {number}",
        "description": "A signed-in shopper pays with a saved card and sees the receipt.",
        "status": "draft",
        "priority": "high",
        "tags": [BENCH_TAG, "checkout", "smoke"],
        "target_url": "https://shop.example.com/checkout",
        "owner": "bench",
        "steps": [
            {"action": "navigate", "value": "https://shop.example.com/cart"},
            {"action": "click", "selector": "#checkout"},
            {"action": "select", "selector": "#saved-card", "value": "visa-4242"},
            {"action": "click", "selector": "button[type=submit]"},
            {"action": "assert_text", "selector": ".receipt h1", "expected": "Thank you"},
        ],
    }


class CreateCases(Operation):
    """Create `count` cases (one `POST /tests`, or one bulk request); they are deleted after each
    rep."""

    def __init__(self, cases: AsyncCollection[Any], *, count: int | None) -> None:
        if count is None:
            super().__init__(
                "create case", route=f"POST {TESTS}", goal=WRITE, raw_query="insert_one(case)"
            )
        else:
            super().__init__(
                f"bulk {count}",
                route=f"POST {TESTS}/bulk",
                goal=BULK_100 if count <= 100 else BULK,
                raw_query=f"insert_many({count} cases, ordered=False)",
                share=5 if count <= 100 else 10,
            )
        self._cases = cases
        self._count = count
        self._created: list[ObjectId] = []
        self._documents: list[dict[str, Any]] = []

    def call(self, rep: int) -> Call:
        if self._count is None:
            return Call("POST", TESTS, body=case_body(rep))
        operations = [{"op": "create", "data": case_body(n)} for n in range(self._count)]
        return Call("POST", f"{TESTS}/bulk", body={"operations": operations})

    def answered(self, response: httpx.Response) -> None:
        body = response.json()
        if self._count is None:
            self._created.append(ObjectId(body["id"]))
            return
        failures = [result for result in body["results"] if result["status"] == "failed"]
        self._created += [ObjectId(result["id"]) for result in body["results"] if result.get("id")]
        if failures:
            error = failures[0]["error"]
            raise BenchError(
                f"POST {TESTS}/bulk: {len(failures)} of {self._count} creates failed, the first "
                f"with {error['status']}: {error['detail']}"
            )

    async def prepare_raw(self, rep: int) -> None:
        count = 1 if self._count is None else self._count
        self._documents = [
            new_case_document(TestCaseCreate.model_validate(case_body(n)))[1] for n in range(count)
        ]
        self._created += [document["_id"] for document in self._documents]

    async def raw(self) -> object:
        if self._count is None:
            return await self._cases.insert_one(self._documents[0])
        return await self._cases.insert_many(self._documents, ordered=False)

    async def tidy(self) -> None:
        # Deletes by `_id` equality: fast on every engine, where `$in` scans on the embedded one.
        for start in range(0, len(self._created), DELETE_BATCH):
            batch = self._created[start : start + DELETE_BATCH]
            await self._cases.bulk_write([DeleteOne({"_id": id}) for id in batch], ordered=False)
        self._created.clear()


# -- execution tracking ---------------------------------------------------------------------------


async def _send(http: httpx.AsyncClient, method: str, url: str, body: Any = None) -> Any:
    """A request that sets up a measured one (outside the measured time); an error stops."""
    response = await http.request(method, url, json=body)
    if not response.is_success:
        raise BenchError(f"{method} {url} answered {response.status_code}: {response.text[:200]}")
    return response.json()


class OpenRun:
    """A run of the benchmark's own, of two active cases, that never finishes (the first attempt
    of each stays queued), so executions can be added to it and changed: the service's through
    the API (next attempts of the first case), the raw equivalent's directly (of the second)."""

    def __init__(self, db: AsyncDatabase[Any], picks: Picks, name: str) -> None:
        self._db = db
        self._name = name
        self.case_ids = picks.active_case_ids
        self.id: ObjectId | None = None
        self._raw_attempt = 1

    async def open(self, http: httpx.AsyncClient) -> ObjectId:
        if self.id is None:
            body = {"name": self._name, "test_case_ids": [str(id) for id in self.case_ids]}
            self.id = ObjectId((await _send(http, "POST", RUNS, body))["id"])
        return self.id

    async def add(self, http: httpx.AsyncClient) -> dict[str, Any]:
        """A new queued execution of the first case (its next attempt), through the API."""
        body = {"run_id": str(await self.open(http)), "test_case_id": str(self.case_ids[0])}
        created: dict[str, Any] = await _send(http, "POST", EXECUTIONS, body)
        return created

    async def add_raw(self) -> dict[str, Any]:
        """A new queued execution of the second case, written directly: a copy of its first
        attempt, counted in the run's counters."""
        executions = self._db["test_executions"]
        first = await executions.find_one(
            {"run_id": self.id, "test_case_id": self.case_ids[1], "attempt": 1}
        )
        if first is None:
            raise BenchError(f"run {self.id} lost its execution of case {self.case_ids[1]}")
        self._raw_attempt += 1
        now = datetime.now(UTC)
        document = {
            **first,
            "_id": ObjectId(),
            "attempt": self._raw_attempt,
            "attempt_key": attempt_key(self.id, self.case_ids[1], self._raw_attempt),
            "status": "queued",
            "created_at": now,
            "updated_at": now,
        }
        await executions.insert_one(document)
        await self.count_raw(None, "queued")
        return document

    async def count_raw(self, old: str | None, new: str) -> None:
        """The run's counters follow a change made directly, as a hand-written client's would."""
        increments = {f"counters.{new}": 1, "version": 1}
        if old is None:
            increments["counters.total"] = 1
        else:
            increments[f"counters.{old}"] = -1
        await self._db["test_runs"].update_one({"_id": self.id}, {"$inc": increments})


NEXT_STATUS = {"queued": "running", "running": "passed"}


class ChangeExecution(Operation):
    """`PATCH /executions/{id}`: queued -> running, then running -> passed, and again on a fresh
    execution (its case's next attempt, added outside the measured time)."""

    def __init__(self, db: AsyncDatabase[Any], picks: Picks) -> None:
        super().__init__(
            "patch execution",
            route=f"PATCH {EXECUTIONS}/{{id}}",
            goal=CHANGE_EXECUTION,
            raw_query="find_one_and_update({_id, status}, {$set: status + times}) "
            "+ update_one(run, {$inc: the two counters})",
        )
        self._db = db
        self._run = OpenRun(db, picks, "jbts bench: execution changes")
        self._current: tuple[str, str] | None = None  # the API's execution and its status
        self._raw: tuple[ObjectId, str] | None = None

    async def before(self, http: httpx.AsyncClient) -> None:
        if self._current is None or self._current[1] not in NEXT_STATUS:
            created = await self._run.add(http)
            self._current = (created["id"], created["status"])

    def call(self, rep: int) -> Call:
        assert self._current is not None
        id, status = self._current
        return Call("PATCH", f"{EXECUTIONS}/{id}", body={"status": NEXT_STATUS[status]})

    def answered(self, response: httpx.Response) -> None:
        body = response.json()
        self._current = (body["id"], body["status"])

    async def prepare_raw(self, rep: int) -> None:
        if self._raw is None or self._raw[1] not in NEXT_STATUS:
            created = await self._run.add_raw()
            self._raw = (created["_id"], created["status"])

    async def raw(self) -> object:
        assert self._raw is not None
        id, status = self._raw
        new = NEXT_STATUS[status]
        now = datetime.now(UTC)
        fields: dict[str, Any] = {"status": new, "updated_at": now}
        fields["started_at" if new == "running" else "finished_at"] = now
        found = await self._db["test_executions"].find_one_and_update(
            {"_id": id, "status": status}, {"$set": fields}, return_document=ReturnDocument.AFTER
        )
        await self._run.count_raw(status, new)
        self._raw = (id, new)
        return found


class ReportSteps(Operation):
    """`POST /executions/{id}/steps`: the first step's result, again and again, on a running
    execution (a step reported again has its result replaced)."""

    def __init__(self, db: AsyncDatabase[Any], picks: Picks) -> None:
        super().__init__(
            "report steps",
            route=f"POST {EXECUTIONS}/{{id}}/steps",
            goal=REPORT_STEPS,
            raw_query="find_one_and_update({_id, status: running}, {$set: {steps.$[s]: result}}, "
            "arrayFilters)",
        )
        self._executions = db["test_executions"]
        self._run = OpenRun(db, picks, "jbts bench: step results")
        self._id: str | None = None
        self._step_id = ""
        self._raw_id: ObjectId | None = None
        self._raw_step: dict[str, Any] = {}

    async def before(self, http: httpx.AsyncClient) -> None:
        if self._id is None:
            created = await self._run.add(http)
            await _send(http, "PATCH", f"{EXECUTIONS}/{created['id']}", {"status": "running"})
            self._id, self._step_id = created["id"], created["steps"][0]["step_id"]

    def call(self, rep: int) -> Call:
        result = {"step_id": self._step_id, "status": "passed", "duration_ms": 420 + rep}
        return Call("POST", f"{EXECUTIONS}/{self._id}/steps", body={"steps": [result]})

    async def prepare_raw(self, rep: int) -> None:
        if self._raw_id is None:
            created = await self._run.add_raw()
            await self._executions.update_one(
                {"_id": created["_id"]}, {"$set": {"status": "running"}}
            )
            await self._run.count_raw("queued", "running")
            self._raw_id, self._raw_step = created["_id"], created["steps"][0]

    async def raw(self) -> object:
        now = datetime.now(UTC)
        result: dict[str, Any] = {
            **self._raw_step,
            "status": "passed",
            "started_at": None,
            "finished_at": now,
            "duration_ms": 420,
            "error": None,
            "actual_value": None,
            "screenshot_ids": [],
        }
        return await self._executions.find_one_and_update(
            {"_id": self._raw_id, "status": "running"},
            {"$set": {"steps.$[s]": result, "updated_at": now}},
            array_filters=[{"s.step_id": self._raw_step["step_id"]}],
            return_document=ReturnDocument.AFTER,
        )


class CreateRun(Operation):
    """`POST /executions/runs` of a suite: a run and one queued execution per active case. The
    runs and their executions are deleted after each rep."""

    def __init__(self, db: AsyncDatabase[Any], picks: Picks) -> None:
        super().__init__(
            f"create run ({picks.run_suite_cases})",
            route=f"POST {RUNS}",
            goal=CREATE_RUN,
            raw_query="find_one(suite) + find(cases {_id: {$in}}) + insert_one(run) "
            "+ insert_many(executions)",
        )
        self._db = db
        self._suite_id = picks.run_suite_id
        self._created: list[ObjectId] = []

    def call(self, rep: int) -> Call:
        body = {
            "name": f"jbts bench run {rep}",
            "suite_id": str(self._suite_id),
            "trigger": "ci",
            "branch": "main",
            "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
        }
        return Call("POST", RUNS, body=body)

    def answered(self, response: httpx.Response) -> None:
        self._created.append(ObjectId(response.json()["id"]))

    async def raw(self) -> object:
        suite = await self._db["test_suites"].find_one({"_id": self._suite_id})
        assert suite is not None
        cases = await (
            self._db["test_cases"]
            .find({"_id": {"$in": suite["test_case_ids"]}, "status": "active"})
            .to_list()
        )
        now = datetime.now(UTC)
        run_id = ObjectId()
        counters = dict.fromkeys(
            ("queued", "running", "passed", "failed", "error", "skipped", "cancelled"), 0
        )
        run = {
            "_id": run_id,
            "name": "jbts bench raw run",
            "suite_id": self._suite_id,
            "trigger": "ci",
            "status": "queued",
            "counters": {**counters, "queued": len(cases), "total": len(cases)},
            "version": 1,
            "pending": [],
            "created_at": now,
            "updated_at": now,
        }
        await self._db["test_runs"].insert_one(run)
        self._created.append(run_id)
        executions = [_queued(case, run, now) for case in cases]
        if executions:
            await self._db["test_executions"].insert_many(executions, ordered=False)
        return run

    async def tidy(self) -> None:
        for id in self._created:
            await self._db["test_executions"].delete_many({"run_id": id})
            await self._db["test_runs"].delete_one({"_id": id})
        self._created.clear()


def _queued(case: dict[str, Any], run: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A queued execution of `case` as a hand-written client would insert it."""
    steps = case.get("steps", [])
    run_id = run["_id"]
    return {
        "_id": ObjectId(),
        "run_id": run_id,
        "run": {name: run.get(name) for name in RUN_FACTS},
        "test_case_id": case["_id"],
        "test_case": {
            "version": case.get("version", 1),
            "name": case["name"],
            "automation_key": case.get("automation_key"),
            "steps": steps,
            "tags": case.get("tags", []),
        },
        "attempt": 1,
        "attempt_key": attempt_key(run_id, case["_id"], 1),
        "status": "queued",
        "steps": [
            {
                "step_id": step["id"],
                "order": step["order"],
                "action": step["action"],
                "status": "pending",
                "screenshot_ids": [],
            }
            for step in steps
        ],
        "run_seq": 1,
        "created_at": now,
        "updated_at": now,
    }


async def _history(db: AsyncDatabase[Any], case_id: ObjectId) -> None:
    """A page of the case's executions, newest first, their count, then their runs."""
    executions = db["test_executions"]
    query = {"test_case_id": case_id}
    projection = {"steps": 0, "test_case.steps": 0, "error.stack": 0}
    page = await executions.find(query, projection).sort(LATEST_STARTED).limit(PAGE).to_list()
    await listing.count(executions, query)
    run_ids = list({execution["run_id"] for execution in page})
    await db["test_runs"].find({"_id": {"$in": run_ids}}, {"name": 1, "branch": 1}).to_list()


async def _one(collection: AsyncCollection[Any], id: ObjectId) -> None:
    await collection.find_one({"_id": id})


async def _page(
    collection: AsyncCollection[Any], query: dict[str, Any], sort: list[tuple[str, int]]
) -> None:
    """A list page as a client would fetch it: the first 50, and how many there are."""
    await collection.find(query).sort(sort).limit(PAGE).to_list()
    await listing.count(collection, query)


async def _suite_page(db: AsyncDatabase[Any], suite_id: ObjectId) -> None:
    """The suite's first 50 case ids, then those cases."""
    projection = {"test_case_ids": {"$slice": [0, PAGE]}}
    suite = await db["test_suites"].find_one({"_id": suite_id}, projection)
    ids = suite["test_case_ids"] if suite else []
    await db["test_cases"].find({"_id": {"$in": ids}}).to_list()


def _list(db: AsyncDatabase[Any], name: str, collection: str, path: str, query: str = "") -> Read:
    """An unfiltered first page of a resource, newest first (its default order)."""
    return Read(
        name,
        f"{API}{path}{query}",
        route=f"GET {API}{path}{query}",
        goal=LIST_PAGE,
        raw_query="find({}).sort(created_at -1, _id -1).limit(50) + count command",
        query=partial(_page, db[collection], {}, NEWEST),
    )


def build_operations(
    db: AsyncDatabase[Any], picks: Picks, *, capabilities: Capabilities
) -> list[Operation]:
    """Every operation, in the order they run (reads first; writes tidy up after themselves)."""
    from scripts.bench.analytics import analytics_operations  # which imports this module

    cases = db["test_cases"]
    search = _search(picks.word, capabilities=capabilities)
    full_text = capabilities.full_text_search
    search_kind = "$text" if full_text else "$regex on name, tags, description"
    filtered: dict[str, Any] = {"status": picks.status}
    filter_query = f"?status={picks.status}"
    if picks.tag is not None:
        filtered["tags"] = picks.tag
        filter_query += f"&tags={picks.tag}"
    return [
        Read(
            "get case",
            f"{TESTS}/{picks.case_id}",
            route=f"GET {TESTS}/{{id}}",
            goal=GET,
            raw_query="find_one({_id})",
            query=partial(_one, cases, picks.case_id),
        ),
        _list(db, "list cases", "test_cases", "/tests"),
        Read(
            "list status+tag",
            f"{TESTS}{filter_query}",
            route=f"GET {TESTS}{filter_query}",
            goal=LIST_PAGE,
            raw_query=f"find({filtered}).sort(created_at -1, _id -1).limit(50) + count command",
            query=partial(_page, cases, filtered, NEWEST),
        ),
        Read(
            "list by priority",
            f"{TESTS}?sort_by=priority",
            route=f"GET {TESTS}?sort_by=priority",
            goal=LIST_PAGE,
            raw_query="find({}).sort(priority -1, _id -1).limit(50) + count command "
            "(the stored string's order; the service sorts by a stored rank)",
            query=partial(_page, cases, {}, [("priority", DESCENDING), ("_id", DESCENDING)]),
        ),
        Read(
            "search",
            f"{TESTS}?q={picks.word}",
            route=f"GET {TESTS}?q={picks.word}",
            goal=LIST_PAGE,
            raw_query=f"find({search_kind} for the word).sort(created_at -1, _id -1).limit(50) "
            "+ count command (unranked; the service ranks by relevance)",
            query=partial(_page, cases, search, NEWEST),
        ),
        Read(
            f"suite page ({picks.suite_size})",
            f"{API}/suites/{picks.suite_id}/tests",
            route=f"GET {API}/suites/{{id}}/tests",
            goal=LIST_PAGE,
            raw_query="find_one(suite {_id}, first 50 test_case_ids) + find({_id: {$in: ids}})",
            query=partial(_suite_page, db, picks.suite_id),
        ),
        _list(db, "list suites", "test_suites", "/suites"),
        _list(db, "list templates", "test_templates", "/templates"),
        _list(db, "list browsers", "browser_configurations", "/configurations/browsers"),
        Read(
            "get run",
            f"{RUNS}/{picks.run_id}",
            route=f"GET {RUNS}/{{id}}",
            goal=GET,
            raw_query="find_one({_id})",
            query=partial(_one, db["test_runs"], picks.run_id),
        ),
        _list(db, "list runs", "test_runs", "/executions/runs"),
        Read(
            f"run executions ({picks.run_executions})",
            f"{EXECUTIONS}?run_id={picks.run_id}",
            route=f"GET {EXECUTIONS}?run_id=",
            goal=LIST_PAGE,
            raw_query="find({run_id}).sort(created_at -1, _id -1).limit(50) + count command",
            query=partial(_page, db["test_executions"], {"run_id": picks.run_id}, NEWEST),
        ),
        Read(
            f"case history ({picks.history_executions})",
            f"{TESTS}/{picks.history_case_id}/history",
            route=f"GET {TESTS}/{{id}}/history",
            goal=HISTORY,
            raw_query="find({test_case_id}, no steps).sort(started_at -1, _id -1).limit(50) "
            "+ count command + find(runs {_id: {$in: the page's run ids}})",
            query=partial(_history, db, picks.history_case_id),
        ),
        UpdateCase(cases, picks),
        AppendStep(cases, picks),
        CreateCases(cases, count=None),
        ChangeExecution(db, picks),
        ReportSteps(db, picks),
        CreateRun(db, picks),
        CreateCases(cases, count=100),
        CreateCases(cases, count=1000),
        *artifact_operations(db, picks),
        *analytics_operations(db, picks),
    ]


def _search(word: str, *, capabilities: Capabilities) -> dict[str, Any]:
    """The filter the service's `q` uses on this deployment (`$text`, or its fallback)."""
    if capabilities.full_text_search:
        return text.native_filter(word)
    index = TestCaseListParams.text_index
    assert index is not None
    return text.fallback_filter(word, index, ucp=capabilities.ascii_word_boundaries)


_WORD = re.compile(r"[A-Za-z]{5,}")


async def pick(db: AsyncDatabase[Any], *, capabilities: Capabilities) -> Picks:
    """Realistic, fixed targets from the seeded data.

    A case from the middle of the collection; the most common status in a sample of cases, and
    the most common tag among those; the most common word of five letters or more in their names
    that the search finds; the suite whose size is closest to `SUITE_SIZE`.
    """
    cases = db["test_cases"]
    total = await cases.estimated_document_count()
    if total == 0:
        raise CommandError("the seeded database holds no test cases: nothing to measure")
    case = (
        await cases.find({}, {"version": 1, "steps.id": 1})
        .sort("_id")
        .skip(total // 2)
        .limit(1)
        .next()
    )
    sample = await cases.find({}, {"name": 1, "status": 1, "tags": 1}).limit(SAMPLE).to_list()
    status = Counter(doc["status"] for doc in sample).most_common(1)[0][0]
    tags = Counter(tag for doc in sample if doc["status"] == status for tag in doc.get("tags", []))
    words = Counter(word.lower() for doc in sample for word in _WORD.findall(doc["name"]))
    word = None
    for candidate, _ in words.most_common(10):
        # A stop word (`$text` ignores those) finds nothing: try the next one.
        if (
            await cases.find_one(_search(candidate, capabilities=capabilities), {"_id": 1})
            is not None
        ):
            word = candidate
            break
    suites = await (
        await db["test_suites"].aggregate(
            [{"$project": {"size": {"$size": {"$ifNull": ["$test_case_ids", []]}}}}]
        )
    ).to_list()
    if not suites:
        raise CommandError("the seeded database holds no test suites: nothing to measure")
    suite = min(suites, key=lambda doc: (abs(doc["size"] - SUITE_SIZE), str(doc["_id"])))
    tracking = await _pick_tracking(db)
    artifacts = await _pick_artifacts(db, tracking["run_id"])
    from scripts.bench.analytics import pick_analytics  # which imports this module

    analytics = await pick_analytics(db)
    return Picks(
        cases=total,
        case_id=case["_id"],
        case_version=case.get("version", 1),
        case_steps=len(case.get("steps", [])),
        status=status,
        tag=tags.most_common(1)[0][0] if tags else None,
        word=word or "test",
        suite_id=suite["_id"],
        suite_size=suite["size"],
        **tracking,
        **artifacts,
        **analytics,
    )


async def _pick_tracking(db: AsyncDatabase[Any]) -> dict[str, Any]:
    """The run with the most executions; the case executed most often; the suite whose active
    cases are closest to `RUN_SUITE_SIZE`; two active cases for the benchmark's own runs."""
    run = await db["test_runs"].find_one({}, {"counters.total": 1}, sort=[("counters.total", -1)])
    if run is None:
        raise CommandError("the seeded database holds no test runs: nothing to measure")
    most_run = await (
        await db["test_executions"].aggregate(
            [
                {"$group": {"_id": "$test_case_id", "n": {"$sum": 1}}},
                {"$sort": {"n": -1, "_id": 1}},
                {"$limit": 1},
            ]
        )
    ).to_list()
    active = {
        doc["_id"]
        for doc in await db["test_cases"].find({"status": "active"}, {"_id": 1}).to_list()
    }
    if len(active) < 2 or not most_run:
        raise CommandError("the seeded database holds too few active cases and executions")
    suites = await db["test_suites"].find({}, {"test_case_ids": 1}).to_list()
    sized = [(sum(id in active for id in doc["test_case_ids"]), doc["_id"]) for doc in suites]
    run_suite = min(sized, key=lambda pair: (abs(pair[0] - RUN_SUITE_SIZE), str(pair[1])))
    return {
        "run_id": run["_id"],
        "run_executions": run["counters"]["total"],
        "history_case_id": most_run[0]["_id"],
        "history_executions": most_run[0]["n"],
        "run_suite_id": run_suite[1],
        "run_suite_cases": run_suite[0],
        "active_case_ids": tuple(sorted(active)[:2]),
    }


# -- artifacts ------------------------------------------------------------------------------------

ARTIFACTS = f"{API}/artifacts"
SCREENSHOTS = f"{ARTIFACTS}/screenshots"
LOGS = f"{ARTIFACTS}/logs"
REPORTS = f"{ARTIFACTS}/reports"
UPLOAD_WIDTH, UPLOAD_HEIGHT = 200, 170
"""A screenshot of noise, stored uncompressed: about 100 KB."""
LOG_BATCH_SIZE = 1000
LOG_ORDER = [("timestamp", ASCENDING), ("_id", ASCENDING)]


def noise_png() -> bytes:
    """About 100 KB of PNG, different bytes every call (so deduplication never applies)."""
    pixels = os.urandom(UPLOAD_WIDTH * UPLOAD_HEIGHT * 3)
    return encode_png(UPLOAD_WIDTH, UPLOAD_HEIGHT, pixels, level=0)


def _screenshot_document(
    execution: dict[str, Any], file_id: ObjectId, data: bytes, sha256: str
) -> dict[str, Any]:
    now = datetime.now(UTC)
    return stored(
        build(
            Screenshot,
            id=ObjectId(),
            created_at=now,
            execution_id=execution["_id"],
            run_id=execution["run_id"],
            file_id=file_id,
            filename="bench.png",
            content_type="image/png",
            size=len(data),
            sha256=sha256,
            width=UPLOAD_WIDTH,
            height=UPLOAD_HEIGHT,
            taken_at=now,
        )
    )


class ScreenshotStore:
    """Screenshots written directly, as a hand-written client would: the bytes with GridFS, then
    the metadata; and the removal of any screenshot with its file (its only reference)."""

    def __init__(self, db: AsyncDatabase[Any], execution_id: ObjectId) -> None:
        self._db = db
        self._execution_id = execution_id
        self._execution: dict[str, Any] | None = None
        self.bucket = AsyncGridFSBucket(db, bucket_name=SCREENSHOT_BUCKET)

    async def execution(self) -> dict[str, Any]:
        if self._execution is None:
            found = await self._db["test_executions"].find_one(
                {"_id": self._execution_id}, {"run_id": 1}
            )
            if found is None:
                raise BenchError(f"execution {self._execution_id} is gone")
            self._execution = found
        return self._execution

    async def upload(self, data: bytes, execution: dict[str, Any]) -> dict[str, Any]:
        sha256 = hashlib.sha256(data).hexdigest()
        metadata = {"content_type": "image/png", "refs": 1, "sha256": sha256}
        file_id = await self.bucket.upload_from_stream("bench.png", data, metadata=metadata)
        document = _screenshot_document(execution, file_id, data, sha256)
        await self._db["screenshots"].insert_one(document)
        return document

    async def remove(self, id: ObjectId) -> None:
        found = await self._db["screenshots"].find_one_and_delete({"_id": id}, {"file_id": 1})
        if found is not None:
            await self._db[f"{SCREENSHOT_BUCKET}.chunks"].delete_many(
                {"files_id": found["file_id"]}
            )
            await self._db[f"{SCREENSHOT_BUCKET}.files"].delete_one({"_id": found["file_id"]})


class UploadScreenshot(Operation):
    """`POST /artifacts/screenshots` (multipart) of a new ~100 KB PNG of an execution; every
    screenshot is deleted with its file after each rep."""

    def __init__(self, db: AsyncDatabase[Any], picks: Picks) -> None:
        super().__init__(
            "upload screenshot",
            route=f"POST {SCREENSHOTS}",
            goal=UPLOAD,
            raw_query="GridFS upload_from_stream(bytes, metadata) + insert_one(screenshot)",
        )
        self._store = ScreenshotStore(db, picks.execution_id)
        self._execution_id = picks.execution_id
        self._created: list[ObjectId] = []
        self._data = b""
        self._execution: dict[str, Any] = {}

    def call(self, rep: int) -> Call:
        return Call(
            "POST",
            SCREENSHOTS,
            files={"file": ("bench.png", noise_png(), "image/png")},
            data={"execution_id": str(self._execution_id)},
        )

    def answered(self, response: httpx.Response) -> None:
        self._created.append(ObjectId(response.json()["id"]))

    async def prepare_raw(self, rep: int) -> None:
        self._data = noise_png()
        self._execution = await self._store.execution()

    async def raw(self) -> object:
        document = await self._store.upload(self._data, self._execution)
        self._created.append(document["_id"])
        return document

    async def tidy(self) -> None:
        for id in self._created:
            await self._store.remove(id)
        self._created.clear()


class DownloadScreenshot(Operation):
    """`GET /artifacts/screenshots/{id}/content` of a ~100 KB screenshot the benchmark stores
    once (and leaves: one document more in the scratch database)."""

    def __init__(self, db: AsyncDatabase[Any], picks: Picks) -> None:
        super().__init__(
            "download screenshot",
            route=f"GET {SCREENSHOTS}/{{id}}/content",
            goal=DOWNLOAD,
            raw_query="GridFS open_download_stream(file_id).read()",
        )
        self._store = ScreenshotStore(db, picks.execution_id)
        self._screenshot: dict[str, Any] | None = None

    async def _stored(self) -> dict[str, Any]:
        if self._screenshot is None:
            self._screenshot = await self._store.upload(noise_png(), await self._store.execution())
        return self._screenshot

    async def before(self, http: httpx.AsyncClient) -> None:
        await self._stored()

    def call(self, rep: int) -> Call:
        assert self._screenshot is not None
        return Call("GET", f"{SCREENSHOTS}/{self._screenshot['_id']}/content")

    async def prepare_raw(self, rep: int) -> None:
        await self._stored()

    async def raw(self) -> object:
        assert self._screenshot is not None
        stream = await self._store.bucket.open_download_stream(self._screenshot["file_id"])
        return await stream.read()


def _log_line(run_id: ObjectId, execution_id: ObjectId, number: int) -> dict[str, Any]:
    return {
        "run_id": str(run_id),
        "execution_id": str(execution_id),
        "step_order": number % 8,
        "level": ("debug", "info", "info", "warning")[number % 4],
        "source": ("runner", "browser", "network", "driver")[number % 4],
        "message": f"GET https://shop.example.com/api/cart?item={number} 200 ({40 + number} ms)",
        "context": {"status": 200, "line": number},
    }


class PostLogs(Operation):
    """`POST /artifacts/logs` of 1,000 lines of an execution (stamped now, so the retention keeps
    them until they are deleted after each rep)."""

    def __init__(self, db: AsyncDatabase[Any], picks: Picks) -> None:
        super().__init__(
            f"post {LOG_BATCH_SIZE} log lines",
            route=f"POST {LOGS}",
            goal=LOG_BATCH,
            raw_query=f"insert_many({LOG_BATCH_SIZE} log entries, ordered=False)",
            share=10,
        )
        self._logs = db["log_entries"]
        self._store = ScreenshotStore(db, picks.execution_id)
        self._execution_id = picks.execution_id
        self._created: list[ObjectId] = []
        self._documents: list[dict[str, Any]] = []
        self._run_id: ObjectId | None = None

    async def before(self, http: httpx.AsyncClient) -> None:
        self._run_id = (await self._store.execution())["run_id"]

    def call(self, rep: int) -> Call:
        assert self._run_id is not None
        lines = [_log_line(self._run_id, self._execution_id, n) for n in range(LOG_BATCH_SIZE)]
        return Call("POST", LOGS, body={"entries": lines})

    def answered(self, response: httpx.Response) -> None:
        results = response.json()["results"]
        self._created += [ObjectId(result["id"]) for result in results if result.get("id")]
        failures = [result for result in results if result["status"] == "failed"]
        if failures:
            raise BenchError(f"POST {LOGS}: {len(failures)} of {LOG_BATCH_SIZE} lines failed")

    async def prepare_raw(self, rep: int) -> None:
        run_id = (await self._store.execution())["run_id"]
        now = datetime.now(UTC)
        self._documents = []
        for number in range(LOG_BATCH_SIZE):
            line = _log_line(run_id, self._execution_id, number)
            fields = {**line, "run_id": run_id, "execution_id": self._execution_id}
            document = build(LogEntry, id=ObjectId(), created_at=now, timestamp=now, **fields)
            self._documents.append(stored(document))
        self._created += [document["_id"] for document in self._documents]

    async def raw(self) -> object:
        return await self._logs.insert_many(self._documents, ordered=False)

    async def tidy(self) -> None:
        for start in range(0, len(self._created), DELETE_BATCH):
            batch = self._created[start : start + DELETE_BATCH]
            await self._logs.bulk_write([DeleteOne({"_id": id}) for id in batch], ordered=False)
        self._created.clear()


class GenerateReport(Operation):
    """`POST /artifacts/reports`: a JSON report of the run with the most executions; deleted
    (with its GridFS file, if it has one) after each rep."""

    def __init__(self, db: AsyncDatabase[Any], picks: Picks) -> None:
        super().__init__(
            f"json report ({picks.run_executions})",
            route=f"POST {REPORTS}",
            goal=REPORT,
            raw_query="find_one(run) + find({run_id}).sort(created_at, _id) "
            "+ insert_one(report, the JSON of both inline)",
            share=5,
        )
        self._db = db
        self._run_id = picks.run_id
        self._created: list[ObjectId] = []

    def call(self, rep: int) -> Call:
        return Call("POST", REPORTS, body={"run_id": str(self._run_id), "format": "json"})

    def answered(self, response: httpx.Response) -> None:
        self._created.append(ObjectId(response.json()["id"]))

    async def raw(self) -> object:
        run = await self._db["test_runs"].find_one({"_id": self._run_id})
        executions = (
            await self._db["test_executions"]
            .find({"run_id": self._run_id})
            .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            .to_list()
        )
        content = json_util.dumps({"run": run, "executions": executions})
        id = ObjectId()
        now = datetime.now(UTC)
        report = build(
            TestReport,
            id=id,
            created_at=now,
            run_id=self._run_id,
            format="json",
            summary=(run or {}).get("counters", {}),
            generated_at=now,
            size=len(content.encode()),
            content=content,
        )
        self._created.append(id)
        return await self._db["test_reports"].insert_one(stored(report))

    async def tidy(self) -> None:
        for id in self._created:
            found = await self._db["test_reports"].find_one_and_delete(
                {"_id": id}, {"content_file_id": 1}
            )
            file_id = found.get("content_file_id") if found else None
            if file_id is not None:
                await self._db[f"{REPORT_BUCKET}.chunks"].delete_many({"files_id": file_id})
                await self._db[f"{REPORT_BUCKET}.files"].delete_one({"_id": file_id})
        self._created.clear()


def artifact_operations(db: AsyncDatabase[Any], picks: Picks) -> list[Operation]:
    """Reads of artifacts, then their writes (each tidies up after itself)."""
    logs_query = {"run_id": picks.logged_run_id}
    return [
        Read(
            f"run logs ({picks.run_log_lines})",
            f"{LOGS}?run_id={picks.logged_run_id}",
            route=f"GET {LOGS}?run_id=",
            goal=LIST_PAGE,
            raw_query="find({run_id}).sort(timestamp 1, _id 1).limit(50) + count command",
            query=partial(_page, db["log_entries"], logs_query, LOG_ORDER),
        ),
        DownloadScreenshot(db, picks),
        UploadScreenshot(db, picks),
        PostLogs(db, picks),
        GenerateReport(db, picks),
    ]


async def _pick_artifacts(db: AsyncDatabase[Any], run_id: ObjectId) -> dict[str, Any]:
    """An execution of the run with the most executions; the run with the most log lines."""
    execution = await db["test_executions"].find_one({"run_id": run_id}, {"_id": 1})
    if execution is None:
        raise CommandError(f"the seeded run {run_id} has no executions")
    logged = await (
        await db["log_entries"].aggregate(
            [
                {"$group": {"_id": "$run_id", "n": {"$sum": 1}}},
                {"$sort": {"n": -1, "_id": 1}},
                {"$limit": 1},
            ]
        )
    ).to_list()
    return {
        "execution_id": execution["_id"],
        "logged_run_id": logged[0]["_id"] if logged else run_id,
        "run_log_lines": logged[0]["n"] if logged else 0,
    }
