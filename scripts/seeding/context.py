"""What every domain's seeder shares: the seeded randomness, ids, timestamps, unique names.

Everything random comes from the run's own `random.Random(seed)` and its `Faker` seeded with the
same number, never from the global random state; ids and timestamps too. So the same seed gives
the same documents, `_id`s and step ids included, on any day: timestamps fall in the year before
`REFERENCE_TIME`, a fixed instant, not before "now".
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from beanie import Document, PydanticObjectId
from faker import Faker
from pydantic import BaseModel

if TYPE_CHECKING:
    from pymongo.asynchronous.database import AsyncDatabase

    from scripts.seeding import SeedSize

REFERENCE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
"""Seeded timestamps lie in the `HISTORY` before this instant (fixed: see the module docstring)."""
HISTORY = timedelta(days=365)
type Window = tuple[float, float]
"""A part of the history, as fractions of it: (0, 0.1) is its first tenth."""
FAKER_LOCALE = "en_US"


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a seeder's `prepare` made: raw documents written before its own (GridFS files and
    chunks its documents name, per collection, in order), and a note for the summary."""

    raw: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Seeder:
    """How one collection is seeded: how many documents, and how to build them.

    `count` says how many `build` yields: by the size (`context.size`), or by what an earlier
    seeder planned (`SeedContext.plan`: a run's executions are built with the run). `build`
    yields validated documents in the order they are written; each one is kept in the context
    once written, so a later seeder can refer to it (suites to test cases).

    `prepare`, where given, runs first with the database: it may plan the documents (reading
    what the database keeps, such as the log retention) and returns raw documents to write
    before them (`Prepared`).
    """

    document: type[Document]
    count: Callable[[SeedContext], int]
    build: Callable[[SeedContext], Iterator[Document]]
    prepare: Callable[[SeedContext, AsyncDatabase[Any]], Awaitable[Prepared]] | None = None

    @property
    def collection(self) -> str:
        name: str = self.document.Settings.name
        return name


@dataclass(slots=True)
class SeedContext:
    """One seeding run: its size, its randomness, and every document built so far."""

    size: SeedSize
    rng: random.Random
    faker: Faker
    _seeded: dict[type[Document], list[Document]] = field(default_factory=dict)
    _object_ids: set[PydanticObjectId] = field(default_factory=set)
    _planned: dict[type[Document], list[Document]] = field(default_factory=dict)
    _keyed_ids: dict[str, PydanticObjectId] = field(default_factory=dict)

    @classmethod
    def create(cls, *, size: SeedSize, seed: int) -> SeedContext:
        faker = Faker(FAKER_LOCALE)
        faker.seed_instance(seed)
        rng = random.Random(seed)  # noqa: S311 - fake data: reproducible, not secret
        return cls(size=size, rng=rng, faker=faker)

    def keep(self, document: Document) -> None:
        self._seeded.setdefault(type(document), []).append(document)

    def seeded[D: Document](self, document: type[D]) -> list[D]:
        """Every document of that class written so far, in the order they were written."""
        return cast("list[D]", self._seeded.get(document, []))

    def plan(self, document: Document) -> None:
        """Hold a document that a later seeder writes (built early: a run's counters come from
        its executions, so both are built together and the run is written first)."""
        self._planned.setdefault(type(document), []).append(document)

    def planned[D: Document](self, document: type[D]) -> list[D]:
        """The documents of that class planned so far, in the order they were planned."""
        return cast("list[D]", self._planned.get(document, []))

    def take_planned[D: Document](self, document: type[D]) -> Iterator[D]:
        """Hand the planned documents of that class over, in order, forgetting each one."""
        planned = cast("list[D]", self._planned.pop(document, []))
        planned.reverse()
        while planned:
            yield planned.pop()

    # -- ids and times -------------------------------------------------------------------------

    def object_id(self, created_at: datetime) -> PydanticObjectId:
        """An ObjectId from the seeded randomness: its time part is `created_at`, as a driver's.

        Never one this run has given before, so no insert meets a duplicate `_id`.
        """
        seconds = int(created_at.timestamp()).to_bytes(4, "big")
        while True:
            candidate = PydanticObjectId(seconds + self.rng.randbytes(8))
            if candidate not in self._object_ids:
                self._object_ids.add(candidate)
                return candidate

    def keyed_id(self, key: str, created_at: datetime) -> PydanticObjectId:
        """The id of the thing `key` names (content stored once, by its hash): a new one the
        first time, the same one after."""
        if key not in self._keyed_ids:
            self._keyed_ids[key] = self.object_id(created_at)
        return self._keyed_ids[key]

    def step_ids(self, count: int) -> list[str]:
        """`count` distinct step ids, 12 hex characters like the API's."""
        ids: dict[str, None] = {}
        while len(ids) < count:
            ids[f"{self.rng.getrandbits(48):012x}"] = None
        return list(ids)

    def moment(self, start: float = 0.0, end: float = 1.0) -> datetime:
        """A time in the history, between fractions `start` and `end` of it (0: a year before
        the reference time, 1: the reference time), in milliseconds as BSON keeps them."""
        offset = HISTORY * self.rng.uniform(start, end)
        return _millis(REFERENCE_TIME - HISTORY + offset)

    def history(self, window: Window, *, counter: str = "version") -> dict[str, Any]:
        """A new document's `_id`, `created_at` (in `window`), `updated_at` and counter.

        About a third of the documents were changed after they were created: a later
        `updated_at` and a change counter (`version`, or `counter`) above 1.
        """
        created = self.moment(*window)
        if self.chance(0.35):
            updated = _millis(created + (REFERENCE_TIME - created) * self.rng.random())
            changes = self.rng.randint(2, 9)
        else:
            updated, changes = created, 1
        return {
            "id": self.object_id(created),
            "created_at": created,
            "updated_at": updated,
            counter: changes,
        }

    # -- choices -------------------------------------------------------------------------------

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def weighted[T](self, weights: dict[T, int]) -> T:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def maybe[T](self, probability: float, items: list[T]) -> T | None:
        """One of `items` with that probability (None otherwise, or when there are none)."""
        return self.rng.choice(items) if items and self.chance(probability) else None


def _millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class UniqueNames:
    """Names for a collection with a unique name index: a repeated name gets " 2", " 3", ..."""

    def __init__(self) -> None:
        self._used: dict[str, int] = {}

    def take(self, name: str) -> str:
        if name not in self._used:
            self._used[name] = 1
            return name
        number, candidate = self._used[name], name
        while candidate in self._used:
            number += 1
            candidate = f"{name} {number}"
        self._used[name] = number
        self._used[candidate] = 1
        return candidate


def build[D: Document](document: type[D], **fields: Any) -> D:
    """Validate `fields` as `document`: every default, derived field and check the model has.

    Without binding Beanie to a database: `Document.__init__` validates, then insists that
    `init_beanie` has bound the class to a collection. Seeding writes with the driver to the
    database it is given, and leaves Beanie's global binding alone (a caller may have bound the
    documents to another database, as the API does).
    """
    instance = document.__new__(document)
    BaseModel.__init__(instance, **fields)
    return instance


def stored(document: Document) -> dict[str, Any]:
    """The document as inserted, exactly as the API's bulk create stores one."""
    fields: dict[str, Any] = document.model_dump(by_alias=True, exclude={"revision_id"})
    return fields
