"""Migration 0002: the `idempotency_keys` collection, its validator and its TTL index."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import WriteError

from api.database import migrations
from documents.base import utcnow
from migrations import m0002_idempotency_keys as m0002

COLLECTION = "idempotency_keys"


async def indexes(db: AsyncDatabase[Any]) -> dict[str, dict[str, Any]]:
    return {index["name"]: dict(index) async for index in await db[COLLECTION].list_indexes()}


async def options(db: AsyncDatabase[Any]) -> dict[str, Any]:
    [info] = [info async for info in await db.list_collections(filter={"name": COLLECTION})]
    found: dict[str, Any] = info.get("options", {})
    return found


def record(**fields: Any) -> dict[str, Any]:
    now = utcnow()
    return {
        "_id": "a" * 64,
        "request_hash": "b" * 64,
        "method": "POST",
        "path": "/api/v1/tests",
        "state": "in_progress",
        "owner": "c0ffee",
        "locked_until": now,
        "response": None,
        "created_at": now,
        "expires_at": now + timedelta(hours=24),
        **fields,
    }


class TestForward:
    async def test_creates_the_collection_with_its_validator_and_ttl_index(
        self, db: AsyncDatabase[Any]
    ) -> None:
        assert (await options(db))["validator"] == m0002.COLLECTIONS[0].validator

        ttl = (await indexes(db))["ttl_expires_at"]

        assert dict(ttl["key"]) == {"expires_at": 1}
        assert ttl["expireAfterSeconds"] == 0

    async def test_the_validator_refuses_a_record_without_its_hash_or_with_a_bad_state(
        self, db: AsyncDatabase[Any]
    ) -> None:
        for invalid in (
            {k: v for k, v in record().items() if k != "request_hash"},
            record(state="bogus"),
            record(response={"status_code": 500, "headers": {}, "body": b""}),
        ):
            with pytest.raises(WriteError) as refused:
                await db[COLLECTION].insert_one(invalid)
            assert refused.value.code == 121

        await db[COLLECTION].insert_one(
            record(state="done", response={"status_code": 201, "headers": {}, "body": b"{}"})
        )
        assert await db[COLLECTION].count_documents({}) == 1

    async def test_is_safe_to_re_run(self, db: AsyncDatabase[Any]) -> None:
        before = (await options(db), await indexes(db))

        await m0002.forward(db)

        assert (await options(db), await indexes(db)) == before


class TestBackward:
    async def test_down_drops_only_the_idempotency_keys(self, db: AsyncDatabase[Any]) -> None:
        await migrations.down(db, target=2)  # the migrations after it, whatever they are
        others = set(await db.list_collection_names()) - {COLLECTION}

        reverted = await migrations.down(db, target=1)

        assert [m.version for m in reverted] == [2]
        assert set(await db.list_collection_names()) == others
        assert await migrations.current_version(db) == 1

    async def test_up_after_down_restores_the_collection(self, db: AsyncDatabase[Any]) -> None:
        await migrations.down(db, target=2)
        before = (await options(db), await indexes(db))
        await migrations.down(db, target=1)
        assert [m.version for m in await migrations.up(db, target=2)] == [2]

        assert (await options(db), await indexes(db)) == before
