"""Keys at work: both headers, expiry and revocation on the next request, `/api/v1/keys`,
secrets that never show again, and failed attempts limited per address."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from api.auth import keys
from api.auth.guard import FailureLimiter
from api.database.embedded import EmbeddedEngine
from api.settings import Settings
from documents.keys import Scope
from tests.api.auth.conftest import bearer, caller, make_key
from tests.api.conftest import on_engine
from tests.api.helpers import UNKNOWN_ID, assert_invalid, assert_problem

KEYS = "/api/v1/keys"
TESTS = "/api/v1/tests"


class TestHeaders:
    async def test_x_api_key_works_like_a_bearer_token(self, app: FastAPI) -> None:
        secret = await make_key([Scope.DEFINITIONS_READ])
        async with caller(app, {"X-API-Key": secret}) as http:
            assert (await http.get(TESTS)).status_code == 200
        async with caller(app, {"Authorization": f"bearer {secret}"}) as http:
            assert (await http.get(TESTS)).status_code == 200

    @pytest.mark.parametrize(
        "headers",
        [
            {"Authorization": "Bearer jbts_not-a-key"},
            {"Authorization": "Bearer something-else"},
            {"X-API-Key": "jbts_" + "A" * 43},
        ],
    )
    async def test_an_unknown_key_is_a_401(self, app: FastAPI, headers: dict[str, str]) -> None:
        async with caller(app, headers) as http:
            response = await http.get(TESTS)
        body = assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="jbts"')
        assert body["type"] == "/problems/invalid-key"
        value = next(iter(headers.values())).removeprefix("Bearer ")
        assert value not in response.text

    async def test_another_authorization_scheme_counts_as_no_key(self, app: FastAPI) -> None:
        async with caller(app, {"Authorization": "Basic dXNlcjpwYXNz"}) as http:
            response = await http.get(TESTS)
        assert assert_problem(response, 401)["type"] == "/problems/unauthorized"


class TestLifeOfAKey:
    async def test_an_expired_key_is_refused_from_its_next_request(
        self, app: FastAPI, db: AsyncDatabase[Any]
    ) -> None:
        secret = await make_key([Scope.RESULTS_READ], name="soon-expired")
        async with caller(app, bearer(secret)) as http:
            assert (await http.get("/api/v1/executions/runs")).status_code == 200
            past = datetime.now(UTC) - timedelta(seconds=1)
            await db.api_keys.update_one({"name": "soon-expired"}, {"$set": {"expires_at": past}})
            assert_problem(await http.get("/api/v1/executions/runs"), 401)

    async def test_a_key_created_expired_never_works(self, app: FastAPI) -> None:
        created = await keys.create_key(
            name="old",
            scopes=[Scope.ADMIN],
            created_by="tests",
            expires_at=datetime.now(UTC) - timedelta(days=1),
        )
        async with caller(app, bearer(created.secret)) as http:
            assert_problem(await http.get(KEYS), 401)

    async def test_a_revoked_key_is_refused_from_its_next_request(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        created = (await client.post(KEYS, json={"name": "ci", "scopes": ["results:write"]})).json()
        async with caller(app, bearer(created["key"])) as http:
            assert (await http.get("/api/v1/executions")).status_code == 200
            assert (await client.delete(f"{KEYS}/{created['id']}")).status_code == 204
            assert_problem(await http.get("/api/v1/executions"), 401)
        listed = {key["name"]: key for key in (await client.get(KEYS)).json()}
        assert listed["ci"]["status"] == "revoked"
        assert listed["ci"]["revoked_at"] is not None
        # Revoking again changes nothing.
        assert (await client.delete(f"{KEYS}/{created['id']}")).status_code == 204

    async def test_a_key_cannot_revoke_itself(self, client: httpx.AsyncClient) -> None:
        [mine] = [key for key in (await client.get(KEYS)).json() if key["name"] == "tests-admin"]
        assert_problem(await client.delete(f"{KEYS}/{mine['id']}"), 409)
        assert (await client.get(KEYS)).status_code == 200

    async def test_last_used_at_is_recorded(self, client: httpx.AsyncClient) -> None:
        [mine] = [key for key in (await client.get(KEYS)).json() if key["name"] == "tests-admin"]
        assert mine["last_used_at"] is not None


class TestKeysApi:
    async def test_create_shows_the_secret_once_then_only_the_prefix(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            KEYS,
            json={"name": "ci-runner", "scopes": ["results:write", "definitions:read"]},
        )
        assert response.status_code == 201, response.text
        assert response.headers["Cache-Control"] == "no-store"
        created = response.json()
        secret = created["key"]
        assert secret.startswith("jbts_")
        assert len(secret) >= 5 + 43
        assert secret.startswith(created["prefix"])
        assert created["prefix"] != secret
        assert created["scopes"] == ["definitions:read", "results:write"]
        assert created["created_by"] == "key:tests-admin"
        assert created["status"] == "active"
        assert created["expires_at"] is None
        assert "hash" not in created
        assert response.headers["Location"] == f"{KEYS}/{created['id']}"

        one = await client.get(f"{KEYS}/{created['id']}")
        listed = await client.get(KEYS)
        for later in (one, listed):
            assert later.status_code == 200
            assert secret not in later.text
            assert secret[len(created["prefix"]) :] not in later.text
            assert keys.hash_key(secret) not in later.text
            assert '"key"' not in later.text
        assert one.json()["prefix"] == created["prefix"]
        assert {key["name"] for key in listed.json()} == {"ci-runner", "tests-admin"}

    async def test_a_creation_is_never_stored_for_replays(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        body = {"name": "retried", "scopes": ["results:write"]}
        headers = {"Idempotency-Key": "create-retried"}
        first = await client.post(KEYS, json=body, headers=headers)
        assert first.status_code == 201
        secret = first.json()["key"]
        for collection in await db.list_collection_names():
            async for document in db[collection].find({}):
                assert secret not in repr(document), collection
        assert_problem(await client.post(KEYS, json=body, headers=headers), 409)

    async def test_expiry_in_days_or_at_a_time(self, client: httpx.AsyncClient) -> None:
        in_days = await client.post(
            KEYS, json={"name": "weekly", "scopes": ["config:read"], "expires_in_days": 7}
        )
        expires = datetime.fromisoformat(in_days.json()["expires_at"])
        assert timedelta(days=6) < expires - datetime.now(UTC) <= timedelta(days=7)
        at = await client.post(
            KEYS,
            json={"name": "dated", "scopes": ["config:read"], "expires_at": "2099-01-01T00:00:00Z"},
        )
        assert at.json()["expires_at"].startswith("2099-01-01T00:00:00")
        both = await client.post(
            KEYS,
            json={
                "name": "both",
                "scopes": ["config:read"],
                "expires_in_days": 1,
                "expires_at": "2099-01-01T00:00:00Z",
            },
        )
        assert_invalid(both, "body")

    async def test_invalid_bodies_are_422_and_a_taken_name_409(
        self, client: httpx.AsyncClient
    ) -> None:
        assert_invalid(await client.post(KEYS, json={"name": "x", "scopes": []}), "body.scopes")
        assert_invalid(
            await client.post(KEYS, json={"name": "x", "scopes": ["root"]}), "body.scopes"
        )
        assert_invalid(await client.post(KEYS, json={"scopes": ["admin"]}), "body.name")
        assert_problem(
            await client.post(KEYS, json={"name": "tests-admin", "scopes": ["admin"]}), 409
        )

    async def test_unknown_ids_are_404(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get(f"{KEYS}/{UNKNOWN_ID}"), 404)
        assert_problem(await client.delete(f"{KEYS}/{UNKNOWN_ID}"), 404)

    async def test_keys_need_admin(self, app: FastAPI) -> None:
        secret = await make_key([s for s in Scope if s is not Scope.ADMIN], name="almost")
        async with caller(app, bearer(secret)) as http:
            body = assert_problem(await http.get(KEYS), 403)
            assert "`admin`" in body["detail"]
            assert_problem(await http.post(KEYS, json={"name": "n", "scopes": ["admin"]}), 403)


class TestNeverInLogs:
    async def test_keys_good_and_bad_never_appear_in_logs(
        self, app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        created = (await client.post(KEYS, json={"name": "logged", "scopes": ["admin"]})).json()
        good = created["key"]
        bad = "jbts_" + "Z" * 43
        for headers in (bearer(good), {"X-API-Key": good}, bearer(bad), {"X-API-Key": bad}):
            async with caller(app, headers) as http:
                await http.get(TESTS)
                await http.get(f"/api/v1/tests/{UNKNOWN_ID}")
                await http.post(TESTS, content=b"{not json", headers={"Content-Type": "x/y"})
        assert "API key refused" in caplog.text
        for secret in (good, bad):
            assert secret not in caplog.text
            assert secret[5:15] not in caplog.text


class TestFailureLimit:
    async def test_failed_attempts_from_an_address_get_429_then_other_addresses_still_work(
        self, app: FastAPI, admin_key: str, settings: Settings
    ) -> None:
        assert settings.auth_failure_limit == 20
        async with caller(app, bearer("jbts_guess"), address="10.0.0.9") as http:
            for _ in range(settings.auth_failure_limit):
                assert_problem(await http.get(TESTS), 401)
            limited = await http.get(TESTS)
        body = assert_problem(limited, 429)
        assert "retry" in body["detail"]
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # While limited, a key not seen lately is not even looked up ...
        async with caller(app, bearer(admin_key), address="10.0.0.9") as http:
            assert_problem(await http.get(TESTS), 429)
        async with caller(app, bearer(admin_key), address="10.0.0.10") as http:
            assert (await http.get(TESTS)).status_code == 200
        # ... and one that authenticated lately still works from there (a shared NAT).
        async with caller(app, bearer(admin_key), address="10.0.0.9") as http:
            assert (await http.get(TESTS)).status_code == 200

    async def test_requests_without_a_key_do_not_count(
        self, app: FastAPI, settings: Settings
    ) -> None:
        async with caller(app, address="10.0.0.11") as http:
            for _ in range(settings.auth_failure_limit + 2):
                assert_problem(await http.get(TESTS), 401)

    def test_the_limiter_forgets_old_failures_and_bounds_its_memory(self) -> None:
        limiter = FailureLimiter(limit=2, window_s=10.0, max_addresses=3)
        limiter.record("a", now=0.0)
        assert limiter.retry_after("a", now=0.5) is None
        limiter.record("a", now=1.0)
        assert limiter.retry_after("a", now=1.0) == 9
        assert limiter.retry_after("a", now=10.5) is None  # the first failure left the window
        for address in ("b", "c", "d"):
            limiter.record(address, now=2.0)
        assert len(limiter) == 3
        assert limiter.retry_after("a", now=2.0) is None  # forgotten: least recently failed
        for digest in ("h1", "h2", "h3", "h4"):
            limiter.trust(digest)
        assert not limiter.trusted("h1")
        assert limiter.trusted("h4")


async def test_with_the_database_gone_a_key_cannot_be_checked_and_the_answer_is_503(
    engine: EmbeddedEngine,
) -> None:
    async with on_engine(engine, "jbts_keys_outage", auth="required") as http:
        assert (await http.get(TESTS)).status_code == 200
        engine.stop()
        response = await http.get(TESTS)
    body = assert_problem(response, 503)
    assert response.headers["Retry-After"]
    assert "jbts_" not in response.text
    assert body["type"] == "/problems/database-unavailable"
