"""Idempotency keys: claim a key for one request, replay what it answered, or let it go.

A key is claimed by inserting its record (`_id` = a hash of the key), so of two concurrent requests
with one key exactly one wins, on every deployment, with no transaction. The winner runs the
request and then either stores its response (`complete`) or deletes the record (`release`) so a
retry runs again. While it runs, it renews a lease (`locked_until`): if its process dies, a retry
of the same request may take the key over once the lease has lapsed.

Database errors are not translated: they are the caller's to report (the API maps them to 503).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from api.errors import ProblemError
from documents.base import utcnow
from documents.idempotency import (
    IDEMPOTENCY_KEY_TTL_SECONDS,
    IdempotencyRecord,
    IdempotencyState,
    StoredResponse,
)

logger = logging.getLogger(__name__)

KEY_TTL = timedelta(seconds=IDEMPOTENCY_KEY_TTL_SECONDS)
# How long a claim outlives its last renewal. A running request renews it every LEASE / 3, so only
# a claim whose process is gone (or frozen for a whole lease) can be taken over.
LEASE = timedelta(seconds=60)
RENEW_EVERY = LEASE / 3
# A key released or expired between our insert and our read is claimed again; a few rounds are
# plenty, since each one only loses to another request that just claimed the key.
_CLAIM_ATTEMPTS = 3


class IdempotencyKeyReused(ProblemError):
    """The key already belongs to a request with another method, path, query or body."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    slug = "idempotency-key-reused"


RETRY_AFTER_SECONDS = 1


class IdempotencyKeyInUse(ProblemError):
    """The first request with this key is still running; its answer is not known yet."""

    status = HTTPStatus.CONFLICT
    slug = "idempotency-key-in-use"

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}


@dataclass(frozen=True, slots=True)
class Claim:
    """The caller holds the key: it must `complete` or `release` it."""

    key_id: str
    owner: str


@dataclass(frozen=True, slots=True)
class Replay:
    """The key's request already succeeded: answer with its response."""

    response: StoredResponse


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def request_fingerprint(*, method: str, path: str, query: bytes, body: bytes) -> str:
    """A hash of what makes two requests the same request (each part length-prefixed)."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _collection() -> AsyncCollection[dict[str, Any]]:
    collection: AsyncCollection[dict[str, Any]] = IdempotencyRecord.get_pymongo_collection()
    return collection


def _fresh_record(*, fingerprint: str, method: str, path: str, owner: str) -> dict[str, Any]:
    """A new claim's fields (without `_id`), as stored."""
    now = utcnow()
    record = IdempotencyRecord(
        id="",
        request_hash=fingerprint,
        method=method,
        path=path,
        owner=owner,
        locked_until=now + LEASE,
        created_at=now,
        expires_at=now + KEY_TTL,
    )
    fields: dict[str, Any] = record.model_dump(by_alias=True, exclude={"id", "revision_id"})
    return fields


async def claim(*, key: str, fingerprint: str, method: str, path: str) -> Claim | Replay:
    """Claim `key` for this request, or say what became of the request that claimed it first.

    Raises `IdempotencyKeyReused` when the key belongs to a different request and
    `IdempotencyKeyInUse` while the first request is still running.
    """
    collection = _collection()
    kid = key_id(key)
    for _ in range(_CLAIM_ATTEMPTS):
        owner = secrets.token_hex(16)
        fresh = _fresh_record(fingerprint=fingerprint, method=method, path=path, owner=owner)
        try:
            await collection.insert_one({"_id": kid, **fresh})
            return Claim(key_id=kid, owner=owner)
        except DuplicateKeyError:
            pass
        now = utcnow()
        # The record is dead if its 24 h are over (the TTL monitor may not have run yet), or if
        # its owner stopped renewing the lease: then this same request may run in its place.
        taken = await collection.replace_one(
            {
                "_id": kid,
                "$or": [
                    {"expires_at": {"$lte": now}},
                    {
                        "state": IdempotencyState.IN_PROGRESS,
                        "locked_until": {"$lte": now},
                        "request_hash": fingerprint,
                    },
                ],
            },
            fresh,
        )
        if taken.matched_count:
            return Claim(key_id=kid, owner=owner)
        raw = await collection.find_one({"_id": kid})
        if raw is None:
            continue  # released (its request failed) since our insert: claim it again
        existing = IdempotencyRecord.model_validate(raw)
        if existing.expires_at <= utcnow():
            continue
        if existing.request_hash != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used for a different request (method, path, "
                "query or body); use a new key for a new request"
            )
        if existing.state == IdempotencyState.DONE and existing.response is not None:
            return Replay(response=existing.response)
        break
    raise IdempotencyKeyInUse(
        "a request with this Idempotency-Key is still being processed; retry shortly"
    )


async def renew(*, claim: Claim) -> None:
    """Extend the claim's lease while its request runs."""
    await _collection().update_one(
        {"_id": claim.key_id, "owner": claim.owner, "state": IdempotencyState.IN_PROGRESS},
        {"$set": {"locked_until": utcnow() + LEASE}},
    )


async def complete(*, claim: Claim, response: StoredResponse) -> None:
    """Store the request's response: from now on the key replays it."""
    result = await _collection().update_one(
        {"_id": claim.key_id, "owner": claim.owner},
        {
            "$set": {
                "state": IdempotencyState.DONE,
                "response": response.model_dump(),
                "locked_until": utcnow(),
            }
        },
    )
    if result.matched_count == 0:
        # Only when the lease lapsed and a retry took the key over: that retry's answer is kept.
        logger.warning("idempotency key %s was taken over before its response was stored", claim)


async def release(*, claim: Claim) -> None:
    """Forget the claim, so a retry with the same key runs the request again."""
    await _collection().delete_one({"_id": claim.key_id, "owner": claim.owner})
