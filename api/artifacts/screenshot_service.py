"""Screenshots: bytes in the GridFS bucket `screenshots`, metadata in the `screenshots` collection.

Upload (`create_screenshot`): the target (execution, step) is checked first; the bytes are then
streamed into a new GridFS file, hashed on the way; the type is sniffed from the first bytes
(415 before anything is written), a file over the limit is aborted (413: its chunks removed).

Identical bytes are stored once, with a reference count in each GridFS file's metadata
(`metadata.refs`: how many screenshots point to it) and these rules:

- every screenshot holds one reference to its file; a new upload's own file starts with `refs: 1`
  (the upload's), and its `metadata.sha256` is set once it is complete;
- a reference is taken on an existing file only with `$inc` guarded by `refs > 0`: a file whose
  count reached 0 is never taken again;
- whoever moves a count to 0 (`_release`) deletes the file.

An upload then takes the live file with its SHA-256 that has the smallest `_id` (its own, if no
other); where that is another file it takes a reference there and releases its own (whose count
then reaches 0 unless another upload took it meanwhile). Two concurrent uploads of the same bytes
both see the other's complete file or one of them completes later, so they end on one file
(the smaller `_id`); an upload racing with the delete of the last reference to a file either
takes the reference before the count reaches 0 (the file stays) or keeps its own file. A delete
removes the metadata, then releases its reference: exactly one of two concurrent deletes of the
last two references sees the count reach 0, so the file is deleted once, and never while a
screenshot points to it. What is not guaranteed: a process killed between the metadata write and
the count's (a few milliseconds) leaves a count one too high, i.e. a file kept that nothing
references or, on upload, an own file never released: an orphan, which `jbts stats` counts and
`jbts prune` deletes (`api.artifacts.buckets`).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from beanie import PydanticObjectId
from bson import Binary, ObjectId
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from api.artifacts import images
from api.artifacts.buckets import Removed
from api.artifacts.screenshot_schemas import ScreenshotListParams
from api.errors import InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from api.executions.schemas import MAX_SCREENSHOTS_PER_STEP
from api.query import RawPage, find_page
from api.query.crud import get_or_404
from documents.artifacts import SCREENSHOT_BUCKET, Screenshot
from documents.base import utcnow
from documents.executions import TestExecution

BUCKET = SCREENSHOT_BUCKET
HEAD_BYTES = 256 * 1024
"""How much of a file's start is kept to read its dimensions (a JPEG's frame header follows its
metadata segments, which may be long)."""
LABEL = "screenshot"


def database() -> AsyncDatabase[Any]:
    return Screenshot.get_pymongo_collection().database


def bucket() -> AsyncGridFSBucket:
    return AsyncGridFSBucket(database(), bucket_name=BUCKET)


def files() -> Any:
    return database()[f"{BUCKET}.files"]


@dataclass(frozen=True)
class Target:
    """Where a screenshot belongs: its execution's run, and the step's order where it has one."""

    run_id: PydanticObjectId
    step_order: int | None


@dataclass(frozen=True)
class StoredFile:
    file_id: ObjectId
    sha256: str
    size: int
    content_type: images.ImageType
    width: int | None
    height: int | None


async def check_target(*, execution_id: PydanticObjectId, step_id: str | None) -> Target:
    """The execution's run and the step's order; 422 for an unknown execution or step, or a step
    that lists the most screenshots it may."""
    found = await TestExecution.get_pymongo_collection().find_one(
        {"_id": execution_id},
        projection={"run_id": 1, "steps.step_id": 1, "steps.order": 1, "steps.screenshot_ids": 1},
    )
    if found is None:
        raise InvalidInput.at("body.execution_id", f"execution {execution_id} does not exist")
    if step_id is None:
        return Target(run_id=found["run_id"], step_order=None)
    for step in found.get("steps", []):
        if step.get("step_id") == step_id:
            if len(step.get("screenshot_ids", [])) >= MAX_SCREENSHOTS_PER_STEP:
                raise _step_full(step_id)
            return Target(run_id=found["run_id"], step_order=step.get("order"))
    raise InvalidInput.at("body.step_id", f"execution {execution_id} has no step {step_id!r}")


def _step_full(step_id: str) -> InvalidInput:
    return InvalidInput.at(
        "body.step_id",
        f"step {step_id!r} lists {MAX_SCREENSHOTS_PER_STEP} screenshots already, the most a "
        "step may",
    )


CHUNK_SIZE = 255 * 1024
"""GridFS's default chunk size."""


