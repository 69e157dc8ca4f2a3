"""`/health/live` and `/health/ready`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from api.database import migrations
from api.main import create_app
from api.settings import Settings
from tests.api.helpers import assert_problem, served


@pytest.fixture
async def unmigrated_client(
    mongodb_uri: str, mongo: AsyncMongoClient[Any]
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose database has never been migrated (dropped afterwards)."""
    db_name = f"jbts_test_unmigrated_{uuid.uuid4().hex[:12]}"
    app = create_app(Settings(mongodb_uri=mongodb_uri, mongodb_db=db_name))
    try:
        async with served(app) as http:
            yield http
    finally:
        await mongo.drop_database(db_name)


class TestLiveness:
    async def test_is_ok(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health/live")

        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


class TestReadiness:
    async def test_is_ready_on_a_migrated_database(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        response = await client.get("/health/ready")

        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ready"
        assert body["database"] == settings.mongodb_db
        assert body["migrations"] == {
            "current": migrations.latest_version(),
            "latest": migrations.latest_version(),
        }
        assert body["migrations"]["latest"] >= 1
        capabilities = body["capabilities"]
        assert set(capabilities) == {
            "transactions",
            "change_streams",
            "full_text_search",
            "ascii_word_boundaries",
        }
        assert all(isinstance(value, bool) for value in capabilities.values())

    async def test_is_503_on_an_unmigrated_database(
        self, unmigrated_client: httpx.AsyncClient
    ) -> None:
        response = await unmigrated_client.get("/health/ready")

        body = assert_problem(response, 503)
        assert body["type"] == "/problems/schema-not-migrated"
        assert "migrat" in body["detail"]

    async def test_liveness_does_not_depend_on_migrations(
        self, unmigrated_client: httpx.AsyncClient
    ) -> None:
        assert (await unmigrated_client.get("/health/live")).status_code == 200
