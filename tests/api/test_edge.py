"""The app's edge: the request body limit and CORS, through HTTP, with limits set in `Settings`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase

from api.main import create_app
from api.settings import Settings
from tests.api.helpers import BROWSER_COLLECTION, BROWSERS, assert_problem, browser_body, served

LIMIT = 4096
UI = "https://ui.example.com"
OTHER_UI = "http://localhost:3000"
CHUNK = 512


def body_of_size(size: int, name: str = "Padded") -> bytes:
    """A valid browser configuration whose JSON is exactly `size` bytes (trailing whitespace)."""
    body = json.dumps(browser_body(name)).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


@pytest.fixture
def edge_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A small body limit and two allowed origins, read from the environment as in production."""
    monkeypatch.setenv("JBTS_MAX_BODY_BYTES", str(LIMIT))
    monkeypatch.setenv("JBTS_CORS_ORIGINS", f" {UI} , {OTHER_UI}")
    return monkeypatch


@pytest.fixture
def settings(edge_env: pytest.MonkeyPatch, mongodb_uri: str, db_name: str) -> Settings:
    return Settings(mongodb_uri=mongodb_uri, mongodb_db=db_name)


async def stored_browsers(db: AsyncDatabase[Any]) -> int:
    return await db[BROWSER_COLLECTION].count_documents({})