class GridFSUpload:
    """A new file in the bucket, written in GridFS's format a chunk at a time.

    PyMongo's `GridIn` (what `open_upload_stream` returns) buffers up to 32 MiB of chunks for one
    `insert_many`, which would hold a large screenshot in memory (three times over, with its BSON
    message); this inserts each 255 KiB chunk as it fills, then the files document, so a reader
    sees the file only once it is whole. `abort` removes the chunks written. The indexes GridFS
    drivers create before an upload are migration 0008's (so an upload does not ask for them).
    """

    def __init__(self, *, filename: str) -> None:
        self.file_id = ObjectId()
        self.filename = filename
        self._buffer = bytearray()
        self._chunk_number = 0
        self._length = 0

    async def write(self, data: bytes) -> None:
        self._buffer += data
        self._length += len(data)
        while len(self._buffer) >= CHUNK_SIZE:
            await self._flush(bytes(self._buffer[:CHUNK_SIZE]))
            del self._buffer[:CHUNK_SIZE]

    async def _flush(self, data: bytes) -> None:
        await database()[f"{BUCKET}.chunks"].insert_one(
            {"files_id": self.file_id, "n": self._chunk_number, "data": Binary(data)}
        )
        self._chunk_number += 1

    async def close(self, *, metadata: dict[str, Any]) -> None:
        if self._buffer:
            await self._flush(bytes(self._buffer))
            self._buffer.clear()
        await files().insert_one(
            {
                "_id": self.file_id,
                "length": self._length,
                "chunkSize": CHUNK_SIZE,
                "uploadDate": utcnow(),
                "filename": self.filename,
                "metadata": metadata,
            }
        )

    async def abort(self) -> None:
        await database()[f"{BUCKET}.chunks"].delete_many({"files_id": self.file_id})


async def store_file(*, chunks: AsyncIterator[bytes], filename: str, max_bytes: int) -> StoredFile:
    """Stream `chunks` into a new GridFS file and deduplicate it (see the module)."""
    head = bytearray()
    pending: list[bytes] = []
    kind: images.ImageType | None = None
    async for chunk in chunks:
        head += chunk
        pending.append(chunk)
        if len(head) >= images.SNIFF_BYTES:
            break
    kind = images.sniff(bytes(head))
    if kind is None:
        raise UnsupportedMediaType(
            "the file is not a PNG, JPEG or WebP image (its type is read from its bytes)"
        )
    digest = hashlib.sha256()
    size = 0
    upload = GridFSUpload(filename=filename)
    try:

        async def rest() -> AsyncIterator[bytes]:
            for chunk in pending:
                yield chunk
            async for chunk in chunks:
                if len(head) < HEAD_BYTES:
                    head.extend(chunk[: HEAD_BYTES - len(head)])
                yield chunk

        async for chunk in rest():
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(
                    f"the screenshot is larger than the limit of {max_bytes} bytes"
                )
            digest.update(chunk)
            await upload.write(chunk)
        sha256 = digest.hexdigest()
        await upload.close(metadata={"content_type": kind.value, "refs": 1, "sha256": sha256})
    except BaseException:
        await upload.abort()
        raise
    dimensions = images.dimensions(kind, bytes(head))
    width, height = dimensions if dimensions else (None, None)
    file_id = await _deduplicate(upload.file_id, sha256)
    return StoredFile(file_id, sha256, size, kind, width, height)


