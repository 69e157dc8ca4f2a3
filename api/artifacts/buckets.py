"""The GridFS buckets as a whole: their sizes, and the files nothing references (orphans).

Two buckets hold artifact bytes: `screenshots` (files named by the `screenshots` collection's
`file_id`, reference-counted in `metadata.refs`: see `screenshot_service`) and `reports` (a large
report's content, named by the `test_reports` document's `content_file_id`; the file's
`metadata.report_id` names that report). Both write the file before the document that names it
and delete it after, so an interruption can leave a file nothing references, never a document
whose bytes are missing.

An **orphan** is a file uploaded more than `ORPHAN_GRACE` ago that no document references, or
whose reference count is 0 or less (its last reference went, and the process deleting it died).
The grace period keeps an upload in progress (its file is written before its document) from
being taken for one. Finding orphans reads every file of a bucket once (with one indexed lookup
per file), so it is work for `jbts stats` and `jbts prune`, never for a request.

Deleting a screenshot file that still has references is guarded like a release: its count is
first taken to 0 only if it is still the count read (an upload that took a reference meanwhile
keeps it), and once at 0 nothing takes it again (`screenshot_service._deduplicate`). If a
screenshot pointing to it appeared between the check and the guard (an upload between its
`$inc` and its document, milliseconds), the count is given back and the file kept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo.asynchronous.database import AsyncDatabase

SCREENSHOTS = "screenshots"
"""The screenshots' bucket, and the collection of their metadata."""
REPORTS = "reports"
"""The bucket of large reports' content."""
REPORT_DOCUMENTS = "test_reports"
BUCKETS = (SCREENSHOTS, REPORTS)
ORPHAN_GRACE = timedelta(hours=1)
"""How old an unreferenced file must be to count as an orphan (an upload takes far less)."""


@dataclass(frozen=True, slots=True)
class Removed:
    """What a delete removed: documents, and the GridFS files it freed with their bytes."""

    documents: int = 0
    files: int = 0
    bytes: int = 0

    def __add__(self, other: Removed) -> Removed:
        return Removed(
            documents=self.documents + other.documents,
            files=self.files + other.files,
            bytes=self.bytes + other.bytes,
        )


@dataclass(frozen=True, slots=True)
class BucketStats:
    bucket: str
    files: int
    bytes: int
    orphans: int


@dataclass(frozen=True, slots=True)
class Orphan:
    file_id: ObjectId
    length: int
    refs: int | None


def files(db: AsyncDatabase[Any], bucket: str) -> Any:
    return db[f"{bucket}.files"]


async def _referenced(db: AsyncDatabase[Any], bucket: str, stored: dict[str, Any]) -> bool:
    """Whether a metadata or report document names this file (one indexed lookup)."""
    metadata = stored.get("metadata") or {}
    if bucket == SCREENSHOTS:
        query: dict[str, Any] = {"file_id": stored["_id"]}
        if isinstance(metadata.get("sha256"), str):
            query["sha256"] = metadata["sha256"]  # the `sha256` index finds the few candidates
        return await db[SCREENSHOTS].find_one(query, projection={"_id": 1}) is not None
    query = {"content_file_id": stored["_id"]}
    if metadata.get("report_id") is not None:
        query["_id"] = metadata["report_id"]
    return await db[REPORT_DOCUMENTS].find_one(query, projection={"_id": 1}) is not None


def _refs(stored: dict[str, Any]) -> int | None:
    refs = (stored.get("metadata") or {}).get("refs")
    return int(refs) if isinstance(refs, int | float) else None


async def orphans(
    db: AsyncDatabase[Any], bucket: str, *, uploaded_before: datetime
) -> AsyncIterator[Orphan]:
    """The bucket's orphans among the files uploaded before `uploaded_before`."""
    cursor = files(db, bucket).find(
        {"uploadDate": {"$lt": uploaded_before}},
        projection={"length": 1, "metadata": 1},
        batch_size=500,
    )
    async with cursor:
        async for stored in cursor:
            refs = _refs(stored)
            if (refs is not None and refs <= 0) or not await _referenced(db, bucket, stored):
                yield Orphan(ObjectId(stored["_id"]), int(stored.get("length", 0)), refs)


async def bucket_stats(db: AsyncDatabase[Any], *, now: datetime) -> list[BucketStats]:
    """Per bucket: files, bytes (their `length`) and orphans. Read with a cursor, not an
    aggregation: the embedded engine refuses an aggregation over more than 50,000 documents."""
    result: list[BucketStats] = []
    for bucket in BUCKETS:
        count = size = 0
        cursor = files(db, bucket).find({}, projection={"length": 1}, batch_size=1000)
        async with cursor:
            async for stored in cursor:
                count += 1
                size += int(stored.get("length", 0))
        found = [orphan async for orphan in orphans(db, bucket, uploaded_before=now - ORPHAN_GRACE)]
        result.append(BucketStats(bucket=bucket, files=count, bytes=size, orphans=len(found)))
    return result


async def delete_orphan(db: AsyncDatabase[Any], bucket: str, orphan: Orphan) -> bool:
    """Delete an orphan found by `orphans`; False where it is no longer one (see the module)."""
    if bucket == SCREENSHOTS and orphan.refs is not None and orphan.refs > 0:
        taken = await files(db, bucket).update_one(
            {"_id": orphan.file_id, "metadata.refs": orphan.refs},
            {"$inc": {"metadata.refs": -orphan.refs}},
        )
        if taken.modified_count == 0:
            return False
        stored = {"_id": orphan.file_id, "metadata": {}}
        current = await files(db, bucket).find_one({"_id": orphan.file_id}, {"metadata": 1})
        if current is not None:
            stored = current
        if await _referenced(db, bucket, stored):
            await files(db, bucket).update_one(
                {"_id": orphan.file_id}, {"$inc": {"metadata.refs": orphan.refs}}
            )
            return False
    with suppress(NoFile):  # deleted meanwhile: nothing left to free
        await AsyncGridFSBucket(db, bucket_name=bucket).delete(orphan.file_id)
        return True
    return False


async def remove_orphans(
    db: AsyncDatabase[Any], *, now: datetime, dry_run: bool = False
) -> dict[str, Removed]:
    """Per bucket, the orphans deleted (or, with `dry_run`, found: nothing is written)."""
    removed: dict[str, Removed] = {}
    for bucket in BUCKETS:
        total = Removed()
        async for orphan in orphans(db, bucket, uploaded_before=now - ORPHAN_GRACE):
            if dry_run or await delete_orphan(db, bucket, orphan):
                total += Removed(files=1, bytes=orphan.length)
        removed[bucket] = total
    return removed
