"""`jbts stats`: every collection with its documents and indexes, the GridFS buckets, migrations
and capabilities."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from typer.testing import CliRunner

from api.database import migrations
from documents import ALL_DOCUMENTS
from scripts.cli import app
from tests.scripts.conftest import ALL_COLLECTIONS, GRIDFS_COLLECTIONS
from tests.scripts.test_prune import add_orphan

LATEST = migrations.latest_version()
COUNT = len(migrations.discover())

SyncClient = MongoClient[dict[str, Any]]

CAPABILITIES_LINE = re.compile(
    r"^Capabilities: transactions (yes|no), change_streams (yes|no), full_text_search (yes|no), "
    r"ascii_word_boundaries (yes|no)$"
)


GRIDFS_INDEXES = {
    "screenshots.files": ["_id_", "filename_1_uploadDate_1", "metadata_sha256"],
    "reports.files": ["_id_", "filename_1_uploadDate_1"],
    "screenshots.chunks": ["_id_", "files_id_1_n_1"],
    "reports.chunks": ["_id_", "files_id_1_n_1"],
}


def table_rows(output: str) -> dict[str, tuple[int, list[str]]]:
    """Per collection row of the first table: (documents, index names); wrapped cells are
    rejoined."""
    cells: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        if line.startswith("└"):
            break
        if not line.startswith("│"):
            continue
        row = [cell.strip() for cell in line.strip("│").split("│")]
        if row[0]:
            current = cells.setdefault(row[0], row)
        elif current is not None:
            current[3] = f"{current[3]} {row[3]}".strip()
    return {
        name: (int(row[1]), [index.strip() for index in row[3].split(",") if index.strip()])
        for name, row in cells.items()
    }


def gridfs_rows(output: str) -> dict[str, tuple[int, int, int]]:
    """Per bucket row of the GridFS table: (files, bytes, orphan files)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("GridFS"))
    rows: dict[str, tuple[int, int, int]] = {}
    for line in lines[start:]:
        if line.startswith("└"):
            break
        if line.startswith("│"):
            bucket, files, size, orphans = (cell.strip() for cell in line.strip("│").split("│"))
            rows[bucket] = (int(files), int(size), int(orphans))
    return rows


def browser_configuration(name: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "name": name,
        "browser": "chrome",
        "headless": True,
        "viewport": {"width": 1280, "height": 720},
        "is_default": False,
        "created_at": now,
        "updated_at": now,
    }


class TestStats:
    def test_lists_every_collection_with_counts_and_indexes(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        assert runner.invoke(app, ["migrate", "up"]).exit_code == 0
        sync_mongo[cli_db]["browser_configurations"].insert_many(
            [browser_configuration("chrome"), browser_configuration("chrome headless")]
        )

        result = runner.invoke(app, ["stats"])

        assert result.exit_code == 0, result.output
        rows = table_rows(result.stdout)
        assert set(rows) == ALL_COLLECTIONS
        assert rows["browser_configurations"][0] == 2
        assert rows["schema_migrations"] == (COUNT, ["_id_"])
        assert set(GRIDFS_INDEXES) == GRIDFS_COLLECTIONS
        for name, indexes in GRIDFS_INDEXES.items():
            assert rows[name] == (0, indexes), name
        for document in ALL_DOCUMENTS:
            name = document.Settings.name
            expected = ["_id_", *(index.document["name"] for index in document.Settings.indexes)]
            count, index_names = rows[name]
            assert sorted(index_names) == sorted(expected), name
            if name != "browser_configurations":
                assert count == 0, name

    def test_says_which_database_how_far_migrated_and_what_it_supports(
        self, runner: CliRunner, cli_db: str
    ) -> None:
        assert runner.invoke(app, ["migrate", "up"]).exit_code == 0

        result = runner.invoke(app, ["stats"])

        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert f"database {cli_db}" in result.stdout
        assert f"Migrations: {LATEST} applied, latest {LATEST}" in lines
        assert any(CAPABILITIES_LINE.match(line) for line in lines), lines[-1]

    def test_gridfs_buckets_with_files_bytes_and_orphans(
        self, runner: CliRunner, cli_db: str, sync_mongo: SyncClient
    ) -> None:
        assert runner.invoke(app, ["migrate", "up"]).exit_code == 0
        db = sync_mongo[cli_db]
        empty = runner.invoke(app, ["stats"])
        long_ago = datetime.now(UTC) - timedelta(days=2)
        add_orphan(db, "screenshots", uploaded=long_ago, data=b"12345")
        add_orphan(db, "screenshots", uploaded=datetime.now(UTC), data=b"123")  # uploading
        add_orphan(db, "reports", uploaded=long_ago, data=b"1234567")

        result = runner.invoke(app, ["stats"])

        assert empty.exit_code == 0, empty.output
        assert gridfs_rows(empty.stdout) == {"screenshots": (0, 0, 0), "reports": (0, 0, 0)}
        assert result.exit_code == 0, result.output
        assert gridfs_rows(result.stdout) == {"screenshots": (2, 8, 1), "reports": (1, 7, 1)}
        assert table_rows(result.stdout)["screenshots.files"][0] == 2

    def test_an_unmigrated_database_says_0_applied(self, runner: CliRunner, cli_db: str) -> None:
        result = runner.invoke(app, ["stats"])

        assert result.exit_code == 0, result.output
        assert f"Migrations: 0 applied, latest {LATEST}" in result.stdout.splitlines()

    def test_on_the_embedded_engine_with_a_data_dir(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        assert runner.invoke(app, ["migrate", "up", "--data-dir", str(tmp_path)]).exit_code == 0

        result = runner.invoke(app, ["stats", "--data-dir", str(tmp_path)])

        assert result.exit_code == 0, result.output
        assert "embedded engine (mongoeco)" in result.stdout
        assert table_rows(result.stdout)["schema_migrations"][0] == COUNT
        assert f"Migrations: {LATEST} applied, latest {LATEST}" in result.stdout.splitlines()
        assert "change_streams no" in result.stdout

    def test_without_a_database_is_one_error_line(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch
    ) -> None:
        result = runner.invoke(app, ["stats"])

        assert result.exit_code == 1
        assert result.stderr.splitlines() == [
            "Error: MONGODB_URI is not set: set it, or pass --data-dir to work on the embedded "
            "engine's data in that directory"
        ]
