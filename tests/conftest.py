"""The test harness: one database server per session, an isolated database per test.

Without MONGODB_URI the session starts the embedded engine (in memory); with it, the same tests
run unchanged against that MongoDB. Each test gets a fresh, migrated database that is dropped
afterwards, and an HTTP client talking to the app in-process (ASGI transport).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from api.auth import keys
from api.database import migrations
from api.database.connection import open_client
from api.database.embedded import EmbeddedEngine
from api.main import create_app
from api.settings import AuthMode, Settings
from documents.keys import Scope

REAL_MONGODB = bool(os.environ.get("MONGODB_URI"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if REAL_MONGODB:
        return
    skip = pytest.mark.skip(reason="needs a real MongoDB: set MONGODB_URI")
    for item in items:
        if "real_mongodb" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def mongodb_uri() -> Iterator[str]:
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri
        return
    with EmbeddedEngine() as engine:
        yield engine.info.uri


@pytest.fixture
def db_name() -> str:
    return f"jbts_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def mongo(mongodb_uri: str, db_name: str) -> AsyncIterator[AsyncMongoClient[Any]]:
    client = open_client(mongodb_uri)
    try:
        yield client
    finally:
        await client.drop_database(db_name)
        await client.close()


@pytest.fixture
async def db(mongo: AsyncMongoClient[Any], db_name: str) -> AsyncDatabase[Any]:
    """The test's database, migrated to the latest version."""
    database = mongo[db_name]
    await migrations.up(database)
    return database


@pytest.fixture
def settings(mongodb_uri: str, db_name: str) -> Settings:
    """With API keys required: the `client` sends an admin key."""
    return Settings(mongodb_uri=mongodb_uri, mongodb_db=db_name, JBTS_AUTH=AuthMode.REQUIRED)


@pytest.fixture
async def app(settings: Settings, db: AsyncDatabase[Any]) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


ADMIN_KEY_NAME = "tests-admin"


@pytest.fixture
async def admin_key(app: FastAPI) -> str:
    """The secret of an admin key (the app's lifespan has opened the database)."""
    created = await keys.create_key(name=ADMIN_KEY_NAME, scopes=[Scope.ADMIN], created_by="tests")
    return created.secret


@pytest.fixture
async def client(app: FastAPI, admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process, called with an admin key (so every test passes through auth)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {admin_key}"},
    ) as http:
        yield http
