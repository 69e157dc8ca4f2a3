"""`POST /executions/runs/import`: a JUnit XML report becomes a run with one execution per
testcase, its cases found (or created) by automation key; a refused file stores nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from api.database.capabilities import EMBEDDED_WRITE_BATCH
from api.executions import imports
from api.executions.junit import parse_junit
from api.executions.schemas import MAX_ATTEMPT
from api.main import create_app
from api.settings import Settings
from tests.api.executions.helpers import EXECUTIONS, RUNS, TESTS, counted, run_executions
from tests.api.helpers import UNKNOWN_ID, assert_invalid, assert_problem, served

IMPORT = f"{RUNS}/import"
FIXTURES = Path(__file__).parent.parent.parent / "fixtures" / "junit"
COLLECTIONS = ("test_cases", "test_runs", "test_executions")
XML = {"Content-Type": "application/xml"}


def report(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def suite(*testcases: str, attributes: str = "") -> bytes:
    return f'<testsuite name="inline" {attributes}>{"".join(testcases)}</testsuite>'.encode()


async def imported(client: httpx.AsyncClient, data: bytes, **kw: Any) -> dict[str, Any]:
    response = await client.post(IMPORT, content=data, headers=XML, **kw)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["location"] == f"{RUNS}/{body['run']['id']}"
    return body


async def counts(db: AsyncDatabase[Any]) -> dict[str, int]:
    return {name: await db[name].count_documents({}) for name in COLLECTIONS}


def by_key(executions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["test_case"]["automation_key"]: e for e in executions if e["attempt"] == 1}


class TestImport:
    async def test_a_pytest_report_as_a_multipart_file(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        response = await client.post(
            IMPORT,
            files={"file": ("junit.xml", report("pytest.xml"), "application/xml")},
            params={"branch": "main", "build_url": "https://ci.example.com/job/7"},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["testcases"], body["cases_created"], body["cases_found"]) == (7, 7, 0)
        assert body["executions"] == {"passed": 3, "failed": 1, "error": 1, "skipped": 2}
        run = body["run"]
        assert response.headers["etag"] == f'"{run["version"]}"'
        assert (run["name"], run["trigger"], run["status"]) == ("pytest tests", "import", "failed")
        assert (run["branch"], run["build_url"]) == ("main", "https://ci.example.com/job/7")
        assert counted(run) == {"passed": 3, "failed": 1, "error": 1, "skipped": 2, "total": 7}
        # The report's times: from its timestamp, its cases end to end (4,006 ms in all).
        assert run["started_at"] == "2024-05-01T10:34:56.789000Z"
        assert run["finished_at"] == "2024-05-01T10:35:00.795000Z"
        assert run["duration_ms"] == 4006
        executions = by_key(await run_executions(client, run["id"]))
        login = "tests.test_login.TestLogin"
        failed = executions[f"{login}::test_wrong_password"]
        assert (failed["status"], failed["duration_ms"], failed["worker"]) == (
            "failed",
            1500,
            "ci-runner-7",
        )
        assert failed["error"]["message"].startswith("AssertionError: assert 'Invalid password'")
        assert "tests/test_login.py:27: AssertionError" in failed["error"]["stack"]
        assert failed["error"]["signature"]
        errored = executions[f"{login}::test_locked_account"]
        assert errored["status"] == "error"
        assert errored["error"]["message"].startswith("failed on setup")
        assert executions[f"{login}::test_sso"]["status"] == "skipped"
        assert executions[f"{login}::test_sso"]["error"] is None
        assert executions["test_module_level"]["status"] == "passed"  # no classname
        assert executions[f"{login}::test_ok"]["started_at"] == run["started_at"]
        case = (await client.get(f"{TESTS}/{failed['test_case_id']}")).json()
        assert (case["name"], case["status"], case["tags"], case["steps"]) == (
            "test_wrong_password",
            "active",
            ["imported"],
            [],
        )
        assert case["automation_key"] == f"{login}::test_wrong_password"
        assert await counts(db) == {"test_cases": 7, "test_runs": 1, "test_executions": 7}

    async def test_a_surefire_report_as_the_body(self, client: httpx.AsyncClient) -> None:
        body = await imported(
            client,
            report("surefire.xml"),
            params={"name": "Checkout IT", "commit": "9fceb02", "requested_by": "alice"},
        )
        run = body["run"]
        assert (run["name"], run["commit"], run["requested_by"]) == (
            "Checkout IT",
            "9fceb02",
            "alice",
        )
        assert body["executions"] == {"passed": 2, "failed": 2, "error": 2, "skipped": 1}
        assert run["status"] == "failed"
        assert counted(run) == {"passed": 2, "failed": 2, "error": 2, "skipped": 1, "total": 7}
        assert run["started_at"] == "2024-05-02T08:00:00Z"
        assert run["duration_ms"] == 12_345 + 3200 + 800 + 4500 + 1_234_500 + 0 + 2000
        executions = by_key(await run_executions(client, run["id"]))
        it = "com.example.shop.CheckoutIT"
        assert executions[f"{it}::testAddressAutocomplete"]["status"] == "passed"  # flaky
        inventory = executions[f"{it}::testInventorySync"]
        assert (inventory["status"], inventory["duration_ms"]) == ("failed", 1_234_500)
        assert inventory["error"]["type"] == "java.lang.AssertionError"
        warehouse = executions[f"{it}::testWarehouseApi"]
        assert warehouse["error"]["message"] == "java.net.ConnectException"
        assert warehouse["worker"] == "build-agent-3"

    async def test_importing_again_finds_the_cases_and_adds_a_run(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        first = await imported(client, report("pytest.xml"))
        second = await imported(client, report("pytest.xml"))
        assert (second["cases_created"], second["cases_found"]) == (0, 7)
        assert second["run"]["id"] != first["run"]["id"]
        assert await counts(db) == {"test_cases": 7, "test_runs": 2, "test_executions": 14}
        execution = (await run_executions(client, second["run"]["id"]))[0]
        history = await client.get(EXECUTIONS, params={"test_case_id": execution["test_case_id"]})
        assert {e["run_id"] for e in history.json()["items"]} == {
            first["run"]["id"],
            second["run"]["id"],
        }

    async def test_a_testcase_repeated_in_the_file_is_a_later_attempt(
        self, client: httpx.AsyncClient
    ) -> None:
        data = suite(
            '<testcase classname="t" name="flaky"><failure message="boom"/></testcase>',
            '<testcase classname="t" name="flaky"><failure message="boom"/></testcase>',
            '<testcase classname="t" name="flaky" time="1"/>',
            '<testcase classname="t" name="steady" time="0.5"/>',
        )
        body = await imported(client, data)
        assert (body["testcases"], body["cases_created"]) == (4, 2)
        assert body["run"]["name"] == "inline"
        assert body["run"]["status"] == "passed"  # by the latest attempt
        assert counted(body["run"]) == {"passed": 2, "failed": 2, "total": 4}
        executions = await run_executions(client, body["run"]["id"])
        attempts = sorted((e["test_case"]["name"], e["attempt"], e["status"]) for e in executions)
        assert attempts == [
            ("flaky", 1, "failed"),
            ("flaky", 2, "failed"),
            ("flaky", 3, "passed"),
            ("steady", 1, "passed"),
        ]

    async def test_a_run_without_a_timestamp_ends_now(self, client: httpx.AsyncClient) -> None:
        body = await imported(client, suite('<testcase name="only" time="2"/>'))
        run = body["run"]
        assert run["status"] == "passed"
        assert run["duration_ms"] >= 2000
        assert run["finished_at"] >= run["started_at"]

    async def test_the_run_may_belong_to_a_suite(self, client: httpx.AsyncClient) -> None:
        created = await client.post("/api/v1/suites", json={"name": "smoke"})
        suite_id = created.json()["id"]
        body = await imported(client, suite('<testcase name="t"/>'), params={"suite_id": suite_id})
        assert body["run"]["suite_id"] == suite_id

    async def test_an_idempotency_key_replays_the_import(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        headers = {**XML, "Idempotency-Key": "import-1"}
        data = suite('<testcase name="t"/>')
        first = await client.post(IMPORT, content=data, headers=headers)
        again = await client.post(IMPORT, content=data, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert (await counts(db))["test_runs"] == 1


BOMB = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">\n'
        for i in range(1, 10)
    )
    + ']>\n<testsuite name="&lol9;"><testcase name="t"/></testsuite>'
).encode()
XXE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE testsuite [\n'
    b'  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
    b'<testsuite name="s"><testcase name="&xxe;"/></testsuite>'
)


class TestConcurrentImports:
    async def test_a_case_created_meanwhile_is_read_not_created_again(
        self, client: httpx.AsyncClient
    ) -> None:
        """What an import meets when another creates a case between its read and its insert."""
        [testcase] = parse_junit(suite('<testcase classname="t" name="raced"/>')).cases
        other = await client.post(TESTS, json={"name": "raced", "automation_key": "t::raced"})
        created, meanwhile = await imports._create_cases(
            [testcase], batch_size=EMBEDDED_WRITE_BATCH
        )
        assert created == {}
        assert str(meanwhile["t::raced"].id) == other.json()["id"]

    async def test_two_imports_of_new_cases_share_them(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        data = report("pytest.xml")
        bodies = await asyncio.gather(*(imported(client, data) for _ in range(2)))
        assert sum(body["cases_created"] for body in bodies) == 7
        assert all(body["cases_created"] + body["cases_found"] == 7 for body in bodies)
        assert await counts(db) == {"test_cases": 7, "test_runs": 2, "test_executions": 14}


class TestRefused:
    @pytest.mark.parametrize("data", [BOMB, XXE], ids=["billion-laughs", "external-entity"])
    async def test_entities_are_refused_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], data: bytes
    ) -> None:
        await imported(client, suite('<testcase name="t"/>'))
        before = await counts(db)
        for response in (
            await client.post(IMPORT, content=data, headers=XML),
            await client.post(IMPORT, files={"file": ("bomb.xml", data)}),
        ):
            body = assert_problem(response, 422)
            assert "DTD" in body["detail"]
        assert await counts(db) == before

    @pytest.mark.parametrize(
        ("data", "detail"),
        [
            (b"<testsuite><testcase name='t'>", "not well-formed"),
            (b"<testsuite name='empty'/>", "no testcases"),
            (b"", "empty"),
        ],
    )
    async def test_unreadable_reports_are_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any], data: bytes, detail: str
    ) -> None:
        response = await client.post(IMPORT, content=data, headers=XML)
        assert detail in assert_problem(response, 422)["detail"]
        assert await counts(db) == dict.fromkeys(COLLECTIONS, 0)

    async def test_a_testcase_repeated_more_often_than_attempts_go_is_422(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        data = suite(*['<testcase classname="t" name="again"/>'] * (MAX_ATTEMPT + 1))
        response = await client.post(IMPORT, content=data, headers=XML)
        body = assert_invalid(response, f"file.testcases.{MAX_ATTEMPT}")
        assert "'t::again' is repeated" in body["detail"]
        assert await counts(db) == dict.fromkeys(COLLECTIONS, 0)

    async def test_other_media_types_are_415(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        data = suite('<testcase name="t"/>')
        for headers in ({"Content-Type": "application/json"}, {"Content-Type": "text/plain"}, {}):
            response = await client.post(IMPORT, content=data, headers=headers)
            assert "multipart/form-data" in assert_problem(response, 415)["detail"]
        assert await counts(db) == dict.fromkeys(COLLECTIONS, 0)

    async def test_a_form_needs_the_file_and_nothing_else(self, client: httpx.AsyncClient) -> None:
        data = suite('<testcase name="t"/>')
        assert_invalid(await client.post(IMPORT, files={"report": ("r.xml", data)}), "body.report")
        text_field = await client.post(
            IMPORT,
            content=b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\ntext\r\n--b--\r\n',
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert_invalid(text_field, "body.file")
        response = await client.post(
            IMPORT, files={"file": ("r.xml", data)}, data={"branch": "main"}
        )
        assert_invalid(response, "body.branch")
        broken = await client.post(
            IMPORT,
            content=b"--x\r\nnot a part",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
        assert_problem(broken, 422)

    async def test_options_are_checked(
        self, client: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        data = suite('<testcase name="t"/>')
        for params, location in (
            ({"suite_id": UNKNOWN_ID}, "query.suite_id"),
            ({"suite": "x"}, "query.suite"),
            ({"build_url": "ftp://x"}, "query.build_url"),
        ):
            response = await client.post(IMPORT, content=data, headers=XML, params=params)
            assert_invalid(response, location)
        assert await counts(db) == dict.fromkeys(COLLECTIONS, 0)


class TestSizeLimit:
    @pytest.fixture
    async def small(
        self, settings: Settings, db: AsyncDatabase[Any]
    ) -> AsyncIterator[httpx.AsyncClient]:
        """An app whose imports take 4 KiB, and other bodies 1 KiB."""
        limited = Settings.model_validate(
            {
                "mongodb_uri": settings.mongodb_uri,
                "mongodb_db": settings.mongodb_db,
                "JBTS_MAX_IMPORT_BYTES": 4096,
                "JBTS_MAX_BODY_BYTES": 1024,
            }
        )
        async with served(create_app(limited)) as http:
            yield http

    async def test_reports_over_the_import_limit_are_413_and_nothing_is_stored(
        self, small: httpx.AsyncClient, db: AsyncDatabase[Any]
    ) -> None:
        padding = "x" * 5000
        data = suite(f'<testcase name="t"><system-out>{padding}</system-out></testcase>')

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(data), 1000):
                yield data[start : start + 1000]

        for response in (
            await small.post(IMPORT, content=data, headers=XML),
            await small.post(IMPORT, content=chunks(), headers=XML),  # no Content-Length
            await small.post(IMPORT, files={"file": ("big.xml", data)}),
        ):
            assert "4096 bytes" in assert_problem(response, 413)["detail"]
        assert await counts(db) == dict.fromkeys(COLLECTIONS, 0)

    async def test_the_import_limit_replaces_the_body_limit_there(
        self, small: httpx.AsyncClient
    ) -> None:
        data = report("pytest.xml")
        assert 1024 < len(data) <= 4096
        assert (await small.post(IMPORT, content=data, headers=XML)).status_code == 201
        response = await small.post(TESTS, json={"name": "x" * 100, "description": "y" * 2000})
        assert_problem(response, 413)
