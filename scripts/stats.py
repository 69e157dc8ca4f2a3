"""`jbts stats`: documents, sizes and indexes per collection, and what the database supports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scripts.common import DataDirOption, console, open_database, run, use_target

if TYPE_CHECKING:
    from pymongo.asynchronous.database import AsyncDatabase

    from api.artifacts.buckets import BucketStats
    from api.database.capabilities import Capabilities
    from scripts.target import Target

# The driver and the database layer are imported inside the functions: see common.py.


@dataclass(frozen=True, slots=True)
class CollectionStats:
    name: str
    count: int
    size: int
    indexes: list[str]


@dataclass(frozen=True, slots=True)
class DatabaseStats:
    collections: list[CollectionStats]
    migration: int
    latest: int
    capabilities: Capabilities
    buckets: list[BucketStats]


async def _collection_stats(db: AsyncDatabase[Any], name: str) -> dict[str, Any]:
    """`collStats` (deprecated on MongoDB 6.2+, still answered); a count where it is refused."""
    from pymongo.errors import OperationFailure

    try:
        stats: dict[str, Any] = await db.command("collStats", name)
    except OperationFailure:
        return {"count": await db[name].estimated_document_count(), "size": 0}
    return stats


async def gather(target: Target) -> DatabaseStats:
    from api.artifacts.buckets import bucket_stats
    from api.database import migrations
    from api.database.capabilities import probe
    from documents.base import utcnow

    async with open_database(target) as db:
        collections: list[CollectionStats] = []
        for name in sorted(await db.list_collection_names()):
            stats = await _collection_stats(db, name)
            indexes = [index["name"] async for index in await db[name].list_indexes()]
            collections.append(
                CollectionStats(
                    name=name,
                    count=int(stats.get("count", 0)),
                    size=int(stats.get("size", 0)),
                    indexes=indexes,
                )
            )
        capabilities = await probe(db.client, db, key=target.uri)
        return DatabaseStats(
            collections=collections,
            migration=await migrations.current_version(db),
            latest=migrations.latest_version(),
            capabilities=capabilities,
            buckets=await bucket_stats(db, now=utcnow()),
        )


def stats(data_dir: DataDirOption = None) -> None:
    """Documents, data size and indexes of every collection; files, bytes and orphan files
    (unreferenced, uploaded over an hour ago: `jbts prune` removes them) per GridFS bucket."""
    from rich.table import Table

    with use_target(data_dir=data_dir) as target:
        result = run(gather(target))
    table = Table("collection", "documents", "bytes", "indexes", title=target.description)
    for collection in result.collections:
        table.add_row(
            collection.name,
            str(collection.count),
            str(collection.size),
            ", ".join(collection.indexes),
        )
    console.print(table)
    gridfs = Table(
        "bucket", "files", "bytes", "orphan files", title="GridFS (orphans: should be 0)"
    )
    for bucket in result.buckets:
        gridfs.add_row(bucket.bucket, str(bucket.files), str(bucket.bytes), str(bucket.orphans))
    console.print(gridfs)
    console.print(f"Migrations: {result.migration} applied, latest {result.latest}")
    flags = result.capabilities.model_dump()
    console.print(
        "Capabilities: "
        + ", ".join(f"{name} {'yes' if on else 'no'}" for name, on in flags.items())
    )
