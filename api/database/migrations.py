"""The migration runner: discovers `migrations/mNNNN_*.py`, applies and reverts them in order.

The applied versions are recorded in the `schema_migrations` collection (one document per
version, `_id` = the version number), so `status` and `/health/ready` read them from the database
itself. The collections a migration creates are those its `COLLECTIONS` list names, and the
GridFS buckets' collections its `GRIDFS_INDEXES` names: with the record, they are the service's
own collections (`jbts reset` drops exactly these, so a reset leaves no orphaned GridFS files).

A migration may also define `reconcile(db, settings)`: a step that follows the service's settings
rather than the code (the log retention of m0007). `up` runs it for every applied migration that
has one, after applying those pending, also when none was: changing such a setting and running
`jbts migrate up` applies it.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any, cast

from pymongo.asynchronous.database import AsyncDatabase

import migrations as migrations_package
from api.settings import Settings, get_settings
from documents.base import utcnow

MIGRATIONS_COLLECTION = "schema_migrations"
_MODULE_NAME = re.compile(r"^m(\d{4})_\w+$")

MigrationStep = Callable[[AsyncDatabase[Any]], Awaitable[None]]
ReconcileStep = Callable[[AsyncDatabase[Any], Settings], Awaitable[None]]


class MigrationError(RuntimeError):
    """A migration could not be found, applied or reverted."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    forward: MigrationStep
    backward: MigrationStep
    collections: tuple[str, ...] = ()
    """The collections this migration creates (the names in its `COLLECTIONS`, then the GridFS
    collections in its `GRIDFS_INDEXES`)."""
    reconcile: ReconcileStep | None = None
    """What follows the settings (see the module's docstring), run after every `up`."""


@dataclass(frozen=True, slots=True)
class MigrationState:
    version: int
    name: str
    applied_at: datetime | None

    @property
    def applied(self) -> bool:
        return self.applied_at is not None


def _load(module: ModuleType) -> Migration:
    try:
        version = int(module.VERSION)
        name = str(module.NAME)
        forward = cast("MigrationStep", module.forward)
        backward = cast("MigrationStep", module.backward)
    except AttributeError as exc:
        raise MigrationError(f"{module.__name__} is not a migration: {exc}") from exc
    collections = (
        *(spec.name for spec in getattr(module, "COLLECTIONS", ())),
        *getattr(module, "GRIDFS_INDEXES", {}),
    )
    reconcile = cast("ReconcileStep | None", getattr(module, "reconcile", None))
    return Migration(
        version=version,
        name=name,
        forward=forward,
        backward=backward,
        collections=collections,
        reconcile=reconcile,
    )


def discover() -> list[Migration]:
    """Every migration in the `migrations` package, in version order."""
    found: list[Migration] = []
    for info in pkgutil.iter_modules(migrations_package.__path__):
        match = _MODULE_NAME.match(info.name)
        if match is None:
            continue
        migration = _load(importlib.import_module(f"{migrations_package.__name__}.{info.name}"))
        if migration.version != int(match.group(1)):
            raise MigrationError(
                f"{info.name} declares VERSION {migration.version}, its file name says "
                f"{int(match.group(1))}"
            )
        found.append(migration)
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions: {versions}")
    return found


def service_collections() -> list[str]:
    """The migration record, then every collection the migrations create (in the order they
    do), the GridFS buckets' included."""
    created = [name for m in discover() for name in m.collections]
    return [MIGRATIONS_COLLECTION, *dict.fromkeys(created)]


def latest_version() -> int:
    known = discover()
    return known[-1].version if known else 0


async def applied_versions(db: AsyncDatabase[Any]) -> dict[int, datetime]:
    cursor = db[MIGRATIONS_COLLECTION].find({}, {"applied_at": 1})
    return {int(doc["_id"]): doc["applied_at"] async for doc in cursor}


async def current_version(db: AsyncDatabase[Any]) -> int:
    applied = await applied_versions(db)
    return max(applied, default=0)


async def status(db: AsyncDatabase[Any]) -> list[MigrationState]:
    applied = await applied_versions(db)
    return [
        MigrationState(version=m.version, name=m.name, applied_at=applied.get(m.version))
        for m in discover()
    ]


async def up(
    db: AsyncDatabase[Any], *, target: int | None = None, settings: Settings | None = None
) -> list[Migration]:
    """Apply every pending migration up to `target` (default: the latest), then reconcile every
    applied one with `settings` (default: the environment's). Returns those applied."""
    known = discover()
    if target is not None and target not in {0, *(m.version for m in known)}:
        raise MigrationError(f"no migration has version {target}")
    applied = await applied_versions(db)
    done: list[Migration] = []
    for migration in known:
        if target is not None and migration.version > target:
            break
        if migration.version in applied:
            continue
        try:
            await migration.forward(db)
        except Exception as exc:
            raise MigrationError(
                f"migration {migration.version:04d} ({migration.name}) failed: {exc}"
            ) from exc
        await db[MIGRATIONS_COLLECTION].replace_one(
            {"_id": migration.version},
            {"_id": migration.version, "name": migration.name, "applied_at": utcnow()},
            upsert=True,
        )
        done.append(migration)
    await reconcile(db, settings or get_settings())
    return done


async def reconcile(db: AsyncDatabase[Any], settings: Settings) -> None:
    """Run the `reconcile` step of every applied migration that has one, in version order."""
    applied = await applied_versions(db)
    for migration in discover():
        if migration.reconcile is None or migration.version not in applied:
            continue
        try:
            await migration.reconcile(db, settings)
        except Exception as exc:
            raise MigrationError(
                f"migration {migration.version:04d} ({migration.name}) could not apply the "
                f"settings: {exc}"
            ) from exc


async def down(db: AsyncDatabase[Any], *, target: int | None = None) -> list[Migration]:
    """Revert applied migrations newer than `target` (default: only the newest one)."""
    known = discover()
    applied = await applied_versions(db)
    to_revert = [m for m in reversed(known) if m.version in applied]
    if target is None:
        to_revert = to_revert[:1]
    else:
        if target not in {0, *(m.version for m in known)}:
            raise MigrationError(f"no migration has version {target}")
        to_revert = [m for m in to_revert if m.version > target]
    for migration in to_revert:
        try:
            await migration.backward(db)
        except Exception as exc:
            raise MigrationError(
                f"reverting migration {migration.version:04d} ({migration.name}) failed: {exc}"
            ) from exc
        await db[MIGRATIONS_COLLECTION].delete_one({"_id": migration.version})
    return to_revert


@dataclass(frozen=True, slots=True)
class ResetResult:
    dropped: list[str]
    applied: list[Migration]


async def reset(db: AsyncDatabase[Any]) -> ResetResult:
    """Drop the service's collections, then apply every migration: the empty, current schema.

    Other collections in the database are kept. The migration record goes first, so a reset
    interrupted midway leaves a database that says it is not migrated (the API refuses writes
    until `jbts migrate up`), never collections missing while the record says they exist. A
    database migrated by newer code is refused: the collections only that code knows would stay.
    """
    current, latest = await current_version(db), latest_version()
    if current > latest:
        raise MigrationError(
            f"the database schema is at migration {current}, newer than this jbts knows "
            f"({latest}): reset it with the newer one"
        )
    existing = set(await db.list_collection_names())
    dropped = [name for name in service_collections() if name in existing]
    for name in dropped:
        await db.drop_collection(name)
    return ResetResult(dropped=dropped, applied=await up(db))
