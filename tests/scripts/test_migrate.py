"""`jbts migrate up|down|status`, as an operator runs them, checked against the database."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import WriteError
from typer.testing import CliRunner, Result

from api.database import migrations
from api.database.embedded import SQLITE_FILENAME
from documents import ALL_DOCUMENTS
from migrations import m0001_initial as m0001
from scripts.cli import app
from tests.scripts.conftest import ALL_COLLECTIONS, DOMAIN_COLLECTIONS

SyncClient = MongoClient[dict[str, Any]]

APPLIED_ROW = re.compile(r"0001\s*│\s*initial schema\s*│\s*\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
PENDING_ROW = re.compile(r"0001\s*│\s*initial schema\s*│\s*pending")
KNOWN = migrations.discover()
APPLIED_ALL = [f"Applied {m.version:04d} {m.name}" for m in KNOWN]
REVERTED_ALL = [f"Reverted {m.version:04d} {m.name}" for m in reversed(KNOWN)]
NAME_UNIQUE = ("browser_configurations", "test_environments", "test_suites", "test_templates")


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args))


def assert_one_error_line(result: Result, message: str) -> None:
    """Exit code 1, exactly one `Error: ...` line on stderr, nothing on stdout, no traceback."""
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a clean exit, not a crash
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ")
    assert message in lines[0]
    assert "Traceback" not in result.output


def indexes(client: SyncClient, db_name: str, collection: str) -> dict[str, dict[str, Any]]:
    return {info["name"]: dict(info) for info in client[db_name][collection].list_indexes()}


def collection_options(client: SyncClient, db_name: str) -> dict[str, dict[str, Any]]:
    return {info["name"]: info.get("options", {}) for info in client[db_name].list_collections()}


class TestStatus:
    def test_fresh_database_shows_0001_pending(self, runner: CliRunner, cli_db: str) -> None:
        result = invoke(runner, "migrate", "status")

        assert result.exit_code == 0, result.output
        assert PENDING_ROW.search(result.stdout)
        assert f"database {cli_db}" in result.stdout

    def test_after_up_shows_when_0001_was_applied(self, runner: CliRunner, cli_db: str) -> None:
        assert invoke(runner, "migrate", "up").exit_code == 0

        result = invoke(runner, "migrate", "status")

        assert result.exit_code == 0, result.output
        assert APPLIED_ROW.search(result.stdout)
        assert "pending" not in result.stdout


class TestUp:
    def test_prints_what_it_applied(self, runner: CliRunner, cli_db: str) -> None:
        result = invoke(runner, "migrate", "up")

        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == APPLIED_ALL

    def test_creates_every_collection_with_its_validator(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        assert invoke(runner, "migrate", "up").exit_code == 0

        options = collection_options(sync_mongo, cli_db)
        assert set(options) == ALL_COLLECTIONS
        for spec in m0001.COLLECTIONS:
            assert "$jsonSchema" in options[spec.name]["validator"], spec.name
            assert options[spec.name]["validator"] == spec.validator, spec.name
            assert options[spec.name]["validationLevel"] == "strict"
            assert options[spec.name]["validationAction"] == "error"
        assert {spec.name for spec in m0001.COLLECTIONS} == DOMAIN_COLLECTIONS

    def test_creates_every_index(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        assert invoke(runner, "migrate", "up").exit_code == 0

        # What the documents declare (tests/test_schema_drift.py: what the migrations build).
        for document in ALL_DOCUMENTS:
            name = document.Settings.name
            expected = {"_id_"} | {index.document["name"] for index in document.Settings.indexes}
            assert set(indexes(sync_mongo, cli_db, name)) == expected, name

    def test_text_ttl_and_unique_indexes_have_their_options(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        assert invoke(runner, "migrate", "up").exit_code == 0

        text = indexes(sync_mongo, cli_db, "test_cases")["text_search"]
        assert dict(text["weights"]) == {"name": 10, "tags": 5, "description": 1}
        ttl = indexes(sync_mongo, cli_db, "log_entries")["ttl_timestamp"]
        assert ttl["expireAfterSeconds"] == 30 * 24 * 60 * 60
        for collection in NAME_UNIQUE:
            name_unique = indexes(sync_mongo, cli_db, collection)["name_unique"]
            assert name_unique.get("unique") is True, collection
            assert dict(name_unique["key"]) == {"name": 1}, collection
        automation_key = indexes(sync_mongo, cli_db, "test_cases")["automation_key_unique"]
        assert automation_key.get("unique") is True
        assert dict(automation_key["partialFilterExpression"]) == {
            "automation_key": {"$type": "string"}
        }

    def test_records_version_1(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        assert invoke(runner, "migrate", "up").exit_code == 0

        records = list(sync_mongo[cli_db]["schema_migrations"].find().sort("_id", 1))
        assert [(record["_id"], record["name"]) for record in records] == [
            (m.version, m.name) for m in KNOWN
        ]
        assert "applied_at" in records[0]

    def test_the_database_itself_refuses_an_invalid_document(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        assert invoke(runner, "migrate", "up").exit_code == 0

        with pytest.raises(WriteError) as refused:
            sync_mongo[cli_db]["browser_configurations"].insert_one({"name": 1})

        assert refused.value.code == 121
        assert sync_mongo[cli_db]["browser_configurations"].count_documents({}) == 0

    def test_again_has_nothing_to_apply_and_changes_nothing(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        assert invoke(runner, "migrate", "up").exit_code == 0
        record = sync_mongo[cli_db]["schema_migrations"].find_one({"_id": 1})
        options = collection_options(sync_mongo, cli_db)
        before = {name: indexes(sync_mongo, cli_db, name) for name in options}

        result = invoke(runner, "migrate", "up")

        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == ["Nothing to apply: the database is up to date."]
        assert sync_mongo[cli_db]["schema_migrations"].find_one({"_id": 1}) == record
        assert collection_options(sync_mongo, cli_db) == options
        assert {name: indexes(sync_mongo, cli_db, name) for name in options} == before

    def test_to_0_applies_nothing(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        result = invoke(runner, "migrate", "up", "--to", "0")

        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == ["Nothing to apply: the database is up to date."]
        assert sync_mongo[cli_db].list_collection_names() == []

    def test_to_an_unknown_version_is_one_error_line(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        result = invoke(runner, "migrate", "up", "--to", "99")

        assert_one_error_line(result, "no migration has version 99")
        assert sync_mongo[cli_db].list_collection_names() == []


class TestDown:
    def test_reverts_the_collections_and_the_record(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        assert invoke(runner, "migrate", "up").exit_code == 0

        result = invoke(runner, "migrate", "down", "--to", "0")

        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == REVERTED_ALL
        remaining = set(sync_mongo[cli_db].list_collection_names())
        assert not remaining & DOMAIN_COLLECTIONS
        assert sync_mongo[cli_db]["schema_migrations"].count_documents({}) == 0
        assert PENDING_ROW.search(invoke(runner, "migrate", "status").stdout)

    def test_again_has_nothing_to_revert(self, runner: CliRunner, cli_db: str) -> None:
        assert invoke(runner, "migrate", "up").exit_code == 0
        assert invoke(runner, "migrate", "down", "--to", "0").exit_code == 0

        result = invoke(runner, "migrate", "down")

        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == ["Nothing to revert."]

    def test_to_0_reverts_everything(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        assert invoke(runner, "migrate", "up").exit_code == 0

        result = invoke(runner, "migrate", "down", "--to", "0")

        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == REVERTED_ALL
        assert not set(sync_mongo[cli_db].list_collection_names()) & DOMAIN_COLLECTIONS

    def test_to_an_unknown_version_is_one_error_line_and_reverts_nothing(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        assert invoke(runner, "migrate", "up").exit_code == 0

        result = invoke(runner, "migrate", "down", "--to", "99")

        assert_one_error_line(result, "no migration has version 99")
        assert set(sync_mongo[cli_db].list_collection_names()) == ALL_COLLECTIONS


class TestNoDatabase:
    @pytest.mark.parametrize("command", ["up", "down", "status"])
    def test_without_uri_or_data_dir_is_one_error_line(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, command: str
    ) -> None:
        result = invoke(runner, "migrate", command)

        assert_one_error_line(result, "MONGODB_URI is not set")
        assert "--data-dir" in result.stderr

    def test_an_invalid_database_name_is_one_error_line(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        clean_env.setenv("MONGODB_DB", "bad name!")

        result = invoke(runner, "migrate", "status", "--data-dir", str(tmp_path))

        assert_one_error_line(result, "invalid MONGODB_DB")

    def test_a_data_dir_that_cannot_be_created_is_one_error_line(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        regular_file = tmp_path / "file"
        regular_file.write_text("not a directory")

        result = invoke(runner, "migrate", "up", "--data-dir", str(regular_file / "data"))

        assert_one_error_line(result, f"cannot use data directory {regular_file / 'data'}")

    def test_an_unreachable_server_is_one_error_line(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch
    ) -> None:
        # Port 9 (discard) has no MongoDB; the short server selection timeout keeps the test quick.
        clean_env.setenv("MONGODB_URI", "mongodb://127.0.0.1:9/?directConnection=true")
        clean_env.setenv("JBTS_SERVER_SELECTION_TIMEOUT_MS", "200")

        result = invoke(runner, "migrate", "status")

        assert_one_error_line(result, "127.0.0.1:9")


class TestEmbeddedDataDir:
    def test_up_persists_for_the_next_invocation(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        up = invoke(runner, "migrate", "up", "--data-dir", str(tmp_path))
        assert up.exit_code == 0, up.output
        assert up.stdout.splitlines() == APPLIED_ALL
        assert (tmp_path / SQLITE_FILENAME).is_file()

        status = invoke(runner, "migrate", "status", "--data-dir", str(tmp_path))

        assert status.exit_code == 0, status.output
        assert APPLIED_ROW.search(status.stdout)
        assert "embedded engine (mongoeco)" in status.stdout

    def test_jbts_data_dir_variable_works_like_the_option(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        clean_env.setenv("JBTS_DATA_DIR", str(tmp_path))

        up = invoke(runner, "migrate", "up")

        assert up.exit_code == 0, up.output
        assert (tmp_path / SQLITE_FILENAME).is_file()
        status = invoke(runner, "migrate", "status", "--data-dir", str(tmp_path))
        assert APPLIED_ROW.search(status.stdout)
