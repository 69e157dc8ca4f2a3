"""The seeding API other code calls (`seed_database`), and what the seeded data is made of."""

from __future__ import annotations

import hashlib
import random
from typing import Any, get_args

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from documents.artifacts import Screenshot
from documents.executions import TestExecution, TestRun
from documents.test_defs import TestSuite
from migrations import m0007_artifacts as m0007
from scripts.seeding import SIZES, SeedError, SizeName, seed_database, seeders
from scripts.seeding.context import SeedContext, UniqueNames
from scripts.seeding.flows import AREAS, MAX_STEPS, MIN_STEPS, PARAMETERS, Area, flow

API = "/api/v1"
# Per collection, the list route that serves it.
ROUTES = {
    "browser_configurations": f"{API}/configurations/browsers",
    "test_environments": f"{API}/configurations/environments",
    "test_templates": f"{API}/templates",
    "test_cases": f"{API}/tests",
    "test_suites": f"{API}/suites",
    "test_runs": f"{API}/executions/runs",
    "test_executions": f"{API}/executions",
    "screenshots": f"{API}/artifacts/screenshots",
    "log_entries": f"{API}/artifacts/logs",
    "test_reports": f"{API}/artifacts/reports",
}
GRIDFS = {"screenshots.files", "screenshots.chunks"}
"""The bucket of the screenshots' bytes (small's reports are small enough to be inline)."""


