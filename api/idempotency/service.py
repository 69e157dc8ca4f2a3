"""Idempotency keys: claim a key for one request, replay what it answered, or let it go.

A key is claimed by inserting its record (`_id` = a hash of the key), so of two concurrent requests
with one key exactly one wins, on every deployment, with no transaction. The winner runs the
request and then either stores its response (`complete`), deletes the record (`release`) when the
request is known to have written nothing, so a retry runs again, or ends its lease at once
(`abandon`) when whether it wrote is unknown. While it runs, it renews the lease (`locked_until`).

A pending claim past its lease is a request whose outcome is unknown (abandoned, or its process
died mid-request): it is never run again under that key, since its write may have landed. A retry
gets `IdempotencyOutcomeUnknown` until the record's 24 h are over.

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
from documents.base import as_utc, utcnow
from documents.idempotency import (
    IDEMPOTENCY_KEY_TTL_SECONDS,
    IdempotencyRecord,
    IdempotencyState,
    StoredResponse,
)

logger = logging.getLogger(__name__)

KEY_TTL = timedelta(seconds=IDEMPOTENCY_KEY_TTL_SECONDS)
# How long a claim outlives its last renewal. A running request renews it every LEASE / 3, so only
# a claim whose process is gone (or frozen for a whole lease) lapses: its outcome is unknown.
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


class IdempotencyOutcomeUnknown(ProblemError):
    """The first request with this key ended without a known outcome: it may have written."""

    status = HTTPStatus.CONFLICT
    slug = "idempotency-outcome-unknown"


OUTCOME_UNKNOWN_DETAIL = (
    "the first request with this Idempotency-Key ended without a known outcome (its connection "
    "to the database failed mid-write, or it was interrupted), so it is not run again under this "
    "key: read the resource (or the list) to see whether it was applied, and if it was not, send "
    "the request again with a new Idempotency-Key"
)


@dataclass(frozen=True, slots=True)
class Claim:
    """The caller holds the key: it must `complete`, `release` or `abandon` it."""

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

    Raises `IdempotencyKeyReused` when the key belongs to a different request,
    `IdempotencyKeyInUse` while the first request is still running (within its lease), and
    `IdempotencyOutcomeUnknown` once that request ended without a known outcome (its lease over).
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
        # The record is dead only once its 24 h are over (the TTL monitor may not have run yet).
        # A lapsed lease does not free it: that request's write may have landed.
        taken = await collection.replace_one({"_id": kid, "expires_at": {"$lte": utcnow()}}, fresh)
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
        if (
            existing.state == IdempotencyState.IN_PROGRESS
            and as_utc(existing.locked_until) <= utcnow()
        ):
            raise IdempotencyOutcomeUnknown(OUTCOME_UNKNOWN_DETAIL)
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
        # Only when the record outlived its 24 h and a new request took the key over.
        logger.warning("idempotency key %s was taken over before its response was stored", claim)


async def release(*, claim: Claim) -> None:
    """Forget the claim, so a retry with the same key runs the request again."""
    await _collection().delete_one({"_id": claim.key_id, "owner": claim.owner})


async def abandon(*, claim: Claim) -> None:
    """End the claim's lease now: its request's outcome is unknown (it may have written), so a
    retry with the key is told so instead of running again."""
    await _collection().update_one(
        {"_id": claim.key_id, "owner": claim.owner, "state": IdempotencyState.IN_PROGRESS},
        {"$set": {"locked_until": utcnow()}},
    )
