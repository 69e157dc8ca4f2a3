"""`jbts keys create|list|revoke`: a key's secret is printed once and never stored."""

from __future__ import annotations

import asyncio
import getpass
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from bson import json_util
from pymongo import MongoClient
from typer.testing import CliRunner, Result

from api.auth.keys import KEY_PREFIX, SHOWN_PREFIX
from api.database.connection import open_client
from documents.base import utcnow
from documents.keys import Scope
from scripts.cli import app
from scripts.keys import (
    SCOPE_NAMES,
    first_admin_key,
    keys_ready,
    parse_duration,
    parse_scopes,
)
from tests.scripts.test_cli import one_error_line

type SyncClient = MongoClient[dict[str, Any]]


@pytest.fixture
def migrated(runner: CliRunner, cli_db: str) -> str:
    """A fresh, migrated database on MONGODB_URI (the embedded engine unless one is set)."""
    result = runner.invoke(app, ["migrate", "up"])
    assert result.exit_code == 0, result.output
    return cli_db


def create(runner: CliRunner, *args: str) -> tuple[Result, str]:
    """`jbts keys create ...`, and the secret it printed."""
    result = runner.invoke(app, ["keys", "create", *args])
    assert result.exit_code == 0, result.output
    [secret] = [line for line in result.stdout.splitlines() if line.startswith(KEY_PREFIX)]
    return result, secret


def everything_stored(mongo: SyncClient, db_name: str) -> str:
    """Every document of every collection, as Extended JSON text."""
    db = mongo[db_name]
    return "\n".join(
        json_util.dumps(document)
        for name in db.list_collection_names()
        for document in db[name].find()
    )


