"""`Idempotency-Key` on every POST route: a retry replays the first answer and writes nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from api.idempotency.service import key_id, request_fingerprint
from documents.base import utcnow
from tests.api.helpers import (
    BROWSER_COLLECTION,
    BROWSERS,
    ENVIRONMENT_COLLECTION,
    ENVIRONMENTS,
    assert_invalid,
    assert_problem,
    browser_body,
    environment_body,
)
from tests.api.test_defs.helpers import MIB, insert_oversized_case

TESTS = "/api/v1/tests"
BULK = f"{TESTS}/bulk"
SUITES = "/api/v1/suites"
TEMPLATES = "/api/v1/templates"
CASES = "test_cases"
SUITE_COLLECTION = "test_suites"
TEMPLATE_COLLECTION = "test_templates"
KEYS = "idempotency_keys"
KEY = "5f1d7a9e-2c43-4b8e-9a1f-0c6e2d7b3a54"
REPLAYED = "Idempotent-Replayed"


def keyed(key: str = KEY) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def count(db: AsyncDatabase[Any], collection: str) -> int:
    return await db[collection].count_documents({})


async def post(
    client: httpx.AsyncClient, path: str, body: Any, key: str | None = KEY
) -> httpx.Response:
    return await client.post(path, json=body, headers=keyed(key) if key is not None else None)


def assert_replay_of(replay: httpx.Response, first: httpx.Response) -> None:
    """The replay answers what the first request answered, and says it is a replay."""
    assert replay.status_code == first.status_code, replay.text
    assert replay.content == first.content
    for header in ("content-type", "location", "etag"):
        assert replay.headers.get(header) == first.headers.get(header), header
    assert replay.headers[REPLAYED] == "true"
    assert REPLAYED not in first.headers


async def create_case(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await post(client, TESTS, {"name": name}, key=None)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class TestReplay:
    @pytest.mark.parametrize(
        ("path", "body", "collection"),
        [
            (TESTS, {"name": "Login"}, CASES),
            (SUITES, {"name": "smoke"}, SUITE_COLLECTION),
            (TEMPLATES, {"name": "login"}, TEMPLATE_COLLECTION),
            (BROWSERS, browser_body("chrome"), BROWSER_COLLECTION),
            (ENVIRONMENTS, environment_body("staging"), ENVIRONMENT_COLLECTION),
        ],
    )
    async def test_a_create_replays_the_first_response_and_writes_once(
        self,
        client: httpx.AsyncClient,
        db: AsyncDatabase[Any],
        path: str,
        body: dict[str, Any],
        collection: str,
    ) -> None:
        first = await post(client, path, body)
        replay = await post(client, path, body)

        assert first.status_code == 201, first.text
        assert first.headers["location"].endswith(first.json()["id"])
        assert_replay_of(replay, first)
        assert await count(db, collection) == 1

    async def test_a_bulk_replays_its_results_and_creates_once(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        operations = {"operations": [{"op": "create", "data": {"name": f"c{i}"}} for i in range(3)]}

        first = await post(client, BULK, operations)
        replay = await post(client, BULK, operations)

        assert first.status_code == 200, first.text
        assert first.json()["created"] == 3
        assert_replay_of(replay, first)
        ids = [result["id"] for result in replay.json()["results"]]
        assert sorted(ids) == sorted([str(doc["_id"]) async for doc in db[CASES].find()])

    async def test_a_clone_replays_and_copies_once(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        case = await create_case(client, "Login")

        first = await post(client, f"{TESTS}/{case['id']}/clone", {"name": "Login copy"})
        replay = await post(client, f"{TESTS}/{case['id']}/clone", {"name": "Login copy"})

        assert first.status_code == 201, first.text
        assert_replay_of(replay, first)
        assert await count(db, CASES) == 2

    async def test_instantiate_replays_and_creates_one_case(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        template = await post(client, TEMPLATES, {"name": "login"}, key=None)
        url = f"{TEMPLATES}/{template.json()['id']}/instantiate"

        first = await post(client, url, {"name": "Login as admin"})
        replay = await post(client, url, {"name": "Login as admin"})

        assert first.status_code == 201, first.text
        assert_replay_of(replay, first)
        assert await count(db, CASES) == 1

    async def test_adding_a_step_replays_and_appends_once(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        case = await create_case(client, "Login")
        step = {"action": "navigate", "value": "https://example.com"}

        first = await post(client, f"{TESTS}/{case['id']}/steps", step)
        replay = await post(client, f"{TESTS}/{case['id']}/steps", step)

        assert first.status_code == 201, first.text
        assert_replay_of(replay, first)
        stored = await db[CASES].find_one({"_id": ObjectId(case["id"])})
        assert stored is not None
        assert len(stored["steps"]) == 1
        assert stored["version"] == case["version"] + 1

    async def test_adding_cases_to_a_suite_replays(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        case = await create_case(client, "Login")
        suite = await post(client, SUITES, {"name": "smoke"}, key=None)
        url = f"{SUITES}/{suite.json()['id']}/tests"

        first = await post(client, url, {"test_case_ids": [case["id"]]})
        replay = await post(client, url, {"test_case_ids": [case["id"]]})

        assert first.status_code == 200, first.text
        assert_replay_of(replay, first)
        stored = await db[SUITE_COLLECTION].find_one({"_id": ObjectId(suite.json()["id"])})
        assert stored is not None
        assert stored["test_case_ids"] == [ObjectId(case["id"])]

    async def test_without_a_key_each_request_writes(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        first = await post(client, TESTS, {"name": "Login"}, key=None)
        second = await post(client, TESTS, {"name": "Login"}, key=None)

        assert first.status_code == second.status_code == 201
        assert first.json()["id"] != second.json()["id"]
        assert REPLAYED not in second.headers
        assert await count(db, CASES) == 2
        assert await count(db, KEYS) == 0

    async def test_another_key_is_another_request(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        first = await post(client, TESTS, {"name": "Login"}, key="key-1")
        second = await post(client, TESTS, {"name": "Login"}, key="key-2")

        assert first.json()["id"] != second.json()["id"]
        assert await count(db, CASES) == 2

    async def test_other_methods_ignore_the_header(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        case = await create_case(client, "Login")

        first = await client.patch(f"{TESTS}/{case['id']}", json={"owner": "a"}, headers=keyed())
        second = await client.patch(f"{TESTS}/{case['id']}", json={"owner": "a"}, headers=keyed())

        assert first.status_code == second.status_code == 200
        assert second.json()["version"] == case["version"] + 2
        assert REPLAYED not in second.headers
        assert await count(db, KEYS) == 0


class TestAnotherRequestWithTheKey:
    async def test_a_different_body_is_a_422_and_writes_nothing(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        first = await post(client, TESTS, {"name": "Login"})

        response = await post(client, TESTS, {"name": "Logout"})

        body = assert_problem(response, 422)
        assert body["type"] == "/problems/idempotency-key-reused"
        assert "different request" in body["detail"]
        assert [doc["name"] async for doc in db[CASES].find()] == ["Login"]
        assert_replay_of(await post(client, TESTS, {"name": "Login"}), first)

    async def test_another_path_is_a_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        assert (await post(client, TESTS, {"name": "smoke"})).status_code == 201

        response = await post(client, SUITES, {"name": "smoke"})

        assert assert_problem(response, 422)["type"] == "/problems/idempotency-key-reused"
        assert await count(db, SUITE_COLLECTION) == 0

    async def test_another_query_is_a_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        assert (await post(client, TESTS, {"name": "Login"})).status_code == 201

        response = await client.post(
            TESTS, params={"dry": "1"}, json={"name": "Login"}, headers=keyed()
        )

        assert assert_problem(response, 422)["type"] == "/problems/idempotency-key-reused"
        assert await count(db, CASES) == 1


class TestFailedRequestsKeepNoKey:
    async def test_a_422_is_not_stored_and_the_corrected_retry_runs(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        invalid = await post(client, TESTS, {"name": ""})
        assert_invalid(invalid, "body.name")
        assert await count(db, KEYS) == 0

        fixed = await post(client, TESTS, {"name": "Login"})

        assert fixed.status_code == 201, fixed.text
        assert REPLAYED not in fixed.headers
        assert await count(db, CASES) == 1
        assert_replay_of(await post(client, TESTS, {"name": "Login"}), fixed)

    async def test_a_409_is_not_stored_and_the_same_request_runs_again(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        taken = await post(client, BROWSERS, browser_body("chrome"), key=None)
        assert assert_problem(await post(client, BROWSERS, browser_body("chrome")), 409)
        assert (await client.delete(f"{BROWSERS}/{taken.json()['id']}")).status_code == 204

        retry = await post(client, BROWSERS, browser_body("chrome"))

        assert retry.status_code == 201, retry.text
        assert REPLAYED not in retry.headers
        assert await count(db, BROWSER_COLLECTION) == 1

    async def test_a_404_is_not_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        url = f"{TESTS}/6650f1c2a7b4e3d2c1b0a998/clone"

        assert_problem(await post(client, url, {}), 404)
        assert_problem(await post(client, url, {}), 404)

        assert await count(db, KEYS) == 0


class TestResponsesTooLargeToKeep:
    async def test_are_answered_all_the_same(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        # Control characters take 1 byte stored and 6 in JSON ("\u0001"): the clone of this
        # 3 MiB case answers 18 MiB, more than one MongoDB document can keep for replays.
        case_id = await insert_oversized_case(db, value="\x01" * (3 * MIB))

        response = await post(client, f"{TESTS}/{case_id}/clone", {})

        assert response.status_code == 201, response.text[:200]
        assert len(response.content) > 16 * MIB
        assert await count(db, CASES) == 2
        # The key is kept without a response to replay: a retry is told to read, not run twice.
        retry = await post(client, f"{TESTS}/{case_id}/clone", {})
        assert assert_problem(retry, 409)["type"] == "/problems/idempotency-outcome-unknown"
        assert await count(db, CASES) == 2


class TestConcurrentRequests:
    async def test_identical_concurrent_requests_create_one_document(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        responses = await asyncio.gather(
            *(post(client, TESTS, {"name": "Login"}) for _ in range(5))
        )

        assert await count(db, CASES) == 1
        created = [r for r in responses if r.status_code == 201]
        in_progress = [r for r in responses if r.status_code != 201]
        assert created, [r.text for r in responses]
        assert len([r for r in created if REPLAYED not in r.headers]) == 1
        assert len({r.content for r in created}) == 1
        for response in in_progress:
            assert assert_problem(response, 409)["type"] == "/problems/idempotency-key-in-use"
            assert response.headers["retry-after"] == "1"


def raw_body(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def post_raw(client: httpx.AsyncClient, path: str, content: bytes) -> httpx.Response:
    headers = {**keyed(), "Content-Type": "application/json"}
    return await client.post(path, content=content, headers=headers)


async def insert_record(
    db: AsyncDatabase[Any],
    *,
    path: str,
    content: bytes,
    locked_for: timedelta,
    expires_in: timedelta = timedelta(hours=24),
) -> None:
    """A claim of KEY for this request, as a request still running (or crashed) leaves it."""
    now = utcnow()
    await db[KEYS].insert_one(
        {
            "_id": key_id(KEY),
            "request_hash": request_fingerprint(method="POST", path=path, query=b"", body=content),
            "method": "POST",
            "path": path,
            "state": "in_progress",
            "owner": "another-process",
            "locked_until": now + locked_for,
            "response": None,
            "created_at": now - timedelta(seconds=1),
            "expires_at": now + expires_in,
        }
    )


class TestClaims:
    async def test_while_the_first_request_runs_a_retry_gets_409_with_retry_after(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        content = raw_body({"name": "Login"})
        await insert_record(db, path=TESTS, content=content, locked_for=timedelta(minutes=1))

        response = await post_raw(client, TESTS, content)

        assert assert_problem(response, 409)["type"] == "/problems/idempotency-key-in-use"
        assert response.headers["retry-after"] == "1"
        assert await count(db, CASES) == 0

    async def test_a_lapsed_claim_of_the_same_request_is_an_unknown_outcome_never_run_again(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        # As a server that died mid-request leaves its claim: pending, its lease over.
        content = raw_body({"name": "Login"})
        await insert_record(db, path=TESTS, content=content, locked_for=-timedelta(seconds=1))
        [before] = [doc async for doc in db[KEYS].find()]

        for _ in range(2):
            response = await post_raw(client, TESTS, content)

            body = assert_problem(response, 409)
            assert body["type"] == "/problems/idempotency-outcome-unknown"
            assert "read the resource" in body["detail"]
            assert "new Idempotency-Key" in body["detail"]
            assert "retry-after" not in response.headers
        assert await count(db, CASES) == 0
        assert [doc async for doc in db[KEYS].find()] == [before]  # kept until its 24 h end
        fresh = await post(client, TESTS, {"name": "Login"}, key="a-new-key")
        assert fresh.status_code == 201, fresh.text

    async def test_a_lapsed_claim_of_another_request_still_refuses_the_key(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await insert_record(
            db, path=TESTS, content=raw_body({"name": "A"}), locked_for=-timedelta(seconds=1)
        )

        response = await post_raw(client, TESTS, raw_body({"name": "B"}))

        assert assert_problem(response, 422)["type"] == "/problems/idempotency-key-reused"
        assert await count(db, CASES) == 0

    async def test_a_key_past_its_24_hours_is_free_even_before_the_ttl_monitor_runs(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        await insert_record(
            db,
            path=SUITES,
            content=raw_body({"name": "old"}),
            locked_for=timedelta(minutes=1),
            expires_in=-timedelta(seconds=1),
        )
        content = raw_body({"name": "Login"})

        response = await post_raw(client, TESTS, content)

        assert response.status_code == 201, response.text
        assert await count(db, CASES) == 1
        assert_replay_of(await post_raw(client, TESTS, content), response)

    async def test_a_stored_key_expires_24_hours_after_its_claim(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        assert (await post(client, TESTS, {"name": "Login"})).status_code == 201

        [record] = [doc async for doc in db[KEYS].find()]

        assert record["_id"] != KEY  # only a hash of the key is kept
        assert record["state"] == "done"
        assert record["expires_at"] - record["created_at"] == timedelta(hours=24)


class TestInvalidKey:
    @pytest.mark.parametrize(
        "key",
        [b"", b"k" * 256, b"two words", "caf\u00e9".encode(), b"tab\there"],
        ids=["empty", "too-long", "space", "non-ascii", "control"],
    )
    async def test_is_a_422_and_writes_nothing(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], key: bytes
    ) -> None:
        response = await client.post(
            TESTS, json={"name": "Login"}, headers={b"Idempotency-Key": key}
        )

        assert_invalid(response, "header.Idempotency-Key")
        assert await count(db, CASES) == 0
        assert await count(db, KEYS) == 0

    async def test_the_longest_key_is_accepted(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        first = await post(client, TESTS, {"name": "Login"}, key="~" * 255)

        assert first.status_code == 201, first.text
        assert_replay_of(await post(client, TESTS, {"name": "Login"}, key="~" * 255), first)

    async def test_two_keys_in_one_request_are_a_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        headers = [("Idempotency-Key", "a"), ("Idempotency-Key", "b")]

        response = await client.post(TESTS, json={"name": "Login"}, headers=headers)

        assert_invalid(response, "header.Idempotency-Key")
        assert await count(db, CASES) == 0


class TestOpenAPI:
    async def test_every_post_operation_documents_the_header_409_and_422(
        self, client: httpx.AsyncClient
    ) -> None:
        schema = (await client.get("/openapi.json")).json()

        posts = {
            path: item["post"]
            for path, item in schema["paths"].items()
            if path.startswith("/api/v1/") and "post" in item
        }
        assert len(posts) >= 10
        for path, operation in posts.items():
            headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
            key = headers["Idempotency-Key"]
            assert key["required"] is False, path
            [string] = [s for s in key["schema"]["anyOf"] if s["type"] == "string"]
            assert string["maxLength"] == 255, path
            assert "409" in operation["responses"], path
            assert "Retry-After" in operation["responses"]["409"]["headers"], path
            for slug in ("idempotency-key-in-use", "idempotency-outcome-unknown"):
                assert slug in operation["responses"]["409"]["description"], path
                assert slug in key["description"], path
            assert "422" in operation["responses"], path
            # The route's own status: the lowest 2xx it documents.
            success = min(s for s in operation["responses"] if s.startswith("2"))
            assert REPLAYED in operation["responses"][success]["headers"], path

    async def test_no_other_operation_has_the_header(self, client: httpx.AsyncClient) -> None:
        schema = (await client.get("/openapi.json")).json()

        for path, item in schema["paths"].items():
            for method, operation in item.items():
                names = {p["name"] for p in operation.get("parameters", [])}
                assert method == "post" or "Idempotency-Key" not in names, (method, path)
