"""The capability probe: what the deployment supports, found by trying it."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from api.database.capabilities import PROBE_COLLECTION, Capabilities, probe
from api.database.connection import open_client
from tests.conftest import REAL_MONGODB


def unique_key(uri: str) -> str:
    """A cache key no other test uses, so the probe really runs."""
    return f"{uri}#probe-{uuid.uuid4().hex}"


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class TestProbe:
    async def test_answers_with_booleans(
        self, mongo: AsyncMongoClient[Any], db_name: str, mongodb_uri: str
    ) -> None:
        capabilities = await probe(mongo, mongo[db_name], key=unique_key(mongodb_uri))

        assert isinstance(capabilities, Capabilities)
        assert all(isinstance(flag, bool) for flag in capabilities.model_dump().values())
        assert set(capabilities.model_dump()) == {
            "transactions",
            "change_streams",
            "full_text_search",
        }

    @pytest.mark.skipif(REAL_MONGODB, reason="describes the embedded engine")
    async def test_the_embedded_engine_lacks_change_streams_and_full_text(
        self, mongo: AsyncMongoClient[Any], db_name: str, mongodb_uri: str
    ) -> None:
        capabilities = await probe(mongo, mongo[db_name], key=unique_key(mongodb_uri))

        assert capabilities.change_streams is False
        assert capabilities.full_text_search is False

    async def test_leaves_no_probe_collection_behind(
        self, mongo: AsyncMongoClient[Any], db_name: str, mongodb_uri: str
    ) -> None:
        db = mongo[db_name]
        await db["kept"].insert_one({"_id": 1})

        await probe(mongo, db, key=unique_key(mongodb_uri))

        assert await db.list_collection_names() == ["kept"]
        assert PROBE_COLLECTION not in await db.list_collection_names()

    async def test_is_asked_once_per_key(
        self, mongo: AsyncMongoClient[Any], db_name: str, mongodb_uri: str
    ) -> None:
        key = unique_key(mongodb_uri)

        first = await probe(mongo, mongo[db_name], key=key)
        second = await probe(mongo, mongo[db_name], key=key)

        assert second is first

    async def test_an_unreachable_server_is_an_error_not_a_limited_server(
        self, mongo: AsyncMongoClient[Any], db_name: str, mongodb_uri: str
    ) -> None:
        unreachable = open_client(f"mongodb://127.0.0.1:{closed_port()}", timeout_ms=200)
        key = unique_key(mongodb_uri)
        try:
            with pytest.raises(PyMongoError):
                await probe(unreachable, unreachable["jbts"], key=key)
        finally:
            await unreachable.close()

        # Nothing was cached under the key: probing the real server answers normally.
        capabilities = await probe(mongo, mongo[db_name], key=key)
        assert isinstance(capabilities, Capabilities)