class Recorder:
    """A `SeedProgress` that remembers what it was told."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.advanced: dict[str, int] = {}
        self._current = ""

    def start(self, collection: str, total: int) -> None:
        self.totals[collection] = total
        self.advanced[collection] = 0
        self._current = collection

    def advance(self, n: int) -> None:
        self.advanced[self._current] += n


class TestSeedDatabase:
    async def test_the_api_serves_every_seeded_document(
        self, db: AsyncDatabase[Any], client: httpx.AsyncClient
    ) -> None:
        progress = Recorder()

        summary = await seed_database(db, size="small", seed=3, progress=progress)

        assert summary.documents == progress.totals == progress.advanced
        assert (summary.size, summary.seed) == ("small", 3)
        assert set(summary.documents) == set(ROUTES) | GRIDFS
        for collection, route in ROUTES.items():
            response = await client.get(route, params={"limit": 200})
            assert response.status_code == 200, response.text
            assert response.json()["total"] == summary.documents[collection], collection
        largest = await db["test_suites"].find_one({"name": "Full regression"})
        assert largest is not None
        response = await client.get(f"{API}/suites/{largest['_id']}/tests", params={"limit": 1})
        assert response.json()["total"] == SIZES["small"].largest_suite

    async def test_the_api_serves_the_seeded_artifacts(
        self, db: AsyncDatabase[Any], client: httpx.AsyncClient
    ) -> None:
        await m0007.set_retention(db, 3650 * m0007.DAY_SECONDS)  # keeps the 2025 history's lines

        summary = await seed_database(db, size="small", seed=5)

        assert summary.documents["log_entries"] > 0
        shots = (await client.get(f"{API}/artifacts/screenshots", params={"limit": 200})).json()
        for shot in shots["items"][:5]:
            content = await client.get(f"{API}/artifacts/screenshots/{shot['id']}/content")
            assert content.status_code == 200
            assert content.headers["content-type"] == "image/png"
            assert hashlib.sha256(content.content).hexdigest() == shot["sha256"]
        deleted = await client.delete(f"{API}/artifacts/screenshots/{shots['items'][0]['id']}")
        assert deleted.status_code == 204  # the service's own rules hold on seeded files
        reports = (await client.get(f"{API}/artifacts/reports")).json()["items"]
        assert len(reports) == SIZES["small"].reported_runs
        content = await client.get(f"{API}/artifacts/reports/{reports[0]['id']}/content")
        assert content.json()["run"]["id"] == reports[0]["run_id"]
        logged = await db["log_entries"].find_one({})
        assert logged is not None
        page = await client.get(f"{API}/artifacts/logs", params={"run_id": str(logged["run_id"])})
        assert page.status_code == 200
        assert page.json()["total"] > 0

    async def test_the_same_seed_gives_the_same_artifacts(self) -> None:
        def planned(seed: int) -> list[dict[str, Any]]:
            context = SeedContext.create(size=SIZES["small"], seed=seed)
            for seeder in seeders():
                if seeder.document in (Screenshot,):
                    return [shot.model_dump() for shot in context.planned(Screenshot)]
                for document in seeder.build(context):
                    context.keep(document)
            raise AssertionError("no screenshot seeder")

        first = planned(11)
        assert first
        assert planned(11) == first
        assert planned(12) != first

    async def test_a_recount_of_every_seeded_run_changes_nothing(
        self, db: AsyncDatabase[Any], client: httpx.AsyncClient
    ) -> None:
        await seed_database(db, size="small", seed=5)
        runs = (await client.get(f"{API}/executions/runs", params={"limit": 200})).json()

        assert len(runs["items"]) == SIZES["small"].runs
        for run in runs["items"]:
            response = await client.post(f"{API}/executions/runs/{run['id']}/recount")
            assert response.status_code == 200, response.text
            recounted = response.json()
            assert recounted["counters"] == run["counters"], run["name"]
            assert recounted["status"] == run["status"] in {"passed", "failed"}
            assert recounted["finished_at"] == run["finished_at"]
        execution = await db["test_executions"].find_one({})
        assert execution is not None
        history = await client.get(f"{API}/tests/{execution['test_case_id']}/history")
        assert history.json()["total"] >= 1

    async def test_an_unknown_size_writes_nothing(self, db: AsyncDatabase[Any]) -> None:
        with pytest.raises(SeedError, match="unknown size 'huge': choose one of small, medium"):
            await seed_database(db, size="huge")

        assert await db["browser_configurations"].count_documents({}) == 0


class TestSizes:
    def test_the_cli_offers_exactly_the_sizes(self) -> None:
        assert list(get_args(SizeName)) == list(SIZES)

    def test_medium_has_a_suite_of_200_cases_and_none_larger(self) -> None:
        # Built without a database: only what the seeders make of a size.
        context = SeedContext.create(size=SIZES["medium"], seed=0)
        for seeder in seeders():
            for document in seeder.build(context):
                context.keep(document)

        suites = context.seeded(TestSuite)
        sizes = [len(suite.test_case_ids) for suite in suites]
        assert len(suites) == SIZES["medium"].suites
        assert max(sizes) == 200
        assert sizes.count(200) >= 1
        assert min(sizes) < 50  # and small ones too
        # A couple of thousand executions: the embedded engine's inserts of executions slow
        # down with each one there (a scan per unique index check), so medium stays there.
        assert len(context.seeded(TestRun)) == SIZES["medium"].runs
        assert 1_000 <= len(context.seeded(TestExecution)) <= 3_000

    def test_the_same_seed_plans_the_same_runs(self) -> None:
        def planned(seed: int) -> list[dict[str, Any]]:
            context = SeedContext.create(size=SIZES["small"], seed=seed)
            for seeder in seeders():
                for document in seeder.build(context):
                    context.keep(document)
            documents = [*context.seeded(TestRun), *context.seeded(TestExecution)]
            return [document.model_dump() for document in documents]

        assert planned(4) == planned(4)
        assert planned(4) != planned(5)


class TestFlows:
    @pytest.mark.parametrize("area", AREAS, ids=[area.slug for area in AREAS])
    def test_every_area_makes_tests_of_every_length(self, area: Area) -> None:
        rng = random.Random(0)  # noqa: S311 - fake data, not secrets
        for steps in range(MIN_STEPS, MAX_STEPS + 1):
            taken = flow(area, rng, steps - 1)  # after the navigation

            assert len(taken) == steps - 1
            assert taken[-1] in area.checks
            interactions = [spec for spec in taken if spec in area.steps]
            assert interactions == sorted(interactions, key=area.steps.index)

    def test_every_parameter_a_step_uses_is_known(self) -> None:
        used = {spec.parameter for area in AREAS for spec in area.steps if spec.parameter}

        assert used <= set(PARAMETERS)


class TestUniqueNames:
    def test_a_repeated_name_gets_the_next_free_number(self) -> None:
        names = UniqueNames()

        taken = [names.take(name) for name in ["Smoke", "Smoke", "Smoke 2", "Smoke", "Nightly"]]

        assert taken == ["Smoke", "Smoke 2", "Smoke 2 2", "Smoke 3", "Nightly"]
