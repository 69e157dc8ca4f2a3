"""GridFS indexes: the screenshots' deduplication lookup, and the indexes GridFS itself needs.

An upload looks for the live file with the same bytes, the oldest first
(`{"metadata.sha256": s, "metadata.refs": {"$gt": 0}}` sorted by `_id`): until now that scanned
every file of the bucket `screenshots`. `metadata.sha256, _id` serves it (equality, then the
sort; the few files with one digest are then checked for `refs`, which is left out of the key
because it changes on every reference taken).

The indexes every GridFS driver creates before a bucket's first upload (`filename, uploadDate`
on `<bucket>.files`, the unique `files_id, n` on `<bucket>.chunks`, same keys and names) are
created here for both buckets, `screenshots` and `reports`, instead of by the service before each
upload. No document describes these collections, so they are `GRIDFS_INDEXES`, not `INDEXES`
(tests/test_schema_drift.py compares `INDEXES` with the documents).

Forward creates the missing ones. Backward drops `metadata_sha256` only: the driver's own
indexes may predate this migration (the service and PyMongo created them at upload), and
PyMongo recreates them only in an empty bucket, so dropping them would leave the older code's
reads unindexed. Safe to re-run.
"""

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

VERSION = 8
NAME = "gridfs indexes"

BUCKETS = ("screenshots", "reports")
SHA256_INDEX = IndexModel(
    [("metadata.sha256", ASCENDING), ("_id", ASCENDING)], name="metadata_sha256"
)


def _driver_indexes(bucket: str) -> dict[str, list[IndexModel]]:
    """What PyMongo's `GridIn` creates before a bucket's first upload (the same default names)."""
    return {
        f"{bucket}.files": [
            IndexModel([("filename", ASCENDING), ("uploadDate", ASCENDING)]),
        ],
        f"{bucket}.chunks": [
            IndexModel([("files_id", ASCENDING), ("n", ASCENDING)], unique=True),
        ],
    }


GRIDFS_INDEXES: dict[str, list[IndexModel]] = {
    collection: models
    for bucket in BUCKETS
    for collection, models in _driver_indexes(bucket).items()
}
GRIDFS_INDEXES["screenshots.files"].append(SHA256_INDEX)
"""Per GridFS collection, the indexes this migration ensures."""


async def forward(db: AsyncDatabase[Any]) -> None:
    for collection, models in GRIDFS_INDEXES.items():
        await db[collection].create_indexes(models)


async def backward(db: AsyncDatabase[Any]) -> None:
    files = db["screenshots.files"]
    if SHA256_INDEX.document["name"] in [
        index["name"] async for index in await files.list_indexes()
    ]:
        await files.drop_index(SHA256_INDEX.document["name"])
