"""The `jbts` command line as a whole: light to start, and every failure one short line."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo.errors import (
    AutoReconnect,
    ConfigurationError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)
from typer.testing import CliRunner, Result

from api.database import migrations
from api.database.embedded import SQLITE_FILENAME
from scripts.cli import app
from scripts.failures import MAX_REASON, describe_database_error
from scripts.signals import unwind_on_sigterm

# A clear line is short: a redacted URI and a reason, never the driver's topology description.
MAX_LINE = 250
HEAVY_MODULES = ("fastapi", "beanie", "mongoeco", "uvicorn", "pymongo", "starlette", "api.main")
UNREACHABLE = "mongodb://127.0.0.1:9/?directConnection=true"  # port 9 (discard): no MongoDB


def one_error_line(result: Result) -> str:
    """Exit code 1, one short `Error: ...` line on stderr, nothing on stdout, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # a clean exit
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: ")
    assert len(lines[0]) <= MAX_LINE, lines[0]
    return lines[0].removeprefix("Error: ")


class TestStartUp:
    def test_building_the_cli_imports_neither_the_api_nor_the_database(self) -> None:
        # What `jbts --help` pays for: importing the CLI and building Typer's click command.
        probe = (
            "import json, sys, typer.main, scripts.cli; "
            "typer.main.get_command(scripts.cli.app); "
            "print(json.dumps(sorted(sys.modules)))"
        )

        loaded = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parents[2],
        )

        modules = json.loads(loaded.stdout)
        heavy = [
            name
            for name in modules
            if any(name.partition(".")[0] == h or name == h for h in HEAVY_MODULES)
        ]
        assert heavy == []

    def test_help_lists_every_command(self, runner: CliRunner) -> None:
        result = runner.invoke(app, ["--help"])

        assert result.exit_code == 0, result.output
        for command in ("serve", "stats", "migrate", "seed", "reset", "bench", "keys"):
            assert command in result.stdout


class TestDatabaseFailures:
    @pytest.mark.parametrize(
        "command",
        [
            ["stats"],
            ["migrate", "status"],
            ["migrate", "up"],
            ["seed"],
            ["reset", "--yes"],
            ["keys", "create", "--name", "k", "--scopes", "admin"],
            ["keys", "list"],
            ["keys", "revoke", "k"],
        ],
    )
    def test_an_unreachable_mongodb_is_one_short_line(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, command: list[str]
    ) -> None:
        clean_env.setenv("MONGODB_URI", UNREACHABLE)
        clean_env.setenv("JBTS_SERVER_SELECTION_TIMEOUT_MS", "200")

        line = one_error_line(runner.invoke(app, command))

        # Refused at once, or (on a machine too loaded to connect within 0.2 s) not answered.
        assert line in {
            f"cannot reach the database at {UNREACHABLE}: connection refused",
            f"cannot reach the database at {UNREACHABLE}: no server answered within 0.2 s",
        }

    def test_the_password_is_redacted_from_the_line(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch
    ) -> None:
        clean_env.setenv(
            "MONGODB_URI", "mongodb://ops:s3cret-pw@127.0.0.1:9/?directConnection=true"
        )
        clean_env.setenv("JBTS_SERVER_SELECTION_TIMEOUT_MS", "200")

        line = one_error_line(runner.invoke(app, ["stats"]))

        assert "s3cret-pw" not in line
        assert "mongodb://ops:***@127.0.0.1:9/" in line

    @pytest.mark.parametrize("command", [["stats"], ["migrate", "up"], ["serve", "--port", "0"]])
    def test_a_bad_port_in_the_uri_is_one_line(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, command: list[str]
    ) -> None:
        clean_env.setenv("MONGODB_URI", "mongodb://localhost:99999")

        line = one_error_line(runner.invoke(app, command))

        assert line == "invalid MONGODB_URI: Port must be an integer between 0 and 65535"


