"""The embedded engine: started and stopped for real, in memory and on disk."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import ServerSelectionTimeoutError

from api.database.embedded import SQLITE_FILENAME, EmbeddedEngine, EmbeddedEngineError


def client(uri: str, timeout_ms: int = 5000) -> MongoClient[dict[str, Any]]:
    return MongoClient(uri, serverSelectionTimeoutMS=timeout_ms)


class TestInMemory:
    def test_serves_the_wire_protocol_until_stopped(self) -> None:
        engine = EmbeddedEngine()
        info = engine.start()
        try:
            assert info.storage == "memory"
            assert info.uri.startswith("mongodb://127.0.0.1:")
            assert info.describe() == f"embedded engine (mongoeco) at {info.uri}, data in memory"
            with client(info.uri) as mongo:
                assert mongo.admin.command("ping")["ok"] == 1
                mongo["t"]["c"].insert_one({"_id": 1})
                assert mongo["t"]["c"].find_one({"_id": 1}) == {"_id": 1}
        finally:
            engine.stop()

        with pytest.raises(EmbeddedEngineError, match="not running"):
            _ = engine.info
        with client(info.uri, timeout_ms=300) as mongo, pytest.raises(ServerSelectionTimeoutError):
            mongo.admin.command("ping")

    def test_start_twice_is_the_same_engine(self) -> None:
        with EmbeddedEngine() as engine:
            assert engine.start() == engine.info

    def test_stop_twice_is_harmless(self) -> None:
        engine = EmbeddedEngine()
        engine.start()

        engine.stop()
        engine.stop()

        with pytest.raises(EmbeddedEngineError):
            _ = engine.info

    def test_stopped_inside_its_with_block(self) -> None:
        with EmbeddedEngine() as engine:
            engine.stop()

    def test_data_in_memory_is_gone_after_a_restart(self) -> None:
        engine = EmbeddedEngine()
        with engine, client(engine.info.uri) as mongo:
            mongo["t"]["c"].insert_one({"_id": 1})

        with engine, client(engine.info.uri) as mongo:
            assert mongo["t"]["c"].find_one({"_id": 1}) is None

    def test_info_before_start_is_an_error(self) -> None:
        with pytest.raises(EmbeddedEngineError, match="the embedded engine is not running"):
            _ = EmbeddedEngine().info


class TestDataDir:
    def test_data_survives_a_restart(self, tmp_path: Path) -> None:
        with EmbeddedEngine(data_dir=tmp_path) as engine:
            assert engine.info.storage == str((tmp_path / SQLITE_FILENAME).resolve())
            assert engine.info.describe().endswith(f"data in {engine.info.storage}")
            with client(engine.info.uri) as mongo:
                mongo["jbts"]["runs"].insert_one({"_id": "nightly", "passed": 3})

        assert (tmp_path / SQLITE_FILENAME).is_file()
        with EmbeddedEngine(data_dir=tmp_path) as engine, client(engine.info.uri) as mongo:
            assert mongo["jbts"]["runs"].find_one({"_id": "nightly"}) == {
                "_id": "nightly",
                "passed": 3,
            }

    def test_after_a_stop_the_sqlite_file_alone_holds_the_data(self, tmp_path: Path) -> None:
        data_dir, copy_dir = tmp_path / "data", tmp_path / "copy"
        with EmbeddedEngine(data_dir=data_dir) as engine, client(engine.info.uri) as mongo:
            mongo["jbts"]["runs"].insert_many([{"_id": n} for n in range(20)])

        assert sorted(path.name for path in data_dir.iterdir()) == [SQLITE_FILENAME]
        copy_dir.mkdir()
        shutil.copyfile(data_dir / SQLITE_FILENAME, copy_dir / SQLITE_FILENAME)
        with EmbeddedEngine(data_dir=copy_dir) as engine, client(engine.info.uri) as mongo:
            assert mongo["jbts"]["runs"].count_documents({}) == 20

    def test_without_create_a_directory_without_a_database_is_refused(self, tmp_path: Path) -> None:
        missing = tmp_path / "missing"

        with pytest.raises(EmbeddedEngineError) as refused:
            EmbeddedEngine(data_dir=missing, create=False).start()

        assert str(refused.value).startswith(f"no database ({SQLITE_FILENAME}) in {missing}: ")
        assert not missing.exists()

    def test_without_create_an_existing_database_is_opened(self, tmp_path: Path) -> None:
        with EmbeddedEngine(data_dir=tmp_path) as engine, client(engine.info.uri) as mongo:
            mongo["jbts"]["runs"].insert_one({"_id": "kept"})

        with (
            EmbeddedEngine(data_dir=tmp_path, create=False) as engine,
            client(engine.info.uri) as mongo,
        ):
            assert mongo["jbts"]["runs"].find_one({"_id": "kept"}) == {"_id": "kept"}

    def test_missing_directories_are_created(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "a" / "b"

        with EmbeddedEngine(data_dir=data_dir):
            assert data_dir.is_dir()

    def test_a_directory_that_cannot_be_created_is_a_clear_error(self, tmp_path: Path) -> None:
        regular_file = tmp_path / "file"
        regular_file.write_text("not a directory")
        data_dir = regular_file / "data"

        with pytest.raises(EmbeddedEngineError) as refused:
            EmbeddedEngine(data_dir=data_dir).start()

        assert str(refused.value) == f"cannot use data directory {data_dir}: Not a directory"

    def test_a_database_file_that_cannot_be_opened_is_a_clear_error(self, tmp_path: Path) -> None:
        (tmp_path / SQLITE_FILENAME).mkdir()
        engine = EmbeddedEngine(data_dir=tmp_path)

        with pytest.raises(EmbeddedEngineError, match="embedded engine failed to start: "):
            engine.start()

        engine.stop()  # cleaning up after a failed start is harmless
