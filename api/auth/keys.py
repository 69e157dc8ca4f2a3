"""API keys: creating, finding, listing and revoking them. Only a SHA-256 of a key is stored.

A key is `jbts_` followed by 43 URL-safe characters (32 random bytes): recognisable in a log
or a secret scanner, and too random to guess, so a plain SHA-256 is enough to store it (a slow
password hash protects guessable secrets; these are not). A request's key is looked up by its
hash through a unique index and the hashes compared in constant time.

Who may do what: `grants(scopes, needed)`. A `write` scope includes its `read`; `admin`
includes every scope; `secrets:read` is its own (reading secret variable values).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from api.errors import Conflict, NotFound
from documents.base import as_utc, utcnow
from documents.keys import ApiKey, Scope

KEY_PREFIX = "jbts_"
SECRET_BYTES = 32
SHOWN_PREFIX = len(KEY_PREFIX) + 6
"""How much of a key its listing shows (`jbts_Ab3dE9`)."""
LAST_USED_EVERY = timedelta(minutes=1)
"""`last_used_at` is written at most this often per key (not on every request)."""
LABEL = "API key"

_IMPLIED: dict[Scope, frozenset[Scope]] = {
    Scope.DEFINITIONS_WRITE: frozenset({Scope.DEFINITIONS_READ}),
    Scope.RESULTS_WRITE: frozenset({Scope.RESULTS_READ}),
    Scope.CONFIG_WRITE: frozenset({Scope.CONFIG_READ}),
    Scope.ADMIN: frozenset(Scope),
}


def effective(scopes: Iterable[Scope]) -> frozenset[Scope]:
    """The scopes held, with those they include."""
    held = set(scopes)
    for scope in list(held):
        held |= _IMPLIED.get(scope, frozenset())
    return frozenset(held)


def grants(scopes: Iterable[Scope], needed: Scope) -> bool:
    return needed in effective(scopes)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX) and len(value) <= 200


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key and its secret: the only time the secret exists outside the client."""

    key: ApiKey
    secret: str


async def create_key(
    *,
    name: str,
    scopes: Iterable[Scope],
    created_by: str,
    expires_at: datetime | None = None,
) -> CreatedKey:
    """A new key (409 when the name is taken)."""
    secret = new_secret()
    key = ApiKey(
        name=name,
        prefix=secret[:SHOWN_PREFIX],
        hash=hash_key(secret),
        scopes=sorted(set(scopes)),
        created_by=created_by,
        expires_at=expires_at,
    )
    try:
        await key.insert()
    except DuplicateKeyError:
        raise Conflict(f"an {LABEL} named {name!r} exists: choose another name") from None
    return CreatedKey(key, secret)


def usable(key: ApiKey, *, now: datetime) -> bool:
    """Not revoked, not expired."""
    if key.revoked_at is not None:
        return False
    return key.expires_at is None or as_utc(key.expires_at) > now


async def find_key(secret: str) -> ApiKey | None:
    """The usable key whose secret this is, or None (unknown, revoked or expired)."""
    if not looks_like_key(secret):
        return None
    digest = hash_key(secret)
    key = await ApiKey.find_one({"hash": digest})
    if key is None or not hmac.compare_digest(key.hash, digest):
        return None
    now = utcnow()
    if not usable(key, now=now):
        return None
    if key.last_used_at is None or now - as_utc(key.last_used_at) >= LAST_USED_EVERY:
        await ApiKey.get_pymongo_collection().update_one(
            {"_id": key.id}, {"$set": {"last_used_at": now}}
        )
        key.last_used_at = now
    return key


async def any_key() -> bool:
    """Whether any usable key exists (`serve` creates a first admin key when none does)."""
    now = utcnow()
    async for key in ApiKey.find({"revoked_at": None}):
        if usable(key, now=now):
            return True
    return False


async def list_keys() -> list[ApiKey]:
    """Every key, newest first (revoked and expired ones too, marked so)."""
    return await ApiKey.find({}).sort("-created_at", "-_id").to_list()


async def get_key(*, id: PydanticObjectId) -> ApiKey:
    key = await ApiKey.get(id)
    if key is None:
        raise NotFound(f"{LABEL} {id} does not exist")
    return key


async def find_by_name_or_id(reference: str) -> ApiKey:
    """A key named `reference`, else the key with that id (404 if neither)."""
    key = await ApiKey.find_one({"name": reference})
    if key is None and PydanticObjectId.is_valid(reference):
        key = await ApiKey.get(PydanticObjectId(reference))
    if key is None:
        raise NotFound(f"no {LABEL} is named {reference!r} or has that id")
    return key


async def revoke_key(key: ApiKey) -> ApiKey:
    """Revoke the key from its next request on (revoking twice keeps the first time)."""
    if key.revoked_at is None:
        now = utcnow()
        await ApiKey.get_pymongo_collection().update_one(
            {"_id": key.id, "revoked_at": None}, {"$set": {"revoked_at": now, "updated_at": now}}
        )
    refreshed = await ApiKey.get(key.id) if key.id is not None else None
    return refreshed or key