class TestDescribeDatabaseError:
    """The driver's messages as PyMongo 4 words them, reduced to what an operator needs."""

    WHERE = "mongodb://db.example.com:27017"

    @pytest.mark.parametrize(
        ("error", "line"),
        [
            (
                ServerSelectionTimeoutError(
                    "db.example.com:27017: [Errno 111] Connection refused (configured timeouts: "
                    "socketTimeoutMS: 20000.0ms, connectTimeoutMS: 20000.0ms), Timeout: 0.2s, "
                    "Topology Description: <TopologyDescription id: 1, topology_type: Single, "
                    "servers: [<ServerDescription ('db.example.com', 27017) server_type: Unknown"
                    ", rtt: None, error=AutoReconnect('db.example.com:27017: [Errno 111] "
                    "Connection refused')>]>"
                ),
                f"cannot reach the database at {WHERE}: connection refused",
            ),
            (
                ServerSelectionTimeoutError(
                    "127.0.0.1:9: [Errno 111] Connect call failed ('127.0.0.1', 9) (configured "
                    "timeouts: socketTimeoutMS: 20000.0ms, connectTimeoutMS: 20000.0ms), "
                    "Timeout: 0.5s, Topology Description: <...>"
                ),
                f"cannot reach the database at {WHERE}: connection refused",
            ),
            (
                ServerSelectionTimeoutError(
                    "h1:27017: [Errno -2] Name or service not known, h2:27018: timed out, "
                    "Timeout: 5.0s, Topology Description: <...>"
                ),
                f"cannot reach the database at {WHERE}: name or service not known",
            ),
            (
                ServerSelectionTimeoutError(
                    "[::1]:27017: timed out (configured timeouts: connectTimeoutMS: 20000.0ms)"
                    ", Timeout: 5.0s, Topology Description: <...>"
                ),
                f"cannot reach the database at {WHERE}: timed out",
            ),
            (
                ServerSelectionTimeoutError(
                    "No servers found yet, Timeout: 0.2s, Topology Description: <...>"
                ),
                f"cannot reach the database at {WHERE}: no server answered within 0.2 s",
            ),
            (
                AutoReconnect("db.example.com:27017: [Errno 104] Connection reset by peer"),
                f"lost the connection to the database at {WHERE}: connection reset by peer",
            ),
            (
                OperationFailure(
                    "Authentication failed., full error: {'ok': 0.0, 'code': 18}",
                    code=18,
                    details={"ok": 0.0, "errmsg": "Authentication failed.", "code": 18},
                ),
                f"the database at {WHERE} refused the command: Authentication failed. (code 18)",
            ),
            (
                ConfigurationError("The DNS query name does not exist: _mongodb._tcp.x.invalid."),
                f"cannot use the database at {WHERE}: The DNS query name does not exist: "
                "_mongodb._tcp.x.invalid.",
            ),
            (PyMongoError("something\nelse"), f"database error at {WHERE}: something else"),
        ],
    )
    def test_one_line_with_the_reason(self, error: PyMongoError, line: str) -> None:
        assert describe_database_error(error, where=self.WHERE) == line

    def test_a_long_reason_is_cut(self) -> None:
        line = describe_database_error(PyMongoError("x" * 1000), where=self.WHERE)

        assert line.endswith("…")
        assert len(line) == len(f"database error at {self.WHERE}: ") + MAX_REASON


class TestReadingCommandsNeverCreateADatabase:
    @pytest.mark.parametrize(
        "command",
        [
            ["stats"],
            ["migrate", "status"],
            ["migrate", "down"],
            ["reset", "--yes"],
            ["keys", "list"],
            ["keys", "revoke", "k"],
        ],
    )
    def test_a_mistyped_data_dir_is_refused_and_not_created(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, tmp_path: Path, command: list[str]
    ) -> None:
        typo = tmp_path / "dta"

        line = one_error_line(runner.invoke(app, [*command, "--data-dir", str(typo)]))

        assert line == (
            f"no database ({SQLITE_FILENAME}) in {typo}: check the path, or create one there "
            "with `jbts migrate up`"
        )
        assert not typo.exists()

    def test_an_existing_directory_without_a_database_stays_empty(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        line = one_error_line(runner.invoke(app, ["stats", "--data-dir", str(tmp_path)]))

        assert line.startswith(f"no database ({SQLITE_FILENAME}) in {tmp_path}: ")
        assert list(tmp_path.iterdir()) == []

    def test_jbts_data_dir_is_checked_the_same_way(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        clean_env.setenv("JBTS_DATA_DIR", str(tmp_path / "missing"))

        line = one_error_line(runner.invoke(app, ["migrate", "status"]))

        assert line.startswith(f"no database ({SQLITE_FILENAME}) in {tmp_path / 'missing'}: ")
        assert not (tmp_path / "missing").exists()

    def test_migrate_up_creates_it_and_then_stats_reads_it(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        data_dir = tmp_path / "new"
        assert runner.invoke(app, ["migrate", "up", "--data-dir", str(data_dir)]).exit_code == 0

        result = runner.invoke(app, ["stats", "--data-dir", str(data_dir)])

        assert result.exit_code == 0, result.output
        latest = migrations.latest_version()
        assert f"Migrations: {latest} applied, latest {latest}" in result.stdout


class TestServePort:
    @pytest.fixture
    def busy_port(self) -> Iterator[int]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen()
            yield sock.getsockname()[1]

    def test_a_busy_port_is_one_line_before_anything_starts(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch, busy_port: int, tmp_path: Path
    ) -> None:
        data_dir = tmp_path / "data"

        line = one_error_line(
            runner.invoke(app, ["serve", "--port", str(busy_port), "--data-dir", str(data_dir)])
        )

        assert line == f"cannot listen on 127.0.0.1:{busy_port}: address already in use"
        assert not data_dir.exists()  # the engine was not started

    def test_an_address_this_machine_does_not_have_is_one_line(
        self, runner: CliRunner, clean_env: pytest.MonkeyPatch
    ) -> None:
        # 192.0.2.1 is reserved for documentation (TEST-NET-1): numeric, so no name lookup.
        line = one_error_line(runner.invoke(app, ["serve", "--host", "192.0.2.1", "--port", "0"]))

        assert line == "cannot listen on 192.0.2.1:0: cannot assign requested address"


class TestSigterm:
    def test_sigterm_unwinds_as_a_clean_exit_inside_the_block(self) -> None:
        with pytest.raises(SystemExit) as stopped, unwind_on_sigterm():
            signal.raise_signal(signal.SIGTERM)

        assert stopped.value.code == 0

    def test_the_previous_handler_is_restored_after_the_block(self) -> None:
        before = signal.getsignal(signal.SIGTERM)

        with unwind_on_sigterm():
            assert signal.getsignal(signal.SIGTERM) is not before

        assert signal.getsignal(signal.SIGTERM) is before
