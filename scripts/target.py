"""Which database a command works on: `MONGODB_URI`, or the embedded engine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from api.settings import Settings


class TargetError(RuntimeError):
    """No database to work on."""


@dataclass(frozen=True, slots=True)
class Target:
    uri: str
    db_name: str
    description: str
    where: str  # the URI fit to print (no password), for error messages
    timeout_ms: int = 5000


def redact(uri: str) -> str:
    """The URI without its password, fit to print."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


@contextmanager
def database_target(
    settings: Settings, *, data_dir: Path | None, allow_memory: bool, create: bool
) -> Iterator[Target]:
    """Yield the database to use, starting the embedded engine when no URI is configured.

    `create=False`: a data directory without a database is refused, and nothing is created.
    """
    if settings.mongodb_uri:
        where = redact(settings.mongodb_uri)
        yield Target(
            uri=settings.mongodb_uri,
            db_name=settings.mongodb_db,
            description=f"MongoDB at {where}, database {settings.mongodb_db}",
            where=where,
            timeout_ms=settings.server_selection_timeout_ms,
        )
        return
    data_dir = data_dir or settings.data_dir
    if data_dir is None and not allow_memory:
        raise TargetError(
            "MONGODB_URI is not set: set it, or pass --data-dir to work on the embedded "
            "engine's data in that directory"
        )
    from api.database.embedded import EmbeddedEngine  # the engine is heavy: only when used

    with EmbeddedEngine(data_dir=data_dir, create=create) as engine:
        yield Target(
            uri=engine.info.uri,
            db_name=settings.mongodb_db,
            description=f"{engine.info.describe()}, database {settings.mongodb_db}",
            where=engine.info.uri,
            timeout_ms=settings.server_selection_timeout_ms,
        )


@contextmanager
def scratch_target(settings: Settings, *, prefix: str) -> Iterator[Target]:
    """A database nobody else uses, for work that must never touch the user's data.

    With `MONGODB_URI`: a new database named `<prefix>_<random>` on that server, which the caller
    drops when done. Without: a fresh embedded engine in memory (whatever `JBTS_DATA_DIR` says),
    gone when the block ends.
    """
    db_name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    if settings.mongodb_uri:
        where = redact(settings.mongodb_uri)
        yield Target(
            uri=settings.mongodb_uri,
            db_name=db_name,
            description=f"MongoDB at {where}, scratch database {db_name}",
            where=where,
            timeout_ms=settings.server_selection_timeout_ms,
        )
        return
    from api.database.embedded import EmbeddedEngine

    with EmbeddedEngine() as engine:
        yield Target(
            uri=engine.info.uri,
            db_name=db_name,
            description=f"{engine.info.describe()}, scratch database {db_name}",
            where=engine.info.uri,
            timeout_ms=settings.server_selection_timeout_ms,
        )
