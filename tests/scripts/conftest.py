"""Fixtures for the `jbts` command line: a clean environment, a database name, a sync client.

CLI commands call `asyncio.run` themselves, so every test here is a plain sync test and checks
the database with the sync `MongoClient`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from typer.testing import CliRunner

from api.settings import get_settings

ENVIRONMENT = (
    "MONGODB_URI",
    "MONGODB_DB",
    "JBTS_DATA_DIR",
    "JBTS_SERVER_SELECTION_TIMEOUT_MS",
    "JBTS_CONNECT_TIMEOUT_MS",
    "JBTS_AUTH",
)

# The collections of SPEC section 5, plus the migration record.
DOMAIN_COLLECTIONS = frozenset(
    {
        "browser_configurations",
        "test_environments",
        "test_cases",
        "test_suites",
        "test_templates",
        "test_runs",
        "test_executions",
        "screenshots",
        "log_entries",
        "test_reports",
    }
)
# What the service keeps for itself (migrations 0002 and 0010).
SERVICE_COLLECTIONS = frozenset({"idempotency_keys", "api_keys"})
# The GridFS buckets' collections (migration 0008 indexes them, so creates them).
GRIDFS_COLLECTIONS = frozenset(
    f"{bucket}.{part}" for bucket in ("screenshots", "reports") for part in ("files", "chunks")
)
ALL_COLLECTIONS = (
    DOMAIN_COLLECTIONS | SERVICE_COLLECTIONS | GRIDFS_COLLECTIONS | {"schema_migrations"}
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No database configured, a wide terminal, and settings read afresh."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.fixture
def sync_mongo(mongodb_uri: str) -> Iterator[MongoClient[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri, serverSelectionTimeoutMS=5000)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def cli_db(
    clean_env: pytest.MonkeyPatch, mongodb_uri: str, sync_mongo: MongoClient[dict[str, Any]]
) -> Iterator[str]:
    """MONGODB_URI and a fresh MONGODB_DB for the CLI; the database is dropped afterwards."""
    name = f"jbts_cli_{uuid.uuid4().hex[:12]}"
    clean_env.setenv("MONGODB_URI", mongodb_uri)
    clean_env.setenv("MONGODB_DB", name)
    # The database is up: on a loaded machine the engine may take seconds to answer the driver's
    # first `hello`, which the 2 s default for a database that is down would call unreachable.
    clean_env.setenv("JBTS_SERVER_SELECTION_TIMEOUT_MS", "60000")
    try:
        yield name
    finally:
        sync_mongo.drop_database(name)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