class Chunks:
    """A chunked request body (no Content-Length) that records how much of it was read."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            self.sent += CHUNK
            yield b" " * CHUNK


class TestBodyLimit:
    def test_follows_the_setting(self, settings: Settings) -> None:
        assert settings.max_body_bytes == LIMIT

    async def test_a_declared_length_over_the_limit_is_413_and_nothing_is_written(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        response = await client.post(
            BROWSERS,
            content=body_of_size(LIMIT + 1),
            headers={"Content-Type": "application/json"},
        )

        body = assert_problem(response, 413)
        assert body["type"] == "/problems/payload-too-large"
        assert str(LIMIT) in body["detail"]
        assert response.headers["connection"] == "close"
        assert await stored_browsers(db) == 0

    async def test_a_declared_length_is_refused_before_reading_the_body(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        chunks = Chunks(100 * LIMIT)

        response = await client.post(
            BROWSERS,
            content=chunks,
            headers={"Content-Type": "application/json", "Content-Length": str(100 * LIMIT)},
        )

        assert_problem(response, 413)
        assert chunks.sent == 0
        assert await stored_browsers(db) == 0

    async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        chunks = Chunks(100 * LIMIT)

        response = await client.post(
            BROWSERS, content=chunks, headers={"Content-Type": "application/json"}
        )

        body = assert_problem(response, 413)
        assert body["type"] == "/problems/payload-too-large"
        # Read in chunks and stopped at the first one past the limit, never read whole.
        assert LIMIT < chunks.sent <= LIMIT + CHUNK
        assert await stored_browsers(db) == 0

    async def test_a_body_of_exactly_the_limit_is_accepted(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        response = await client.post(
            BROWSERS, content=body_of_size(LIMIT), headers={"Content-Type": "application/json"}
        )

        assert response.status_code == 201, response.text
        assert response.json()["name"] == "Padded"
        assert await stored_browsers(db) == 1

    async def test_a_chunked_body_under_the_limit_is_accepted(
        self, client: httpx.AsyncClient
    ) -> None:
        payload = body_of_size(LIMIT - 1, name="Chunked")

        async def chunked() -> AsyncIterator[bytes]:
            for start in range(0, len(payload), CHUNK):
                yield payload[start : start + CHUNK]

        response = await client.post(
            BROWSERS, content=chunked(), headers={"Content-Type": "application/json"}
        )

        assert response.status_code == 201, response.text
        assert response.json()["name"] == "Chunked"

    async def test_requests_without_a_body_are_untouched(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health/live")

        assert response.status_code == 200

    async def test_the_default_limit_is_5_mib(
        self, monkeypatch: pytest.MonkeyPatch, mongodb_uri: str, db: AsyncDatabase[Any]
    ) -> None:
        monkeypatch.delenv("JBTS_MAX_BODY_BYTES", raising=False)
        settings = Settings(mongodb_uri=mongodb_uri, mongodb_db=db.name)
        assert settings.max_body_bytes == 5 * 1024 * 1024
        async with served(create_app(settings)) as http:
            too_large = await http.post(
                BROWSERS,
                content=body_of_size(5 * 1024 * 1024 + 1),
                headers={"Content-Type": "application/json"},
            )
            fits = await http.post(
                BROWSERS,
                content=body_of_size(5 * 1024 * 1024),
                headers={"Content-Type": "application/json"},
            )

        assert_problem(too_large, 413)
        assert fits.status_code == 201, fits.text

    @pytest.mark.parametrize("value", ["0", "1023", str(1024**3 + 1), "5MB"])
    def test_an_unusable_limit_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("JBTS_MAX_BODY_BYTES", value)

        with pytest.raises(ValidationError, match="JBTS_MAX_BODY_BYTES"):
            Settings()


def preflight(origin: str, method: str = "POST", headers: str | None = None) -> dict[str, str]:
    request = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        request["Access-Control-Request-Headers"] = headers
    return request


class TestCors:
    def test_origins_are_read_comma_separated(self, settings: Settings) -> None:
        assert settings.cors_origins == (UI, OTHER_UI)

    async def test_a_preflight_from_a_listed_origin_is_allowed(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.options(
            BROWSERS,
            headers=preflight(UI, "PATCH", "content-type, if-match, idempotency-key"),
        )

        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == UI
        methods = {m.strip() for m in response.headers["access-control-allow-methods"].split(",")}
        assert methods == {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
        allowed = {
            h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
        }
        assert {
            "content-type",
            "if-match",
            "if-none-match",
            "idempotency-key",
            "authorization",
        } <= allowed

    async def test_a_preflight_from_another_origin_gets_no_allow_origin(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.options(BROWSERS, headers=preflight("https://evil.example.com"))

        assert "access-control-allow-origin" not in response.headers
        body = assert_problem(response, 400)
        assert "origin" in body["detail"]

    async def test_a_preflight_asking_for_an_unlisted_header_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.options(BROWSERS, headers=preflight(UI, "POST", "x-custom"))

        body = assert_problem(response, 400)
        assert "headers" in body["detail"]

    async def test_a_request_from_a_listed_origin_sees_the_exposed_headers(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(BROWSERS, json=browser_body("Chrome"), headers={"Origin": UI})

        assert response.status_code == 201
        assert response.headers["access-control-allow-origin"] == UI
        exposed = {
            h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
        }
        assert exposed == {
            "etag",
            "location",
            "retry-after",
            "idempotent-replayed",
            "www-authenticate",
        }

    async def test_a_request_from_another_origin_gets_no_allow_origin(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(BROWSERS, headers={"Origin": "https://evil.example.com"})

        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers

    async def test_a_413_carries_the_cors_headers_of_an_allowed_origin(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            BROWSERS,
            content=Chunks(10 * LIMIT),
            headers={"Content-Type": "application/json", "Origin": UI},
        )

        assert_problem(response, 413)
        assert response.headers["access-control-allow-origin"] == UI

    @pytest.mark.parametrize(
        "value",
        ["https://ui.example.com/", "ui.example.com", "https://ui.example.com/app", "ftp://x"],
    )
    def test_a_value_that_is_not_an_origin_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("JBTS_CORS_ORIGINS", f"{UI},{value}")

        with pytest.raises(ValidationError, match="is not an origin"):
            Settings()


class TestWithoutCorsOrigins:
    @pytest.fixture
    def settings(self, monkeypatch: pytest.MonkeyPatch, mongodb_uri: str, db_name: str) -> Settings:
        monkeypatch.delenv("JBTS_CORS_ORIGINS", raising=False)
        return Settings(mongodb_uri=mongodb_uri, mongodb_db=db_name)

    def test_cors_is_off_by_default(self, settings: Settings) -> None:
        assert settings.cors_origins == ()

    async def test_a_preflight_is_what_it_was_a_405(self, client: httpx.AsyncClient) -> None:
        response = await client.options(BROWSERS, headers=preflight(UI))

        assert_problem(response, 405)
        assert not any(name.startswith("access-control-") for name in response.headers)

    async def test_a_request_with_an_origin_gets_no_cors_headers(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(BROWSERS, headers={"Origin": UI})

        assert response.status_code == 200
        assert not any(name.startswith("access-control-") for name in response.headers)