async def _deduplicate(own: ObjectId, sha256: str) -> ObjectId:
    """The file the new screenshot points to, holding a reference there (see the module)."""
    for _ in range(3):
        oldest = await files().find_one(
            {"metadata.sha256": sha256, "metadata.refs": {"$gt": 0}},
            projection={"_id": 1},
            sort=[("_id", ASCENDING)],
        )
        if oldest is None or oldest["_id"] == own:
            return own
        taken = await files().update_one(
            {"_id": oldest["_id"], "metadata.refs": {"$gt": 0}}, {"$inc": {"metadata.refs": 1}}
        )
        if taken.modified_count == 1:
            await _release(own)
            return ObjectId(oldest["_id"])
    return own


async def _release(file_id: ObjectId) -> Removed:
    """Drop one reference to the file; the one who drops the last deletes it (and says so)."""
    after = await files().find_one_and_update(
        {"_id": file_id},
        {"$inc": {"metadata.refs": -1}},
        projection={"metadata.refs": 1, "length": 1},
        return_document=ReturnDocument.AFTER,
    )
    if after is not None and after.get("metadata", {}).get("refs", 0) <= 0:
        # The count reaches 0 once, so nobody else deletes it; a crashed earlier attempt might.
        with suppress(NoFile):
            await bucket().delete(file_id)
            return Removed(files=1, bytes=int(after.get("length", 0)))
    return Removed()


async def create_screenshot(
    *,
    execution_id: PydanticObjectId,
    step_id: str | None,
    taken_at: datetime | None,
    filename: str | None,
    chunks: AsyncIterator[bytes],
    max_bytes: int,
) -> Screenshot:
    """Store an uploaded screenshot and its metadata, and list it in its step's results."""
    target = await check_target(execution_id=execution_id, step_id=step_id)
    stored = await store_file(chunks=chunks, filename=filename or "screenshot", max_bytes=max_bytes)
    screenshot = Screenshot(
        execution_id=execution_id,
        run_id=target.run_id,
        step_id=step_id,
        step_order=target.step_order,
        file_id=PydanticObjectId(stored.file_id),
        filename=filename,
        content_type=stored.content_type.value,
        size=stored.size,
        sha256=stored.sha256,
        width=stored.width,
        height=stored.height,
        taken_at=taken_at or utcnow(),
    )
    try:
        await screenshot.insert()
    except BaseException:
        await _release(stored.file_id)
        raise
    if step_id is not None and not await _link(screenshot, step_id):
        await delete_screenshot(id=_id(screenshot))
        raise _step_full(step_id)
    return screenshot


def _id(screenshot: Screenshot) -> PydanticObjectId:
    assert screenshot.id is not None
    return screenshot.id


async def _link(screenshot: Screenshot, step_id: str) -> bool:
    """List the screenshot in its step's `screenshot_ids`: one `$push`, guarded so that it is
    never listed twice nor past the step's maximum. False if the step is full (or gone)."""
    result = await TestExecution.get_pymongo_collection().update_one(
        {"_id": screenshot.execution_id, "steps.step_id": step_id},
        {"$push": {"steps.$[step].screenshot_ids": screenshot.id}},
        array_filters=[
            {
                "step.step_id": step_id,
                "step.screenshot_ids": {"$ne": screenshot.id},
                f"step.screenshot_ids.{MAX_SCREENSHOTS_PER_STEP - 1}": {"$exists": False},
            }
        ],
    )
    return result.modified_count == 1


async def list_screenshots(*, params: ScreenshotListParams) -> RawPage:
    return await find_page(Screenshot, params)


async def get_screenshot(*, id: PydanticObjectId) -> Screenshot:
    return await get_or_404(Screenshot, id, label=LABEL)


