"""Lists of runs and executions: filters, sorts, and keyset cursors while reporters add more."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.executions.helpers import (
    EXECUTIONS,
    RUNS,
    create_case,
    create_run,
    create_suite,
    get_run,
    run_executions,
    set_status,
)
from tests.api.helpers import assert_invalid


async def walk(
    client: httpx.AsyncClient, url: str, params: dict[str, Any], *, between: Any = None
) -> list[str]:
    """Every id a walk by cursor returns; `between(n)` runs after the n-th page."""
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(item["id"] for item in body["items"])
        pages += 1
        if between is not None:
            await between(pages)
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


class TestCursor:
    async def test_a_walk_sees_every_execution_once_while_more_are_added(
        self, client: httpx.AsyncClient
    ) -> None:
        cases = [await create_case(client, f"case {n}", steps=[]) for n in range(7)]
        run = await create_run(client, test_case_ids=[case["id"] for case in cases])
        before = [e["id"] for e in await run_executions(client, run["id"])]
        added: list[str] = []

        async def retry_one(page: int) -> None:
            if page <= 2:  # a reporter adds a retry while the UI pages through
                response = await client.post(
                    EXECUTIONS, json={"run_id": run["id"], "test_case_id": cases[page]["id"]}
                )
                assert response.status_code == 201, response.text
                added.append(response.json()["id"])

        params = {"run_id": run["id"], "sort_by": "created_at", "order": "asc", "limit": 3}
        seen = await walk(client, EXECUTIONS, params, between=retry_one)
        assert seen == before + added  # in order, nothing twice, nothing skipped

        newest_first = await walk(client, EXECUTIONS, {**params, "order": "desc"})
        assert newest_first == (before + added)[::-1]

    async def test_cursor_over_a_sort_with_nulls(self, client: httpx.AsyncClient) -> None:
        cases = [await create_case(client, f"case {n}", steps=[]) for n in range(5)]
        run = await create_run(client, test_case_ids=[case["id"] for case in cases])
        executions = await run_executions(client, run["id"])
        for execution in executions[:2]:  # two started, three never started (null)
            await set_status(client, execution["id"], "running")
        params = {"run_id": run["id"], "sort_by": "started_at", "limit": 2}
        for order in ("asc", "desc"):
            by_page = await client.get(EXECUTIONS, params={**params, "order": order, "limit": 5})
            expected = [item["id"] for item in by_page.json()["items"]]
            assert await walk(client, EXECUTIONS, {**params, "order": order}) == expected

    async def test_runs_page_by_cursor(self, client: httpx.AsyncClient) -> None:
        made = [(await create_run(client, name=f"run {n}"))["id"] for n in range(4)]
        assert await walk(client, RUNS, {"limit": 3}) == made[::-1]

    async def test_a_tampered_cursor_is_422(self, client: httpx.AsyncClient) -> None:
        for n in range(3):
            await create_run(client, name=f"run {n}")
        first = (await client.get(RUNS, params={"limit": 1})).json()
        cursor = first["next_cursor"]
        tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
        for bad in (tampered, cursor[:10], "not-a-cursor"):
            response = await client.get(RUNS, params={"limit": 1, "cursor": bad})
            assert_invalid(response, "query.cursor")
        other_sort = await client.get(
            RUNS, params={"limit": 1, "cursor": cursor, "sort_by": "started_at"}
        )
        assert_invalid(other_sort, "query.cursor")
        with_page = await client.get(RUNS, params={"limit": 1, "cursor": cursor, "page": 2})
        assert_invalid(with_page, "query.cursor")


class TestFilters:
    async def test_runs_by_status_branch_and_suite(self, client: httpx.AsyncClient) -> None:
        case = await create_case(client, "only", steps=[])
        main = await create_run(client, name="main", branch="main", test_case_ids=[case["id"]])
        await create_run(client, name="feature", branch="feature/x", trigger="manual")
        execution = (await run_executions(client, main["id"]))[0]
        await set_status(client, execution["id"], "running")

        async def names(**query: Any) -> list[str]:
            response = await client.get(RUNS, params=query)
            assert response.status_code == 200, response.text
            return [item["name"] for item in response.json()["items"]]

        assert await names(branch="main") == ["main"]
        assert await names(status="running") == ["main"]
        assert await names(status="queued,running", sort_by="created_at", order="asc") == [
            "main",
            "feature",
        ]
        assert await names(trigger="manual") == ["feature"]
        assert await names(commit="abc") == []
        bad = await client.get(RUNS, params={"status": "active"})
        assert_invalid(bad, "query.status")
        unknown = await client.get(RUNS, params={"state": "running"})
        assert_invalid(unknown, "query.state")

    async def test_executions_by_status_and_attempt(self, client: httpx.AsyncClient) -> None:
        cases = [await create_case(client, f"case {n}", steps=[]) for n in range(2)]
        run = await create_run(client, test_case_ids=[case["id"] for case in cases])
        first, _ = await run_executions(client, run["id"])
        await set_status(client, first["id"], "running")
        await set_status(client, first["id"], "failed", error={"message": "boom"})
        retry = await client.post(
            EXECUTIONS, json={"run_id": run["id"], "test_case_id": cases[0]["id"]}
        )
        assert retry.status_code == 201

        async def total(**query: Any) -> int:
            response = await client.get(EXECUTIONS, params={"run_id": run["id"], **query})
            assert response.status_code == 200, response.text
            count: int = response.json()["total"]
            return count

        assert await total() == 3
        assert await total(status="failed") == 1
        assert await total(status="queued") == 2
        assert await total(attempt=2) == 1
        assert await total(test_case_id=cases[1]["id"]) == 1
        assert await total(started_from="2000-01-01") == 1
        fields = await client.get(EXECUTIONS, params={"run_id": run["id"], "fields": "status"})
        assert all(set(item) == {"id", "status"} for item in fields.json()["items"])


async def ids(client: httpx.AsyncClient, url: str, **query: Any) -> list[str]:
    """The ids of one page of `url` (up to 50)."""
    response = await client.get(url, params={"limit": 50, **query})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def finish(
    client: httpx.AsyncClient, execution_id: str, *, started: str, finished: str
) -> None:
    await set_status(client, execution_id, "running", started_at=started)
    await set_status(client, execution_id, "passed", finished_at=finished)


class TestRunFiltersAndSorts:
    async def test_runs_by_suite_environment_browser_and_creation_time(
        self,
        client: httpx.AsyncClient,
        browsers: dict[str, dict[str, Any]],
        environments: dict[str, dict[str, Any]],
    ) -> None:
        case = await create_case(client, "only", steps=[])
        suite = await create_suite(client, "smoke", [case["id"]])
        firefox, edge = browsers["Firefox headed"]["id"], browsers["Edge headed"]["id"]
        staging, production = environments["staging"]["id"], environments["production"]["id"]
        first = await create_run(
            client, suite_id=suite["id"], environment_id=staging, browser_configuration_id=firefox
        )
        second = await create_run(
            client,
            test_case_ids=[case["id"]],
            environment_id=production,
            browser_configuration_id=edge,
        )
        third = await create_run(client)  # the default browser, no environment, no suite
        made = [first["id"], second["id"], third["id"]]

        assert await ids(client, RUNS, suite_id=suite["id"]) == [first["id"]]
        assert await ids(client, RUNS, environment_id=staging) == [first["id"]]
        assert await ids(client, RUNS, environment_id=production) == [second["id"]]
        assert await ids(client, RUNS, environment_id=environments["legacy"]["id"]) == []
        assert await ids(client, RUNS, browser_configuration_id=edge) == [second["id"]]
        default = browsers["Chrome desktop"]["id"]
        assert await ids(client, RUNS, browser_configuration_id=default) == [third["id"]]
        assert (
            await ids(client, RUNS, suite_id=suite["id"], browser_configuration_id=edge) == []
        )  # filters combine

        # created_at as stored (read back), the bounds inclusive
        middle = (await get_run(client, second["id"]))["created_at"]
        asc = {"sort_by": "created_at", "order": "asc"}
        assert await ids(client, RUNS, created_from=middle, **asc) == made[1:]
        assert await ids(client, RUNS, created_to=middle, **asc) == made[:2]
        assert await ids(client, RUNS, created_from=middle, created_to=middle) == [second["id"]]
        assert await ids(client, RUNS, created_to="2000-01-01") == []
        assert await ids(client, RUNS, created_from="2000-01-01", **asc) == made

        for name, bad in [
            ("suite_id", "not-an-id"),
            ("environment_id", "123"),
            ("browser_configuration_id", "zz" * 12),
            ("created_from", "yesterday"),
            ("created_to", "1700000000"),
        ]:
            assert_invalid(await client.get(RUNS, params={name: bad}), f"query.{name}")

    async def test_runs_sort_by_start_and_duration_with_nulls_as_mongodb_sorts_them(
        self, client: httpx.AsyncClient
    ) -> None:
        case = await create_case(client, "only", steps=[])
        early = await create_run(client, name="early", test_case_ids=[case["id"]])
        late = await create_run(client, name="late", test_case_ids=[case["id"]])
        never = [(await create_run(client, name=f"never {n}"))["id"] for n in range(2)]
        for run, started in [(early, "2026-01-01T00:00:00Z"), (late, "2026-02-01T00:00:00Z")]:
            (execution,) = await run_executions(client, run["id"])
            await finish(client, execution["id"], started=started, finished=started)
        runs = {
            run["id"]: run for run in [await get_run(client, i) for i in [early["id"], late["id"]]]
        }
        # a run's duration runs from its start to when it finished: the earlier start, the longer
        assert runs[early["id"]]["duration_ms"] > runs[late["id"]]["duration_ms"]
        for id in never:
            run = await get_run(client, id)
            assert run["started_at"] is None
            assert run["duration_ms"] is None

        # nulls first ascending, last descending (MongoDB's order); equal values by id
        ascending = {
            "started_at": [*never, early["id"], late["id"]],
            "duration_ms": [*never, late["id"], early["id"]],
        }
        for field, expected in ascending.items():
            assert await ids(client, RUNS, sort_by=field, order="asc") == expected
            assert await ids(client, RUNS, sort_by=field, order="desc") == expected[::-1]
            walked = await walk(client, RUNS, {"sort_by": field, "order": "asc", "limit": 1})
            assert walked == expected


class TestExecutionFiltersAndSorts:
    async def test_executions_started_to_and_by_duration(self, client: httpx.AsyncClient) -> None:
        cases = [await create_case(client, f"case {n}", steps=[]) for n in range(3)]
        run = await create_run(client, test_case_ids=[case["id"] for case in cases])
        slow, fast, queued = (e["id"] for e in await run_executions(client, run["id"]))
        await finish(client, slow, started="2026-01-01T10:00:00Z", finished="2026-01-01T10:00:05Z")
        await finish(client, fast, started="2026-01-02T10:00:00Z", finished="2026-01-02T10:00:01Z")
        of_run = {"run_id": run["id"], "sort_by": "started_at", "order": "asc"}

        assert await ids(client, EXECUTIONS, started_to="2026-01-01T23:59:59Z", **of_run) == [slow]
        assert await ids(client, EXECUTIONS, started_to="2026-01-02", **of_run) == [slow]
        assert await ids(client, EXECUTIONS, started_to="2026-01-02T10:00:00Z", **of_run) == [
            slow,
            fast,
        ]  # inclusive; never started is not before anything
        assert await ids(client, EXECUTIONS, started_to="2025-12-31T23:59:59Z", **of_run) == []
        assert await ids(
            client,
            EXECUTIONS,
            started_from="2026-01-02T00:00:00+01:00",
            started_to="2026-01-02T10:00:00+00:00",
            **of_run,
        ) == [fast]
        assert_invalid(
            await client.get(EXECUTIONS, params={"started_to": "2026-13-01"}), "query.started_to"
        )

        by_duration = {"run_id": run["id"], "sort_by": "duration_ms"}
        assert await ids(client, EXECUTIONS, order="asc", **by_duration) == [queued, fast, slow]
        assert await ids(client, EXECUTIONS, order="desc", **by_duration) == [slow, fast, queued]
        walked = await walk(client, EXECUTIONS, {**by_duration, "order": "desc", "limit": 1})
        assert walked == [slow, fast, queued]