def table_row(output: str, name: str) -> list[str]:
    """The cells of the `keys list` row of the key named `name`."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) == 8 and cells[1] == name:
            return cells
    raise AssertionError(f"no row for {name!r} in:\n{output}")


class TestCreate:
    def test_prints_the_key_once_and_stores_only_its_hash(
        self, runner: CliRunner, migrated: str, sync_mongo: SyncClient
    ) -> None:
        result, secret = create(
            runner, "--name", "ci-runner", "--scopes", "results:write,definitions:read"
        )

        assert len(secret) >= len(KEY_PREFIX) + 43  # 32 random bytes, URL-safe base64
        assert result.stdout.count(secret) == 1
        assert "Store it now: it cannot be shown again" in result.stdout
        assert "Created API key 'ci-runner'" in result.stdout
        assert "expires never" in result.stdout
        stored = sync_mongo[migrated]["api_keys"].find_one({"name": "ci-runner"})
        assert stored is not None
        assert stored["hash"] == hashlib.sha256(secret.encode()).hexdigest()
        assert stored["prefix"] == secret[:SHOWN_PREFIX]
        assert stored["scopes"] == ["definitions:read", "results:write"]
        assert stored["created_by"] == f"cli:{getpass.getuser()}"
        assert stored["expires_at"] is None
        assert secret not in everything_stored(sync_mongo, migrated)
        assert secret[SHOWN_PREFIX:] not in everything_stored(sync_mongo, migrated)

    def test_expires_after_the_given_lifetime(
        self, runner: CliRunner, migrated: str, sync_mongo: SyncClient
    ) -> None:
        create(runner, "--name", "quarterly", "--scopes", "admin", "--expires", "90d")

        stored = sync_mongo[migrated]["api_keys"].find_one({"name": "quarterly"})
        assert stored is not None
        lifetime = stored["expires_at"] - stored["created_at"]
        # Both stamped by the same command, a moment apart: the lifetime is 90 days, give or
        # take that moment (a bound on correctness, not on speed).
        assert timedelta(days=90) - timedelta(minutes=5) < lifetime <= timedelta(days=90)

    def test_a_taken_name_is_one_error_line(
        self, runner: CliRunner, migrated: str, sync_mongo: SyncClient
    ) -> None:
        create(runner, "--name", "ci-runner", "--scopes", "admin")

        result = runner.invoke(
            app, ["keys", "create", "--name", "ci-runner", "--scopes", "results:read"]
        )

        assert "'ci-runner' exists" in one_error_line(result)
        assert sync_mongo[migrated]["api_keys"].count_documents({}) == 1

    @pytest.mark.parametrize(
        ("args", "says"),
        [
            (["--scopes", "results:write,results:delete"], "unknown scope 'results:delete'"),
            (["--scopes", " , "], "--scopes is empty"),
            (["--scopes", "admin", "--expires", "90"], "invalid --expires '90'"),
            (["--scopes", "admin", "--expires", "0d"], "from 1h to 10y"),
            (["--scopes", "admin", "--expires", "11y"], "from 1h to 10y"),
            (["--scopes", "admin", "--name", "   "], "invalid --name"),
        ],
    )
    def test_bad_input_is_one_error_line_and_stores_nothing(
        self,
        runner: CliRunner,
        cli_db: str,
        sync_mongo: SyncClient,
        args: list[str],
        says: str,
    ) -> None:
        name = [] if "--name" in args else ["--name", "k"]

        result = runner.invoke(app, ["keys", "create", *name, *args])

        assert says in one_error_line(result)
        assert "api_keys" not in sync_mongo[cli_db].list_collection_names()

    def test_refuses_the_in_memory_engine_where_the_key_would_vanish(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch
    ) -> None:
        result = runner.invoke(app, ["keys", "create", "--name", "k", "--scopes", "admin"])

        line = one_error_line(result)
        assert "vanish" in line
        assert "--data-dir" in line
        assert "MONGODB_URI" in line

    def test_an_unmigrated_mongodb_is_one_error_line(self, runner: CliRunner, cli_db: str) -> None:
        result = runner.invoke(app, ["keys", "create", "--name", "k", "--scopes", "admin"])

        assert "run `jbts migrate up` first" in one_error_line(result)

    def test_on_the_embedded_engine_with_a_data_dir_the_key_stays(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        _, secret = create(
            runner, "--name", "local", "--scopes", "config:read", "--data-dir", str(tmp_path)
        )

        listed = runner.invoke(app, ["keys", "list", "--data-dir", str(tmp_path)])

        assert listed.exit_code == 0, listed.output
        row = table_row(listed.stdout, "local")
        assert row[2] == f"{secret[:SHOWN_PREFIX]}…"
        assert row[3] == "config:read"
        assert row[7] == "active"


class TestList:
    def test_shows_prefix_scopes_and_status_never_a_secret_or_hash(
        self, runner: CliRunner, migrated: str, sync_mongo: SyncClient
    ) -> None:
        _, active = create(runner, "--name", "runner", "--scopes", "results:write")
        _, expired = create(runner, "--name", "old", "--scopes", "admin", "--expires", "1h")
        _, revoked = create(runner, "--name", "gone", "--scopes", "config:write")
        keys = sync_mongo[migrated]["api_keys"]
        keys.update_one({"name": "old"}, {"$set": {"expires_at": utcnow() - timedelta(hours=1)}})
        assert runner.invoke(app, ["keys", "revoke", "gone"]).exit_code == 0

        result = runner.invoke(app, ["keys", "list"])

        assert result.exit_code == 0, result.output
        statuses = {name: table_row(result.stdout, name)[7] for name in ("runner", "old", "gone")}
        assert statuses == {"runner": "active", "old": "expired", "gone": "revoked"}
        runner_row = table_row(result.stdout, "runner")
        stored = keys.find_one({"name": "runner"})
        assert stored is not None
        assert runner_row[0] == str(stored["_id"])
        assert runner_row[2] == f"{active[:SHOWN_PREFIX]}…"
        assert runner_row[5] == "never"  # last used
        for secret in (active, expired, revoked):
            assert secret not in result.output
            assert hashlib.sha256(secret.encode()).hexdigest() not in result.output

    def test_no_keys_says_how_to_create_one(self, runner: CliRunner, migrated: str) -> None:
        result = runner.invoke(app, ["keys", "list"])

        assert result.exit_code == 0, result.output
        assert "No API keys" in result.stdout
        assert "jbts keys create" in result.stdout


class TestRevoke:
    def test_by_name_then_by_id_says_it_was_already_revoked(
        self, runner: CliRunner, migrated: str, sync_mongo: SyncClient
    ) -> None:
        create(runner, "--name", "ci-runner", "--scopes", "admin")
        keys = sync_mongo[migrated]["api_keys"]

        first = runner.invoke(app, ["keys", "revoke", "ci-runner"])

        assert first.exit_code == 0, first.output
        assert "Revoked API key 'ci-runner'" in first.stdout
        stored = keys.find_one({"name": "ci-runner"})
        assert stored is not None
        assert stored["revoked_at"] is not None
        again = runner.invoke(app, ["keys", "revoke", str(stored["_id"])])
        assert again.exit_code == 0, again.output
        assert "was already revoked" in again.stdout
        after = keys.find_one({"_id": stored["_id"]})
        assert after is not None
        assert after["revoked_at"] == stored["revoked_at"]

    def test_an_unknown_key_is_one_error_line(self, runner: CliRunner, migrated: str) -> None:
        result = runner.invoke(app, ["keys", "revoke", "nobody"])

        assert "no API key is named 'nobody'" in one_error_line(result)

    def test_without_a_database_is_one_error_line(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch
    ) -> None:
        assert "MONGODB_URI is not set" in one_error_line(
            runner.invoke(app, ["keys", "revoke", "x"])
        )


class TestFirstAdminKey:
    """What `serve` calls on first start with JBTS_AUTH=required (tests/scripts/test_serve.py
    runs it through a real server)."""

    def test_named_admin_then_admin_2_when_a_revoked_key_holds_the_name(
        self, runner: CliRunner, migrated: str, mongodb_uri: str
    ) -> None:
        async def first() -> str | None:
            client = open_client(mongodb_uri)
            try:
                await keys_ready(client[migrated], migrate=False)
                created = await first_admin_key(created_by="test")
            finally:
                await client.close()
            return None if created is None else created.key.name

        assert asyncio.run(first()) == "admin"
        assert asyncio.run(first()) is None  # a usable key exists
        assert runner.invoke(app, ["keys", "revoke", "admin"]).exit_code == 0
        assert asyncio.run(first()) == "admin-2"


class TestParsing:
    @pytest.mark.parametrize(
        ("text", "lifetime"),
        [
            ("90d", timedelta(days=90)),
            ("12h", timedelta(hours=12)),
            ("4w", timedelta(weeks=4)),
            ("1y", timedelta(days=365)),
            (" 30D ", timedelta(days=30)),
            ("10y", timedelta(days=3650)),
        ],
    )
    def test_durations(self, text: str, lifetime: timedelta) -> None:
        assert parse_duration(text) == lifetime

    @pytest.mark.parametrize("text", ["", "90", "d", "0h", "-1d", "1.5d", "3x", "11y", "90 d"])
    def test_bad_durations(self, text: str) -> None:
        with pytest.raises(ValueError, match="--expires"):
            parse_duration(text)

    def test_scopes_are_trimmed_lowercased_and_deduplicated(self) -> None:
        assert parse_scopes(" Results:Write ,admin,results:write") == [
            Scope.RESULTS_WRITE,
            Scope.ADMIN,
        ]

    def test_the_cli_knows_every_scope(self) -> None:
        # The CLI spells the scopes out so that `--help` needs no import of the documents.
        assert tuple(Scope) == SCOPE_NAMES
