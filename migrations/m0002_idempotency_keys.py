"""Idempotency keys: one record per `Idempotency-Key`, removed by a TTL index after 24 h."""

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from migrations._schema import (
    binary,
    date,
    drop_collection,
    ensure_collection,
    enum,
    free_object,
    integer,
    obj,
    string,
)
from migrations.m0001_initial import CollectionSpec

VERSION = 2
NAME = "idempotency keys"


COLLECTIONS: list[CollectionSpec] = [
    CollectionSpec(
        name="idempotency_keys",
        validator={
            "$jsonSchema": obj(
                {
                    "request_hash": string(pattern="^[0-9a-f]{64}$"),
                    "method": string(min_length=1),
                    "path": string(min_length=1),
                    "state": enum("in_progress", "done"),
                    "owner": string(min_length=1),
                    "locked_until": date(),
                    "response": obj(
                        {
                            "status_code": {**integer(minimum=200), "maximum": 299},
                            "headers": free_object(),
                            "body": binary(),
                        },
                        required=["status_code", "headers", "body"],
                        nullable=True,
                    ),
                    "created_at": date(),
                    "expires_at": date(),
                },
                required=[
                    "request_hash",
                    "method",
                    "path",
                    "state",
                    "owner",
                    "locked_until",
                    "created_at",
                    "expires_at",
                ],
            )
        },
        indexes=[
            # expireAfterSeconds 0: a record goes as soon as its own `expires_at` has passed.
            IndexModel([("expires_at", ASCENDING)], name="ttl_expires_at", expireAfterSeconds=0),
        ],
    ),
]


async def forward(db: AsyncDatabase[Any]) -> None:
    for spec in COLLECTIONS:
        await ensure_collection(db, spec.name, validator=spec.validator, indexes=spec.indexes)


async def backward(db: AsyncDatabase[Any]) -> None:
    for spec in reversed(COLLECTIONS):
        await drop_collection(db, spec.name)