async def delete_screenshot(*, id: PydanticObjectId) -> Removed:
    """Unlist it from its step, delete its metadata, then release its file (see the module)."""
    screenshot = await get_or_404(Screenshot, id, label=LABEL)
    if screenshot.step_id is not None:
        await TestExecution.get_pymongo_collection().update_one(
            {"_id": screenshot.execution_id},
            {"$pull": {"steps.$[step].screenshot_ids": id}},
            array_filters=[{"step.step_id": screenshot.step_id}],
        )
    deleted = await Screenshot.get_pymongo_collection().find_one_and_delete(
        {"_id": id}, projection={"file_id": 1}
    )
    if deleted is None:  # deleted meanwhile by another request, which releases the file
        raise NotFound(f"{LABEL} {id} does not exist")
    return Removed(documents=1) + await _release(deleted["file_id"])


async def delete_run_screenshots(*, run_id: PydanticObjectId) -> Removed:
    """Delete every screenshot of a run (for a run's deletion and pruning): how many, and the
    GridFS files (and bytes) that went with their last reference."""
    removed = Removed()
    async for found in Screenshot.get_pymongo_collection().find(
        {"run_id": run_id}, projection={"_id": 1}
    ):
        try:
            removed += await delete_screenshot(id=found["_id"])
        except NotFound:
            continue
    return removed


async def count_run_screenshots(*, run_id: PydanticObjectId) -> tuple[int, dict[ObjectId, int]]:
    """A run's screenshots, and per GridFS file how many of them point to it (a dry run of
    `delete_run_screenshots`: see `files_freed`)."""
    count = 0
    per_file: dict[ObjectId, int] = {}
    async for found in Screenshot.get_pymongo_collection().find(
        {"run_id": run_id}, projection={"file_id": 1}
    ):
        count += 1
        per_file[found["file_id"]] = per_file.get(found["file_id"], 0) + 1
    return count, per_file


async def files_freed(references: dict[ObjectId, int]) -> Removed:
    """The files that deleting these references (per file, how many) would free: those whose
    count is no more than that. One `_id` lookup per file."""
    freed = Removed()
    for file_id, taken in references.items():
        stored = await files().find_one(
            {"_id": file_id}, projection={"metadata.refs": 1, "length": 1}
        )
        if stored is not None and stored.get("metadata", {}).get("refs", 0) <= taken:
            freed += Removed(files=1, bytes=int(stored.get("length", 0)))
    return freed


CHUNKS_PER_BATCH = 4
"""GridFS chunks fetched per round trip while streaming (the driver's default first batch, 101
chunks of 255 KiB, would hold 25 MiB in memory)."""


@dataclass(frozen=True)
class Content:
    """A screenshot's bytes from `start`, `length` of them, read a GridFS chunk at a time."""

    file_id: ObjectId
    chunk_size: int
    start: int
    length: int

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.length <= 0:
            return
        first = self.start // self.chunk_size
        last = (self.start + self.length - 1) // self.chunk_size
        skip = self.start - first * self.chunk_size
        left = self.length
        cursor = database()[f"{BUCKET}.chunks"].find(
            {"files_id": self.file_id, "n": {"$gte": first, "$lte": last}},
            projection={"data": 1, "_id": 0},
            sort=[("n", ASCENDING)],
            batch_size=CHUNKS_PER_BATCH,
        )
        async with cursor:
            async for chunk in cursor:
                data = bytes(chunk["data"])[skip : skip + left]
                skip = 0
                left -= len(data)
                yield data
                if left <= 0:
                    break


async def open_content(
    *, screenshot: Screenshot, start: int = 0, length: int | None = None
) -> Content:
    """Where the screenshot's bytes are (404 if its file is gone)."""
    stored = await files().find_one(
        {"_id": screenshot.file_id}, projection={"length": 1, "chunkSize": 1}
    )
    if stored is None:
        raise NotFound(f"the bytes of {LABEL} {screenshot.id} are gone")
    total = int(stored["length"])
    return Content(
        file_id=ObjectId(screenshot.file_id),
        chunk_size=int(stored["chunkSize"]),
        start=start,
        length=total - start if length is None else length,
    )
