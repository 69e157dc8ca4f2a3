"""What the benchmark measures: each operation as an HTTP request, and its raw PyMongo equivalent.

Every operation has a fixed target picked from the seeded data (`Picks`), the same for every rep.
The raw equivalents are the simple queries a hand-written client would send for the same answer
(`raw_query` says which); the ratio of the two is what the service adds on top of the database.
Writes that create documents delete them after each rep, outside the measured time, so the
collections keep their seeded size.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
from bson import ObjectId
from pymongo import DESCENDING, DeleteOne, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from api.database.capabilities import Capabilities
from api.query import listing, text
from api.test_defs.params import TestCaseListParams
from api.test_defs.schemas import StepCreate, TestCaseCreate
from api.test_defs.service import new_case_document
from documents.test_defs import TestStep, new_step_id
from scripts.common import CommandError

API = "/api/v1"
TESTS = f"{API}/tests"
BENCH_TAG = "jbts-bench"
"""Tags every case the benchmark creates."""
SAMPLE = 500
"""Cases read to pick a realistic tag and search word."""
SUITE_SIZE = 200
"""The suite whose page is measured is the one whose size is closest to this."""
NEWEST = [("created_at", DESCENDING), ("_id", DESCENDING)]
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


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request."""

    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


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

    def describe(self) -> dict[str, Any]:
        return {
            "test_cases": self.cases,
            "case_id": str(self.case_id),
            "status": self.status,
            "tag": self.tag,
            "word": self.word,
            "suite_id": str(self.suite_id),
            "suite_size": self.suite_size,
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
        UpdateCase(cases, picks),
        AppendStep(cases, picks),
        CreateCases(cases, count=None),
        CreateCases(cases, count=100),
        CreateCases(cases, count=1000),
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
    )
