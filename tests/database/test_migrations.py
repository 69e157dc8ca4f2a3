"""The migration runner: up, down, status, targets, re-runs, against a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from api.database import migrations
from api.database.migrations import MIGRATIONS_COLLECTION, MigrationError
from documents.artifacts import GRIDFS_COLLECTIONS
from migrations import m0001_initial as m0001
from tests.conftest import REAL_MONGODB

DOMAIN_COLLECTIONS = {spec.name for spec in m0001.COLLECTIONS}
VERSIONS = [m.version for m in migrations.discover()]
LATEST = VERSIONS[-1]
STEPS = {m.version: m for m in migrations.discover()}


@pytest.fixture
def fresh(mongo: AsyncMongoClient[Any], db_name: str) -> AsyncDatabase[Any]:
    """The test's database, not migrated (dropped afterwards by `mongo`)."""
    return mongo[db_name]


async def collection_names(db: AsyncDatabase[Any]) -> set[str]:
    return set(await db.list_collection_names())


async def schema(db: AsyncDatabase[Any]) -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Per collection: its options (validator) and its indexes, as the database reports them."""
    result: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    async for info in await db.list_collections():
        indexes = [dict(index) async for index in await db[info["name"]].list_indexes()]
        result[info["name"]] = (info.get("options", {}), indexes)
    return result


class TestDiscover:
    def test_finds_every_migration_in_order(self) -> None:
        known = migrations.discover()

        assert (known[0].version, known[0].name) == (1, "initial schema")
        assert (3, "resource versions") in [(m.version, m.name) for m in known]
        assert sorted(VERSIONS) == VERSIONS
        assert migrations.latest_version() == LATEST


class TestStatus:
    async def test_everything_pending_on_a_fresh_database(self, fresh: AsyncDatabase[Any]) -> None:
        states = await migrations.status(fresh)

        assert [(s.version, s.applied) for s in states] == [(v, False) for v in VERSIONS]
        assert states[0].name == "initial schema"
        assert await migrations.current_version(fresh) == 0

    async def test_applied_with_the_time_it_was_applied(self, fresh: AsyncDatabase[Any]) -> None:
        before = datetime.now(UTC) - timedelta(seconds=1)
        await migrations.up(fresh)

        for state in await migrations.status(fresh):
            assert state.applied
            assert state.applied_at is not None
            assert before <= state.applied_at <= datetime.now(UTC) + timedelta(seconds=1)
        assert await migrations.current_version(fresh) == LATEST


class TestUp:
    async def test_applies_every_pending_migration(self, fresh: AsyncDatabase[Any]) -> None:
        applied = await migrations.up(fresh)

        assert [m.version for m in applied] == VERSIONS
        assert await collection_names(fresh) >= DOMAIN_COLLECTIONS | {MIGRATIONS_COLLECTION}
        records = [doc async for doc in fresh[MIGRATIONS_COLLECTION].find().sort("_id", 1)]
        assert [doc["_id"] for doc in records] == VERSIONS
        assert records[0]["name"] == "initial schema"

    async def test_to_0_applies_nothing(self, fresh: AsyncDatabase[Any]) -> None:
        assert await migrations.up(fresh, target=0) == []

        assert await collection_names(fresh) == set()
        assert await migrations.current_version(fresh) == 0

    async def test_to_a_known_version_applies_up_to_it(self, fresh: AsyncDatabase[Any]) -> None:
        applied = await migrations.up(fresh, target=1)

        assert [m.version for m in applied] == [1]
        assert await migrations.current_version(fresh) == 1

    async def test_again_is_a_no_op(self, db: AsyncDatabase[Any]) -> None:
        before = await schema(db)
        record = await db[MIGRATIONS_COLLECTION].find_one({"_id": 1})

        assert await migrations.up(db) == []

        assert await schema(db) == before
        assert await db[MIGRATIONS_COLLECTION].find_one({"_id": 1}) == record

    @pytest.mark.parametrize("version", VERSIONS)
    async def test_each_forward_step_itself_is_safe_to_re_run(
        self, fresh: AsyncDatabase[Any], version: int
    ) -> None:
        await migrations.up(fresh, target=version)
        before = await schema(fresh)

        await STEPS[version].forward(fresh)

        assert await schema(fresh) == before

    @pytest.mark.parametrize("target", [LATEST + 1, -1])
    async def test_an_unknown_target_is_refused_before_anything_runs(
        self, fresh: AsyncDatabase[Any], target: int
    ) -> None:
        with pytest.raises(MigrationError, match=f"no migration has version {target}"):
            await migrations.up(fresh, target=target)

        assert await collection_names(fresh) == set()

    @pytest.mark.skipif(REAL_MONGODB, reason="the embedded engine has no collMod")
    async def test_an_existing_collection_with_another_validator_is_a_clear_failure(
        self, fresh: AsyncDatabase[Any]
    ) -> None:
        await fresh.create_collection("browser_configurations")

        with pytest.raises(MigrationError, match=r"0001 \(initial schema\) failed: .*collMod"):
            await migrations.up(fresh)

        assert await migrations.current_version(fresh) == 0

    @pytest.mark.real_mongodb
    async def test_an_existing_collection_gets_the_validator(
        self, fresh: AsyncDatabase[Any]
    ) -> None:
        await fresh.create_collection("browser_configurations")

        await migrations.up(fresh)

        [info] = [
            info
            async for info in await fresh.list_collections(
                filter={"name": "browser_configurations"}
            )
        ]
        assert info["options"]["validator"] == m0001.COLLECTIONS[0].validator


class TestDown:
    async def test_reverts_only_the_newest_by_default(self, db: AsyncDatabase[Any]) -> None:
        reverted = await migrations.down(db)

        assert [m.version for m in reverted] == [LATEST]
        assert await db[MIGRATIONS_COLLECTION].count_documents({}) == len(VERSIONS) - 1
        assert await migrations.current_version(db) == VERSIONS[-2]

    async def test_to_0_reverts_everything(self, db: AsyncDatabase[Any]) -> None:
        reverted = await migrations.down(db, target=0)

        assert [m.version for m in reverted] == VERSIONS[::-1]
        assert not await collection_names(db) & DOMAIN_COLLECTIONS
        assert not any(state.applied for state in await migrations.status(db))

    async def test_to_the_current_version_reverts_nothing(self, db: AsyncDatabase[Any]) -> None:
        before = await schema(db)

        assert await migrations.down(db, target=LATEST) == []

        assert await schema(db) == before

    async def test_on_a_fresh_database_reverts_nothing(self, fresh: AsyncDatabase[Any]) -> None:
        assert await migrations.down(fresh) == []
        assert await migrations.down(fresh, target=0) == []

    async def test_an_unknown_target_is_refused(self, db: AsyncDatabase[Any]) -> None:
        with pytest.raises(MigrationError, match=f"no migration has version {LATEST + 1}"):
            await migrations.down(db, target=LATEST + 1)

        assert await migrations.current_version(db) == LATEST
        assert await collection_names(db) >= DOMAIN_COLLECTIONS

    async def test_up_after_down_restores_the_same_schema(self, db: AsyncDatabase[Any]) -> None:
        before = await schema(db)

        await migrations.down(db, target=0)
        assert [m.version for m in await migrations.up(db)] == VERSIONS

        assert await schema(db) == before


class TestReset:
    async def test_drops_the_service_collections_and_migrates_again(
        self, db: AsyncDatabase[Any]
    ) -> None:
        before = await schema(db)
        await db["test_runs"].drop_index("environment_created")  # a schema that drifted
        await db["my_notes"].insert_one({"note": "kept"})
        for name in GRIDFS_COLLECTIONS:  # stored files go too
            await db[name].insert_one({"files_id": 1})

        result = await migrations.reset(db)

        assert result.dropped == migrations.service_collections()
        assert [m.version for m in result.applied] == VERSIONS
        after = await schema(db)
        assert after.pop("my_notes")[0] == {}
        assert after == before
        assert await db["my_notes"].count_documents({}) == 1

    def test_the_record_goes_first_and_every_migrated_collection_after(self) -> None:
        names = migrations.service_collections()

        assert names[0] == MIGRATIONS_COLLECTION
        assert set(names[1:]) >= DOMAIN_COLLECTIONS | {"idempotency_keys"}

    async def test_a_fresh_database_only_gets_migrated(self, fresh: AsyncDatabase[Any]) -> None:
        result = await migrations.reset(fresh)

        assert result.dropped == []
        assert await migrations.current_version(fresh) == LATEST

    async def test_a_database_migrated_by_newer_code_is_refused(
        self, db: AsyncDatabase[Any]
    ) -> None:
        await db[MIGRATIONS_COLLECTION].insert_one(
            {"_id": LATEST + 1, "name": "from the future", "applied_at": datetime.now(UTC)}
        )

        with pytest.raises(MigrationError, match=f"at migration {LATEST + 1}, newer than this"):
            await migrations.reset(db)

        assert await collection_names(db) >= DOMAIN_COLLECTIONS
