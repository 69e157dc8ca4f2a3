"""What the API tests share: the routes, problem-details checks, and small creation helpers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from api.auth import keys
from api.settings import AuthMode, Settings
from documents.keys import Scope

BROWSERS = "/api/v1/configurations/browsers"
ENVIRONMENTS = "/api/v1/configurations/environments"
BROWSER_COLLECTION = "browser_configurations"
ENVIRONMENT_COLLECTION = "test_environments"
PROBLEM_JSON = "application/problem+json"
UNKNOWN_ID = "6650f1c2a7b4e3d2c1b0a998"


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process HTTP client of `app`, run with its lifespan: for apps a test builds. Unless
    the app runs with JBTS_AUTH=off, the client sends an admin key made for it."""
    async with app.router.lifespan_context(app):
        headers = {}
        settings: Settings | None = getattr(app.state, "settings", None)  # None: not create_app's
        if settings is not None and settings.auth is not AuthMode.OFF:
            created = await keys.create_key(
                name=f"served-{uuid.uuid4().hex[:8]}", scopes=[Scope.ADMIN], created_by="tests"
            )
            headers["Authorization"] = f"Bearer {created.secret}"
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        ) as http:
            yield http


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str)
    assert body["type"].startswith("/problems/")
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def assert_invalid(response: httpx.Response, *locations: str) -> dict[str, Any]:
    """A 422 problem with an `errors` entry at each of `locations` (each a location prefix)."""
    body = assert_problem(response, 422)
    assert body["type"] == "/problems/validation-error"
    errors = body["errors"]
    assert errors
    for error in errors:
        assert set(error) == {"location", "message"}
        assert isinstance(error["location"], str)
        assert error["message"]
    found = [error["location"] for error in errors]
    for location in locations:
        assert any(loc.startswith(location) for loc in found), (location, found)
    return body


def browser_body(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "browser": "chrome", **fields}


def environment_body(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "base_url": "https://staging.example.com/", **fields}


async def create_browser(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(BROWSERS, json=browser_body(name, **fields))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_environment(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    response = await client.post(ENVIRONMENTS, json=environment_body(name, **fields))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def stored(db: AsyncDatabase[Any], collection: str) -> list[dict[str, Any]]:
    """Every document of a collection, in `_id` order, exactly as MongoDB holds it."""
    return await db[collection].find({}).sort("_id", 1).to_list()


def names(page: dict[str, Any]) -> list[str]:
    """The `name` of every item of a list response, in order."""
    return [item["name"] for item in page["items"]]


def parse_time(value: str) -> datetime:
    """A timestamp as the API writes it (ISO 8601), for comparing times."""
    return datetime.fromisoformat(value)
