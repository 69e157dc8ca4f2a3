"""Request and response bodies of `/keys`. A key's secret appears in one response only: the
answer to its creation (`KeyCreated.key`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Self

from pydantic import ConfigDict, Field, model_validator

from api.auth import keys as key_service
from api.schemas import InputModel, JsonInteger, ReadModel, Timestamp
from documents.base import as_utc
from documents.keys import ApiKey, Scope

MAX_EXPIRY_DAYS = 3650


class KeyCreate(InputModel):
    """A new API key: its name, its scopes and, optionally, when it expires."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "ci-runner", "scopes": ["results:write", "definitions:read"]},
                {"name": "ui", "scopes": ["definitions:write"], "expires_in_days": 90},
            ]
        }
    )

    name: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$",
        description="Unique; names the key in lists, logs and `created_by`.",
        examples=["ci-runner"],
    )
    scopes: list[Scope] = Field(
        min_length=1,
        max_length=len(Scope),
        description="A `write` scope includes its `read`; `admin` includes every scope.",
        examples=[["results:write", "definitions:read"]],
    )
    expires_in_days: Annotated[int, Field(ge=1, le=MAX_EXPIRY_DAYS), JsonInteger] | None = Field(
        default=None, description="The key expires this many days from now (or `expires_at`)."
    )
    expires_at: Timestamp | None = Field(
        default=None,
        description="The key expires at this time (in the future; or `expires_in_days`).",
    )

    @model_validator(mode="after")
    def _one_expiry(self) -> Self:
        if self.expires_in_days is not None and self.expires_at is not None:
            raise ValueError("send `expires_in_days` or `expires_at`, not both")
        if self.expires_at is not None and as_utc(self.expires_at) <= datetime.now(UTC):
            raise ValueError("`expires_at` is in the past: a key must expire in the future")
        return self

    def expiry(self, now: datetime) -> datetime | None:
        """When the key expires (None: never)."""
        if self.expires_in_days is not None:
            return now + timedelta(days=self.expires_in_days)
        return None if self.expires_at is None else as_utc(self.expires_at)


class KeyStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class KeyRead(ReadModel):
    """An API key without its secret: `prefix` (its first characters) recognises it."""

    name: str
    prefix: str = Field(examples=["jbts_Ab3dE9"])
    scopes: list[Scope]
    status: KeyStatus
    created_by: str = Field(
        description="Who created it: `key:<name>` (an admin key, through the API), `auth-off` "
        "(through the API with JBTS_AUTH=off), or what the CLI records.",
        examples=["key:admin"],
    )
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="Updated at most once a minute.")
    revoked_at: datetime | None

    @classmethod
    def of_key(cls, key: ApiKey, *, now: datetime) -> Self:
        if key.revoked_at is not None:
            status = KeyStatus.REVOKED
        elif key_service.usable(key, now=now):
            status = KeyStatus.ACTIVE
        else:
            status = KeyStatus.EXPIRED
        data = key.model_dump(by_alias=True, exclude={"hash"})
        return cls.model_validate({**data, "status": status})


class KeyCreated(KeyRead):
    """A new key, with its secret: shown this once, never again (only its hash is stored)."""

    key: str = Field(description="The secret: send it as `Authorization: Bearer <key>`.")
