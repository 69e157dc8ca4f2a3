"""`?reveal=secrets` (audited, `secrets:read` or `admin`), and JBTS_AUTH=off."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from api.main import create_app
from api.settings import AuthMode, Settings
from documents.keys import Scope
from tests.api.auth.conftest import bearer, caller, make_key
from tests.api.helpers import ENVIRONMENTS, assert_problem, served

VARIABLES = [
    {"name": "LOCALE", "value": "en-US"},
    {"name": "API_TOKEN", "value": "staging-s3cr3t", "secret": True},
]


@pytest.fixture
async def environment(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post(
        ENVIRONMENTS,
        json={
            "name": "staging",
            "base_url": "https://staging.example.com/",
            "variables": VARIABLES,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


class TestRevealSecrets:
    async def test_secrets_stay_masked_by_default(
        self, client: httpx.AsyncClient, environment: dict[str, Any]
    ) -> None:
        body = (await client.get(f"{ENVIRONMENTS}/{environment['id']}")).json()
        assert {v["name"]: v["value"] for v in body["variables"]} == {
            "LOCALE": "en-US",
            "API_TOKEN": None,
        }

    async def test_admin_and_secrets_read_reveal_them_and_the_reveal_is_audited(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        environment: dict[str, Any],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.INFO, logger="api.audit")
        url = f"{ENVIRONMENTS}/{environment['id']}?reveal=secrets"
        runner = await make_key([Scope.CONFIG_READ, Scope.SECRETS_READ], name="runner")
        as_admin = await client.get(url)
        async with caller(app, bearer(runner)) as http:
            as_runner = await http.get(url)
        for response in (as_admin, as_runner):
            assert response.status_code == 200, response.text
            assert response.headers["Cache-Control"] == "no-store"
            assert response.headers["ETag"] == '"1"'
            values = {v["name"]: v["value"] for v in response.json()["variables"]}
            assert values == {"LOCALE": "en-US", "API_TOKEN": "staging-s3cr3t"}
        audit = [r.getMessage() for r in caplog.records if r.name == "api.audit"]
        assert len(audit) == 2
        assert "'tests-admin'" in audit[0]
        assert "'runner'" in audit[1]
        for line in audit:
            assert environment["id"] in line
            assert "API_TOKEN" in line
        assert "staging-s3cr3t" not in caplog.text

    async def test_without_secrets_read_a_reveal_is_a_403_naming_it(
        self, app: FastAPI, environment: dict[str, Any]
    ) -> None:
        writer = await make_key([Scope.CONFIG_WRITE], name="config-writer")
        async with caller(app, bearer(writer)) as http:
            body = assert_problem(
                await http.get(f"{ENVIRONMENTS}/{environment['id']}?reveal=secrets"), 403
            )
            assert "`secrets:read`" in body["detail"]
            assert body["required_scope"] == "secrets:read"
            assert (await http.get(f"{ENVIRONMENTS}/{environment['id']}")).status_code == 200

    async def test_secrets_read_alone_does_not_read_configurations(
        self, app: FastAPI, environment: dict[str, Any]
    ) -> None:
        only = await make_key([Scope.SECRETS_READ], name="only-secrets")
        async with caller(app, bearer(only)) as http:
            response = await http.get(f"{ENVIRONMENTS}/{environment['id']}?reveal=secrets")
        assert assert_problem(response, 403)["required_scope"] == "config:read"


@pytest.fixture
async def open_client(
    settings: Settings, db: AsyncDatabase[Any]
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with JBTS_AUTH=off, sending no key."""
    off = settings.model_copy(update={"auth": AuthMode.OFF})
    async with served(create_app(off)) as http:
        assert "Authorization" not in http.headers
        yield http


class TestAuthOff:
    async def test_keyless_requests_are_accepted(self, open_client: httpx.AsyncClient) -> None:
        assert (await open_client.get("/api/v1/tests")).status_code == 200
        created = await open_client.post(
            "/api/v1/configurations/browsers", json={"name": "Chrome", "browser": "chrome"}
        )
        assert created.status_code == 201, created.text
        key = await open_client.post("/api/v1/keys", json={"name": "first", "scopes": ["admin"]})
        assert key.status_code == 201
        assert key.json()["created_by"] == "auth-off"

    async def test_a_reveal_still_needs_a_key(self, open_client: httpx.AsyncClient) -> None:
        created = await open_client.post(
            ENVIRONMENTS,
            json={"name": "env", "base_url": "https://env.example.com/", "variables": VARIABLES},
        )
        response = await open_client.get(f"{ENVIRONMENTS}/{created.json()['id']}?reveal=secrets")
        assert_problem(response, 403)
