"""Idempotency keys: one record per `Idempotency-Key` a client sent, with the response to replay."""

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 60 * 60


class IdempotencyState(StrEnum):
    IN_PROGRESS = "in_progress"
    DONE = "done"


class StoredResponse(BaseModel):
    """The first response to a keyed request: what a replay sends back, byte for byte."""

    status_code: int = Field(ge=200, le=299)
    headers: dict[str, str] = Field(default_factory=dict)
    body: bytes = b""


class IdempotencyRecord(Document):
    """A claimed key. `_id` is a SHA-256 of the key, so keys of any length fit and none is stored.

    While `in_progress`, the claim belongs to `owner` until `locked_until` (a lease its request
    renews while it runs). Past its lease, a pending claim is a request whose outcome is unknown
    (abandoned mid-write, or its server died): the key is never run again, only told so until it
    expires. `expires_at` ends the record's life: the TTL index removes it, and a record past it is
    treated as absent even before the TTL monitor runs.
    """

    id: str  # type: ignore[assignment]  # a key hash, not an ObjectId
    request_hash: str
    method: str
    path: str
    state: IdempotencyState = IdempotencyState.IN_PROGRESS
    owner: str
    locked_until: datetime
    response: StoredResponse | None = None
    created_at: datetime
    expires_at: datetime

    class Settings:
        name = "idempotency_keys"
        indexes: ClassVar[list[IndexModel]] = [
            # MongoDB removes a record once `expires_at` has passed.
            IndexModel([("expires_at", ASCENDING)], name="ttl_expires_at", expireAfterSeconds=0),
        ]
