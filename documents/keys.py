"""API keys: who may call the API, with which scopes. Only a SHA-256 of each key is stored."""

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field
from pymongo import ASCENDING, IndexModel

from documents.base import TimestampedDocument


class Scope(StrEnum):
    """What a key may do. A `write` scope includes its `read`; `admin` includes every scope."""

    DEFINITIONS_READ = "definitions:read"
    DEFINITIONS_WRITE = "definitions:write"
    RESULTS_READ = "results:read"
    RESULTS_WRITE = "results:write"
    CONFIG_READ = "config:read"
    CONFIG_WRITE = "config:write"
    SECRETS_READ = "secrets:read"
    ADMIN = "admin"


class ApiKey(TimestampedDocument):
    """A key: its name, scopes and life. `hash` is the SHA-256 (hex) of the secret, which is
    shown once when the key is created and never stored; `prefix` is the secret's first
    characters, enough to recognise a key in a list (`jbts_Ab3dE9`)."""

    name: str = Field(min_length=1, max_length=100)
    prefix: str
    hash: str = Field(pattern="^[0-9a-f]{64}$")
    scopes: list[Scope] = Field(min_length=1)
    created_by: str
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    class Settings:
        name = "api_keys"
        indexes: ClassVar[list[IndexModel]] = [
            # A request finds its key by the secret's hash.
            IndexModel([("hash", ASCENDING)], name="hash_unique", unique=True),
            # `jbts keys revoke <name>`: a name names one key.
            IndexModel([("name", ASCENDING)], name="name_unique", unique=True),
        ]
