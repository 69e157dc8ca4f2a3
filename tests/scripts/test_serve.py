"""`jbts serve`, run for real: the console script in a subprocess, on a free port.

`uvicorn.run` blocks, so these tests start the installed `jbts` script, read its start-up line
from stdout, talk to it over HTTP and always stop it. Servers start one at a time (each test
starts its own): start-up is mostly imports and migrations, which compete for the machine's
cores. Every wait is on a condition (a line, an answer, an exit) with a generous bound, so a
slow or loaded machine only makes the tests slower, never red.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient
from typer.testing import CliRunner

from api.auth.keys import KEY_PREFIX, hash_key
from api.database.embedded import SQLITE_FILENAME, EmbeddedEngine
from api.database.migrations import latest_version
from api.settings import AuthMode, get_settings
from scripts.cli import app
from scripts.serve import AuthRefused, is_loopback, resolve_auth
from scripts.target import redact
from tests.scripts.test_cli import one_error_line
from tests.servers import STARTUP_TIMEOUT, Server, server_env

AUTH_REQUIRED = "Auth: required (API keys: `Authorization: Bearer <key>` or `X-API-Key: <key>`)"


def sync_client(uri: str) -> MongoClient[dict[str, Any]]:
    return MongoClient(uri, serverSelectionTimeoutMS=5000)


StartServer = Callable[..., Server]


@pytest.fixture
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartServer]:
    """`start_server(*args, **env)`: one `jbts serve` without database settings unless given."""
    log_dir = tmp_path_factory.mktemp("serve-logs")
    started: list[Server] = []

    def start(*args: str, **env: str) -> Server:
        started.append(Server(list(args), server_env(**env), log_dir))
        return started[-1]

    try:
        yield start
    finally:
        for server in started:
            server.stop()


class TestServeOnTheEmbeddedEngine:
    def test_with_a_data_dir_migrates_keeps_the_data_and_is_ready(
        self,
        start_server: StartServer,
        tmp_path: Path,
        clean_env: pytest.MonkeyPatch,
        runner: CliRunner,
    ) -> None:
        server = start_server("--data-dir", str(tmp_path))

        line = server.startup_line()

        sqlite_file = (tmp_path / SQLITE_FILENAME).resolve()
        assert line.startswith("Using embedded engine (mongoeco) at mongodb://127.0.0.1:")
        assert f", data in {sqlite_file}, database jbtestsuite;" in line
        assert line.endswith(f"; API docs at {server.base_url}/docs")
        ready = server.get_when_up("/health/ready", 200).json()
        assert ready["migrations"]["current"] == ready["migrations"]["latest"] == latest_version()
        assert ready["database"] == "jbtestsuite"
        # What serve migrated is in the data directory once the server is gone.
        server.stop()
        result = runner.invoke(app, ["migrate", "up", "--data-dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == ["Nothing to apply: the database is up to date."]

    def test_without_a_data_dir_keeps_data_in_memory(self, start_server: StartServer) -> None:
        server = start_server()

        line = server.startup_line()

        assert line.startswith("Using embedded engine (mongoeco) at mongodb://127.0.0.1:")
        assert line.endswith(
            f", data in memory, database jbtestsuite; API docs at {server.base_url}/docs"
        )
        ready = server.get_when_up("/health/ready", 200).json()
        assert ready["migrations"]["current"] == ready["migrations"]["latest"]
        server.stop()
        # The embedded engine on loopback is a first try: no keys, and it says so.
        assert (
            f"Auth: off (no API keys): anyone who can reach 127.0.0.1:{server.port} can read "
            "and write; set JBTS_AUTH=required to need keys"
        ) in server.output()
        assert not any(line.startswith(KEY_PREFIX) for line in server.output())


class TestShutdown:
    def test_sigterm_leaves_the_committed_data_in_the_sqlite_file_alone(
        self, start_server: StartServer, tmp_path: Path
    ) -> None:
        data_dir = tmp_path / "data"
        server = start_server("--data-dir", str(data_dir), JBTS_AUTH="off")
        server.get_when_up("/health/ready", 200)
        created = httpx.post(
            f"{server.base_url}/api/v1/configurations/browsers",
            json={"name": "survives shutdown", "browser": "chrome"},
            timeout=STARTUP_TIMEOUT,
        )
        assert created.status_code == 201, created.text

        exit_code = server.terminate()

        assert exit_code == 0, server.seen()
        wal = data_dir / f"{SQLITE_FILENAME}-wal"
        assert not wal.exists() or wal.stat().st_size == 0, "committed data left in the -wal file"
        # The .sqlite3 file alone is the whole database: copy only it and read it back.
        copy_dir = tmp_path / "copy"
        copy_dir.mkdir()
        shutil.copyfile(data_dir / SQLITE_FILENAME, copy_dir / SQLITE_FILENAME)
        with EmbeddedEngine(data_dir=copy_dir) as engine, sync_client(engine.info.uri) as mongo:
            stored = mongo["jbtestsuite"]["browser_configurations"].find_one(
                {"name": "survives shutdown"}
            )
        assert stored is not None
        assert str(stored["_id"]) == created.json()["id"]


class TestServeOnMongoDB:
    def test_says_which_mongodb_and_leaves_migrating_to_the_operator(
        self, start_server: StartServer, mongodb_uri: str
    ) -> None:
        mongodb_db = f"jbts_serve_{uuid.uuid4().hex[:12]}"
        server = start_server(MONGODB_URI=mongodb_uri, MONGODB_DB=mongodb_db)
        try:
            line = server.startup_line()

            assert line == (
                f"Using MongoDB at {redact(mongodb_uri)}, database {mongodb_db}; "
                f"API docs at {server.base_url}/docs"
            )
            # On MongoDB serve applies no migrations: not ready until `jbts migrate up`.
            not_ready = server.get_when_up("/health/ready", 503)
            assert not_ready.headers["content-type"].startswith("application/problem+json")
            assert "jbts migrate up" in not_ready.json()["detail"]
            with sync_client(mongodb_uri) as client:
                collections = client[mongodb_db].list_collection_names()
            assert "schema_migrations" not in collections
            # MongoDB needs keys; before `jbts migrate up` there is nowhere to keep a first one.
            assert "api_keys" not in collections
            server.stop()
            assert AUTH_REQUIRED in server.output()
            assert not any(line.startswith(KEY_PREFIX) for line in server.output())
        finally:
            server.stop()
            with sync_client(mongodb_uri) as client:
                client.drop_database(mongodb_db)


class TestRedact:
    @pytest.mark.parametrize(
        ("uri", "printed"),
        [
            ("mongodb://localhost:27017", "mongodb://localhost:27017"),
            (
                "mongodb://app:hunter2@db.example.com:27017/jbts?authSource=admin",
                "mongodb://app:***@db.example.com:27017/jbts?authSource=admin",
            ),
            ("mongodb://app@db.example.com/", "mongodb://app@db.example.com/"),
            (
                "mongodb://app:p%40ss@h1:1,h2:2/?replicaSet=rs0",
                "mongodb://app:***@h1:1,h2:2/?replicaSet=rs0",
            ),
            (
                "mongodb+srv://app:pw@cluster.example.net/",
                "mongodb+srv://app:***@cluster.example.net/",
            ),
            ("mongodb://app:@db.example.com/", "mongodb://app:***@db.example.com/"),
        ],
    )
    def test_hides_only_the_password(self, uri: str, printed: str) -> None:
        assert redact(uri) == printed

    def test_a_raw_at_sign_in_the_password_is_hidden_too(self) -> None:
        printed = redact("mongodb://app:p@ss@db.example.com/")

        assert "ss" not in printed.split("@")[0]
        assert printed == "mongodb://app:***@db.example.com/"


class TestServeWithoutADatabase:
    @pytest.fixture
    def unreachable(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
        """MONGODB_URI at a port with no MongoDB (9, discard), and a short selection timeout."""
        for name in ("MONGODB_DB", "JBTS_DATA_DIR"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("MONGODB_URI", "mongodb://127.0.0.1:9/?directConnection=true")
        monkeypatch.setenv("JBTS_SERVER_SELECTION_TIMEOUT_MS", "200")
        get_settings.cache_clear()
        yield monkeypatch
        get_settings.cache_clear()

    def test_an_unreachable_mongodb_is_one_error_line_before_serving(
        self, unreachable: pytest.MonkeyPatch
    ) -> None:
        result = CliRunner().invoke(app, ["serve", "--port", "0"])

        assert result.exit_code == 1
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith("Error: ")
        assert "127.0.0.1:9" in line

    def test_a_password_in_the_uri_is_never_printed(self, unreachable: pytest.MonkeyPatch) -> None:
        unreachable.setenv(
            "MONGODB_URI", "mongodb://operator:s3cret-pw@127.0.0.1:9/?directConnection=true"
        )
        get_settings.cache_clear()

        result = CliRunner().invoke(app, ["serve", "--port", "0"])

        assert result.exit_code == 1
        assert "s3cret-pw" not in result.output


class TestAuthMode:
    @pytest.mark.parametrize(
        ("configured", "embedded", "host", "mode"),
        [
            (None, True, "127.0.0.1", AuthMode.OFF),
            (None, True, "127.0.0.2", AuthMode.OFF),
            (None, True, "::1", AuthMode.OFF),
            (None, True, "[::1]", AuthMode.OFF),
            (None, True, "localhost", AuthMode.OFF),
            (None, True, "0.0.0.0", AuthMode.REQUIRED),  # noqa: S104 - the case under test
            (None, True, "::", AuthMode.REQUIRED),
            (None, True, "192.168.1.20", AuthMode.REQUIRED),
            (None, True, "api.example.com", AuthMode.REQUIRED),
            (None, False, "127.0.0.1", AuthMode.REQUIRED),  # MongoDB: keys, even on loopback
            (AuthMode.REQUIRED, True, "127.0.0.1", AuthMode.REQUIRED),
            (AuthMode.OFF, False, "127.0.0.1", AuthMode.OFF),
        ],
    )
    def test_resolves_jbts_auth_else_off_only_for_the_embedded_engine_on_loopback(
        self, configured: AuthMode | None, embedded: bool, host: str, mode: AuthMode
    ) -> None:
        assert resolve_auth(configured, embedded=embedded, host=host, insecure=False) is mode

    @pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "api.example.com"])  # noqa: S104
    def test_off_beyond_loopback_needs_insecure(self, host: str) -> None:
        assert not is_loopback(host)
        with pytest.raises(AuthRefused, match="--insecure"):
            resolve_auth(AuthMode.OFF, embedded=True, host=host, insecure=False)
        assert resolve_auth(AuthMode.OFF, embedded=True, host=host, insecure=True) is AuthMode.OFF

    def test_serve_refuses_off_on_every_interface_in_one_line(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch
    ) -> None:
        clean_env.setenv("JBTS_AUTH", "off")

        result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--port", "0"])  # noqa: S104

        line = one_error_line(result)
        assert line.startswith("JBTS_AUTH=off on 0.0.0.0 would let anyone")
        assert "--insecure" in line

    def test_off_with_insecure_serves_on_every_interface_and_says_so(
        self, start_server: StartServer
    ) -> None:
        server = start_server("--host", "0.0.0.0", "--insecure", JBTS_AUTH="off")  # noqa: S104

        server.get_when_up("/health/ready", 200)

        server.stop()
        assert any(
            line.startswith(f"Auth: off (no API keys): anyone who can reach 0.0.0.0:{server.port}")
            for line in server.output()
        ), server.output()


class TestFirstAdminKey:
    def test_first_start_with_required_creates_an_admin_key_and_prints_it_once(
        self, start_server: StartServer, tmp_path: Path
    ) -> None:
        first = start_server("--data-dir", str(tmp_path), JBTS_AUTH="required")
        first.get_when_up("/health/ready", 200)
        first.stop()

        lines = first.output()
        assert AUTH_REQUIRED in lines
        [secret] = [line for line in lines if line.startswith(KEY_PREFIX)]
        assert any(
            line.startswith("No API key existed: created the admin key 'admin'") for line in lines
        )
        assert any(line.startswith("Store it now: it cannot be shown again") for line in lines)
        with EmbeddedEngine(data_dir=tmp_path) as engine, sync_client(engine.info.uri) as mongo:
            db = mongo["jbtestsuite"]
            [stored] = db["api_keys"].find()
            everything = " ".join(
                str(document) for name in db.list_collection_names() for document in db[name].find()
            )
        assert stored["name"] == "admin"
        assert stored["scopes"] == ["admin"]
        assert stored["created_by"] == "serve:first-start"
        assert stored["hash"] == hash_key(secret)
        assert secret not in everything

        # A usable key exists now: the next start creates none and prints no secret.
        second = start_server("--data-dir", str(tmp_path), JBTS_AUTH="required")
        second.get_when_up("/health/ready", 200)
        second.stop()

        assert AUTH_REQUIRED in second.output()
        assert not any(line.startswith(KEY_PREFIX) for line in second.output())
        assert not any("No API key existed" in line for line in second.output())
