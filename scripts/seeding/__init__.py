"""Realistic, linked fake data for every collection the API serves: `jbts seed`, and the benchmark.

`seed_database(db, size=..., seed=...)` fills an already migrated, empty database. One module per
domain builds its documents (`configurations`, `templates`, `test_defs`, `suites`,
`executions`, `artifacts`); `seeders()` lists them in the order their references need, so a
later feature adds its own module, its count to `SeedSize`, and a line there.

Documents are built and validated through the Beanie document models (every default and derived
field the models define) and written with the driver in unordered `insert_many` batches of
`EMBEDDED_WRITE_BATCH` (on every deployment: the progress bar's step, and bounded commands on the
embedded engine). Everything random comes from the seed: the same seed gives the same
documents, ids and timestamps included (see `context.REFERENCE_TIME`).

This module stays light to import (the CLI reads `SIZES` to build its options): the models,
Faker and the driver are imported by the functions that use them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import batched
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from beanie import Document
    from pymongo.asynchronous.database import AsyncDatabase

    from scripts.seeding.context import SeedContext, Seeder

LARGEST_SUITE = 200
"""The largest suite holds this many cases (or every case, when there are fewer)."""


class SeedError(RuntimeError):
    """The database cannot be seeded as it is; nothing was written."""


@dataclass(frozen=True, slots=True)
class SeedSize:
    """How many documents each collection gets."""

    name: str
    browser_configurations: int
    environments: int
    templates: int
    test_cases: int
    suites: int
    runs: int  # each with one execution per active case of its suite, and some retries
    logged_runs: int  # the latest runs whose executions have log lines
    reported_runs: int  # the latest runs with a JSON report
    # Screenshots follow from the runs: one per failed step, and some of passed ones.

    @property
    def largest_suite(self) -> int:
        return min(LARGEST_SUITE, self.test_cases)


SizeName = Literal["small", "medium", "large"]
"""The names in `SIZES`, as a type (the CLI offers them as choices)."""

SIZES: Mapping[str, SeedSize] = MappingProxyType(
    {
        size.name: size
        for size in (
            SeedSize("small", 4, 3, 5, 50, 6, 10, 2, 2),
            SeedSize("medium", 8, 6, 15, 1_000, 40, 100, 10, 5),
            SeedSize("large", 12, 10, 40, 10_000, 150, 1_000, 20, 10),
        )
    }
)


class SeedProgress(Protocol):
    """Told what is being written: `jbts seed` shows it as one progress bar per collection."""

    def start(self, collection: str, total: int) -> None:
        """Writing `total` documents into `collection` begins."""

    def advance(self, n: int) -> None:
        """`n` more documents of the current collection are written."""


@dataclass(frozen=True, slots=True)
class SeededCollection:
    name: str
    documents: int
    seconds: float
    note: str | None = None


@dataclass(frozen=True, slots=True)
class SeedSummary:
    size: str
    seed: int
    collections: tuple[SeededCollection, ...]

    @property
    def documents(self) -> dict[str, int]:
        """Documents inserted per collection."""
        return {collection.name: collection.documents for collection in self.collections}

    @property
    def seconds(self) -> float:
        return sum(collection.seconds for collection in self.collections)


def seeders() -> tuple[Seeder, ...]:
    """Every collection's seeder, each after those it refers to."""
    from scripts.seeding import (
        artifacts,
        configurations,
        executions,
        suites,
        templates,
        test_defs,
    )

    return (
        *configurations.SEEDERS,
        *templates.SEEDERS,
        *test_defs.SEEDERS,
        *suites.SEEDERS,
        *executions.SEEDERS,
        *artifacts.SEEDERS,
    )


async def seed_database(
    db: AsyncDatabase[Any],
    *,
    size: str = "medium",
    seed: int = 0,
    progress: SeedProgress | None = None,
) -> SeedSummary:
    """Fill `db` (migrated to the latest version, the collections to seed empty) with `size`.

    Raises `SeedError` (before writing anything) for an unknown size, a database whose schema
    is not the latest, or one whose collections to seed already hold documents: every name is
    unique within one run, so the unique indexes cannot stop it midway.
    """
    from scripts.seeding.context import Prepared, SeedContext

    plan = SIZES.get(size)
    if plan is None:
        raise SeedError(f"unknown size {size!r}: choose one of {', '.join(SIZES)}")
    planned = seeders()
    await _check_can_seed(db, planned)
    context = SeedContext.create(size=plan, seed=seed)
    seeded: list[SeededCollection] = []
    for seeder in planned:
        started = time.perf_counter()
        prepared = Prepared() if seeder.prepare is None else await seeder.prepare(context, db)
        for name, raw in prepared.raw.items():
            if progress is not None:
                progress.start(name, len(raw))
            written = await _write_raw(db, name, raw, progress)
            seeded.append(SeededCollection(name, written, time.perf_counter() - started))
            started = time.perf_counter()
        total = seeder.count(context)
        if progress is not None:
            progress.start(seeder.collection, total)
        written = await _write(db, seeder.collection, seeder.build(context), context, progress)
        seconds = time.perf_counter() - started
        seeded.append(SeededCollection(seeder.collection, written, seconds, prepared.note))
    return SeedSummary(size=plan.name, seed=seed, collections=tuple(seeded))


async def _check_can_seed(db: AsyncDatabase[Any], planned: Iterable[Seeder]) -> None:
    from api.database import migrations
    from api.database.connection import SchemaState

    state = SchemaState(
        current=await migrations.current_version(db), latest=migrations.latest_version()
    )
    if (problem := state.problem()) is not None:
        raise SeedError(problem)
    from documents.artifacts import GRIDFS_COLLECTIONS

    for collection in [*(seeder.collection for seeder in planned), *GRIDFS_COLLECTIONS]:
        if await db[collection].find_one({}, {"_id": 1}) is not None:
            raise SeedError(
                f"{collection} already holds documents: seed an empty database, or drop "
                "the service's collections first (`jbts seed --reset`)"
            )


async def _write_raw(
    db: AsyncDatabase[Any],
    collection: str,
    documents: list[dict[str, Any]],
    progress: SeedProgress | None,
) -> int:
    """Insert raw documents (GridFS files and chunks) in unordered batches."""
    from api.database.capabilities import EMBEDDED_WRITE_BATCH

    for batch in batched(documents, EMBEDDED_WRITE_BATCH, strict=False):
        await db[collection].insert_many(list(batch), ordered=False)
        if progress is not None:
            progress.advance(len(batch))
    return len(documents)


async def _write(
    db: AsyncDatabase[Any],
    collection: str,
    documents: Iterable[Document],
    context: SeedContext,
    progress: SeedProgress | None,
) -> int:
    """Insert in unordered batches of `EMBEDDED_WRITE_BATCH`; each document is kept once
    written."""
    from api.database.capabilities import EMBEDDED_WRITE_BATCH
    from scripts.seeding.context import stored

    written = 0
    for batch in batched(documents, EMBEDDED_WRITE_BATCH, strict=False):
        await db[collection].insert_many([stored(document) for document in batch], ordered=False)
        for document in batch:
            context.keep(document)
        written += len(batch)
        if progress is not None:
            progress.advance(len(batch))
    return written
