"""API keys: the `api_keys` collection, one document per key, holding only the key's hash.

Forward creates the collection with its validator and the unique indexes on `hash` (a request
finds its key by it) and `name` (a name names one key). Backward drops it. Safe to re-run.
"""

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from migrations._schema import (
    array,
    date,
    drop_collection,
    ensure_collection,
    enum,
    string,
    timestamped,
)
from migrations.m0001_initial import CollectionSpec

VERSION = 10
NAME = "api keys"

SCOPES = (
    "definitions:read",
    "definitions:write",
    "results:read",
    "results:write",
    "config:read",
    "config:write",
    "secrets:read",
    "admin",
)

COLLECTIONS: list[CollectionSpec] = [
    CollectionSpec(
        name="api_keys",
        validator=timestamped(
            {
                "name": string(min_length=1),
                "prefix": string(min_length=1),
                "hash": string(pattern="^[0-9a-f]{64}$"),
                "scopes": array(enum(*SCOPES)),
                "created_by": string(min_length=1),
                "expires_at": date(nullable=True),
                "last_used_at": date(nullable=True),
                "revoked_at": date(nullable=True),
            },
            required=["name", "prefix", "hash", "scopes", "created_by"],
        ),
        indexes=[
            IndexModel([("hash", ASCENDING)], name="hash_unique", unique=True),
            IndexModel([("name", ASCENDING)], name="name_unique", unique=True),
        ],
    ),
]


async def forward(db: AsyncDatabase[Any]) -> None:
    for spec in COLLECTIONS:
        await ensure_collection(db, spec.name, validator=spec.validator, indexes=spec.indexes)


async def backward(db: AsyncDatabase[Any]) -> None:
    for spec in reversed(COLLECTIONS):
        await drop_collection(db, spec.name)
