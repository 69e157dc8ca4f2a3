"""Small data sets the API tests list, filter, sort and page through, and a database that a
test can stop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from api.database import migrations
from api.database.connection import open_client
from api.database.embedded import EmbeddedEngine
from api.main import create_app
from api.settings import Settings
from tests.api.helpers import create_browser, create_environment, served


@pytest.fixture
async def browsers(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """Four browser configurations (created in this order), by name; the first is the default."""
    specs: list[dict[str, Any]] = [
        {"name": "Chrome desktop", "browser": "chrome", "locale": "en-US", "is_default": True},
        {"name": "Firefox headed", "browser": "firefox", "headless": False, "locale": "de-DE"},
        {"name": "Webkit mobile", "browser": "webkit", "locale": "fr-FR"},
        {"name": "Edge headed", "browser": "edge", "headless": False, "locale": "en-US"},
    ]
    created: dict[str, dict[str, Any]] = {}
    for spec in specs:
        body = await create_browser(client, **spec)
        created[body["name"]] = body
    return created


@pytest.fixture
async def environments(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """Three test environments, by name; `legacy` is inactive; `staging` has a secret."""
    specs: list[dict[str, Any]] = [
        {
            "name": "staging",
            "variables": [
                {"name": "LOCALE", "value": "en-US"},
                {"name": "API_TOKEN", "value": "staging-s3cr3t", "secret": True},
            ],
        },
        {"name": "production", "base_url": "https://www.example.com/"},
        {"name": "legacy", "base_url": "https://old.example.com/", "is_active": False},
    ]
    created: dict[str, dict[str, Any]] = {}
    for spec in specs:
        body = await create_environment(client, **spec)
        created[body["name"]] = body
    return created


@pytest.fixture
def engine() -> Iterator[EmbeddedEngine]:
    """An embedded engine of the test's own, which the test may stop."""
    with EmbeddedEngine() as running:
        yield running


@asynccontextmanager
async def on_engine(
    engine: EmbeddedEngine,
    db_name: str,
    *,
    auth: str,
    via: str | None = None,
    selection_timeout_ms: int = 100,  # the engine is stopped: fail fast
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app on `engine` (database `db_name`, migrated) with `JBTS_AUTH=auth`,
    whose requests fail fast once the test stops the engine. With `via` (a URI, e.g. of a proxy
    to the engine), the app reaches the engine there."""
    settings = Settings.model_validate(
        {
            "mongodb_uri": via or engine.info.uri,
            "mongodb_db": db_name,
            "JBTS_SERVER_SELECTION_TIMEOUT_MS": selection_timeout_ms,
            "JBTS_AUTH": auth,
        }
    )
    mongo = open_client(engine.info.uri)
    try:
        await migrations.up(mongo[settings.mongodb_db])
    finally:
        await mongo.close()
    async with served(create_app(settings)) as http:
        yield http


@pytest.fixture
async def doomed_client(engine: EmbeddedEngine) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app on `engine`, migrated; the test stops the engine when it chooses.

    Auth is off: keys are looked up in the database, so with them required every request after
    the stop would be a 503 before its route runs, and routes' own answers would go untested."""
    async with on_engine(engine, "jbts_unavailable", auth="off") as http:
        yield http
