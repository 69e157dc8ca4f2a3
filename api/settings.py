"""Service settings, read once from the environment."""

import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIB = 1024 * 1024
DEFAULT_CURSOR_SECRET = "jbts-cursor-integrity-not-a-secret"  # noqa: S105 (public on purpose)
"""The documented default key of list cursors: it detects tampering and mixed sorts, and keeps
nothing secret (see `Settings.cursor_secret`)."""
_ORIGIN = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")


def _split_origins(value: object) -> object:
    if isinstance(value, str):
        return tuple(origin.strip() for origin in value.split(",") if origin.strip())
    return value


def _check_origins(origins: tuple[str, ...]) -> tuple[str, ...]:
    for origin in origins:
        # A browser sends `scheme://host[:port]`; anything else (a path, a trailing slash) would
        # silently never match, so it is refused at start-up.
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise ValueError(
                f"{origin!r} is not an origin such as https://ui.example.com or "
                "http://localhost:3000 (scheme, host, optional port; no path)"
            )
    return origins


Origins = Annotated[
    tuple[str, ...], NoDecode, BeforeValidator(_split_origins), AfterValidator(_check_origins)
]


class AuthMode(StrEnum):
    """`required`: every API request needs a key with the route's scope; `off`: none does."""

    REQUIRED = "required"
    OFF = "off"


class Settings(BaseSettings):
    """Everything the service reads from its environment.

    `mongodb_uri` unset means "no external database": the CLI then starts the embedded engine and
    passes its URI in explicitly, so the app itself only ever sees a URI.
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    mongodb_uri: str | None = Field(default=None, description="MongoDB connection string.")
    mongodb_db: str = Field(
        default="jbtestsuite", min_length=1, max_length=63, pattern=r"^[A-Za-z0-9_-]+$"
    )
    data_dir: Path | None = Field(
        default=None,
        validation_alias="JBTS_DATA_DIR",
        description="Embedded engine only: keep data in an SQLite file in this directory.",
    )
    server_selection_timeout_ms: int = Field(
        default=2000,
        ge=100,
        le=120_000,
        validation_alias="JBTS_SERVER_SELECTION_TIMEOUT_MS",
        description="How long a request waits for an unavailable database before its 503.",
    )
    connect_timeout_ms: int = Field(
        default=120_000,
        ge=1000,
        le=600_000,
        validation_alias="JBTS_CONNECT_TIMEOUT_MS",
        description="Connection and heartbeat timeout: how long a busy database may take to "
        "answer before the driver declares it down (and interrupts operations in flight).",
    )
    # The edge of the app (api/edge.py) and `jbts serve`'s HTTP server (api/server.py).
    max_body_bytes: int = Field(
        default=5 * MIB, ge=1024, le=1024 * MIB, validation_alias="JBTS_MAX_BODY_BYTES"
    )
    max_import_bytes: int = Field(
        default=20 * MIB,
        ge=1024,
        le=1024 * MIB,
        validation_alias="JBTS_MAX_IMPORT_BYTES",
        description="The largest JUnit XML report `POST /executions/runs/import` takes (the "
        "body limit there, instead of JBTS_MAX_BODY_BYTES).",
    )
    max_screenshot_bytes: int = Field(
        default=10 * MIB,
        ge=1024,
        le=1024 * MIB,
        validation_alias="JBTS_MAX_SCREENSHOT_BYTES",
        description="The largest screenshot `POST /artifacts/screenshots` takes (the body "
        "limit there is this plus 64 KiB for the multipart envelope).",
    )
    cors_origins: Origins = Field(default=(), validation_alias="JBTS_CORS_ORIGINS")
    limit_concurrency: int = Field(
        default=1000, ge=1, le=100_000, validation_alias="JBTS_LIMIT_CONCURRENCY"
    )
    backlog: int = Field(default=2048, ge=1, le=65_535, validation_alias="JBTS_BACKLOG")
    keep_alive_timeout_s: int = Field(
        default=5, ge=1, le=300, validation_alias="JBTS_KEEP_ALIVE_TIMEOUT_S"
    )
    header_timeout_s: int = Field(
        default=10, ge=1, le=300, validation_alias="JBTS_HEADER_TIMEOUT_S"
    )
    max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, le=MIB, validation_alias="JBTS_MAX_HEADER_BYTES"
    )
    graceful_shutdown_timeout_s: int = Field(
        default=5, ge=1, le=600, validation_alias="JBTS_GRACEFUL_SHUTDOWN_TIMEOUT_S"
    )
    # Live run status (`GET /executions/runs/{id}/events`, api/executions/events.py).
    events_poll_ms: int = Field(
        default=500,
        ge=50,
        le=60_000,
        validation_alias="JBTS_EVENTS_POLL_MS",
        description="Where the database has no change streams: how often an open event stream "
        "reads its run's version to see whether it changed.",
    )
    events_heartbeat_s: float = Field(
        default=15.0,
        ge=0.1,
        le=300.0,
        validation_alias="JBTS_EVENTS_HEARTBEAT_S",
        description="An event stream with nothing to say sends a comment this often, so proxies "
        "and clients keep it open.",
    )
    log_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        validation_alias="JBTS_LOG_RETENTION_DAYS",
        description="Log entries expire this many days after their `timestamp` (the TTL index "
        "of `log_entries`); `jbts migrate up` applies a changed value to the database.",
    )
    # Reports (`/artifacts/reports`, api/artifacts/report_service.py).
    report_inline_bytes: int = Field(
        default=256 * 1024,
        ge=0,
        le=8 * MIB,
        validation_alias="JBTS_REPORT_INLINE_BYTES",
        description="A generated report up to this size (UTF-8 bytes) is stored in its document; "
        "a larger one goes to the `reports` GridFS bucket.",
    )
    cursor_secret: SecretStr = Field(
        default=SecretStr(DEFAULT_CURSOR_SECRET),
        min_length=16,
        max_length=256,
        validation_alias="JBTS_CURSOR_SECRET",
        description="The HMAC key of list cursors (`cursor` / `next_cursor`). It protects their "
        "integrity (an altered or cut cursor, or one made for another sort, is refused), not "
        "their secrecy: a cursor's content is readable. The default is a fixed, public constant "
        f"({DEFAULT_CURSOR_SECRET!r}); set a value of your own so that cursors cannot be forged, "
        "the same on every instance behind one address (a changed key voids open cursors).",
    )
    auth: AuthMode | None = Field(
        default=None,
        validation_alias="JBTS_AUTH",
        description="`required` (API keys with scopes) or `off`. Unset: `off` for `jbts serve` on "
        "the embedded engine bound to a loopback address (a first try), `required` otherwise; "
        "`serve` refuses `off` on another address unless `--insecure`. The app itself treats "
        "unset as `required`.",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
