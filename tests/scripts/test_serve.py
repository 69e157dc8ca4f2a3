"""`jbts serve`, run for real: the console script in a subprocess, on a free port.

`uvicorn.run` blocks, so these tests start the installed `jbts` script, read its start-up line
from stdout, talk to it over HTTP and always terminate it. Every wait is bounded.
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient
from typer.testing import CliRunner

from api.database.embedded import SQLITE_FILENAME
from api.database.migrations import latest_version
from api.settings import get_settings
from scripts.cli import app
from scripts.target import redact

STARTUP_TIMEOUT = 20.0


def jbts_executable() -> str:
    beside_python = Path(sys.executable).parent / "jbts"
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("jbts")
    assert found is not None, "the `jbts` console script is not installed"
    return found


def sync_client(uri: str) -> MongoClient[dict[str, Any]]:
    return MongoClient(uri, serverSelectionTimeoutMS=5000)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A running `jbts serve` and the lines it printed on stdout."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(  # noqa: S603 - our own console script, fixed arguments
            [jbts_executable(), "serve", "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def startup_line(self) -> str:
        """The first line starting with "Using ", waiting at most STARTUP_TIMEOUT seconds."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        seen: list[str] = []
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"jbts serve exited ({self.process.poll()}) after printing {seen}")
            if line.startswith("Using "):
                return line
            seen.append(line)
        pytest.fail(f"no start-up line within {STARTUP_TIMEOUT} s; stdout so far: {seen}")

    def get_when_up(self, path: str, status: int) -> httpx.Response:
        """GET `path` until it answers `status`, for at most STARTUP_TIMEOUT seconds."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last: httpx.Response | str = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"jbts serve exited with {self.process.returncode}")
            try:
                response = httpx.get(f"{self.base_url}{path}", timeout=2.0)
            except httpx.TransportError as exc:
                last = repr(exc)
            else:
                if response.status_code == status:
                    return response
                last = response
            time.sleep(0.1)
        pytest.fail(f"GET {path} did not answer {status} within {STARTUP_TIMEOUT} s: {last}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@dataclass(frozen=True)
class Servers:
    data_dir: Server
    data_path: Path
    memory: Server
    mongodb: Server
    mongodb_db: str


@pytest.fixture(scope="module")
def servers(mongodb_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Every scenario's server, started at once (start-up is mostly imports); all stopped after."""
    env = dict(os.environ)
    for name in ("MONGODB_URI", "MONGODB_DB", "JBTS_DATA_DIR"):
        env.pop(name, None)
    data_path = tmp_path_factory.mktemp("serve-data")
    mongodb_db = f"jbts_serve_{uuid.uuid4().hex[:12]}"
    started: list[Server] = []

    def start(args: list[str], extra: dict[str, str]) -> Server:
        started.append(Server(args, {**env, **extra}))
        return started[-1]

    try:
        yield Servers(
            data_dir=start(["--data-dir", str(data_path)], {}),
            data_path=data_path,
            memory=start([], {}),
            mongodb=start([], {"MONGODB_URI": mongodb_uri, "MONGODB_DB": mongodb_db}),
            mongodb_db=mongodb_db,
        )
    finally:
        for server in started:
            server.stop()
        with sync_client(mongodb_uri) as client:
            client.drop_database(mongodb_db)


class TestServeOnTheEmbeddedEngine:
    def test_with_a_data_dir_migrates_keeps_the_data_and_is_ready(
        self, servers: Servers, clean_env: pytest.MonkeyPatch, runner: CliRunner
    ) -> None:
        server = servers.data_dir

        line = server.startup_line()

        sqlite_file = (servers.data_path / SQLITE_FILENAME).resolve()
        assert line.startswith("Using embedded engine (mongoeco) at mongodb://127.0.0.1:")
        assert f", data in {sqlite_file}, database jbtestsuite;" in line
        assert line.endswith(f"; API docs at {server.base_url}/docs")
        ready = server.get_when_up("/health/ready", 200).json()
        assert ready["migrations"]["current"] == ready["migrations"]["latest"] == latest_version()
        assert ready["database"] == "jbtestsuite"
        # What serve migrated is in the data directory once the server is gone.
        server.stop()
        result = runner.invoke(app, ["migrate", "up", "--data-dir", str(servers.data_path)])
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == ["Nothing to apply: the database is up to date."]

    def test_without_a_data_dir_keeps_data_in_memory(self, servers: Servers) -> None:
        server = servers.memory

        line = server.startup_line()

        assert line.startswith("Using embedded engine (mongoeco) at mongodb://127.0.0.1:")
        assert line.endswith(
            f", data in memory, database jbtestsuite; API docs at {server.base_url}/docs"
        )
        ready = server.get_when_up("/health/ready", 200).json()
        assert ready["migrations"]["current"] == ready["migrations"]["latest"]


class TestServeOnMongoDB:
    def test_says_which_mongodb_and_leaves_migrating_to_the_operator(
        self, servers: Servers, mongodb_uri: str
    ) -> None:
        server = servers.mongodb

        line = server.startup_line()

        assert line == (
            f"Using MongoDB at {redact(mongodb_uri)}, database {servers.mongodb_db}; "
            f"API docs at {server.base_url}/docs"
        )
        # On MongoDB serve applies no migrations: not ready until `jbts migrate up`.
        not_ready = server.get_when_up("/health/ready", 503)
        assert not_ready.headers["content-type"].startswith("application/problem+json")
        assert "jbts migrate up" in not_ready.json()["detail"]
        with sync_client(mongodb_uri) as client:
            collections = client[servers.mongodb_db].list_collection_names()
        assert "schema_migrations" not in collections


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
