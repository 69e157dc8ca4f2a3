"""A real `jbts serve` in a subprocess, for tests that need the whole serving stack.

Every wait is on a condition (a line, an answer, an exit) with a generous bound: CI runs on a
loaded 2-core machine where a start-up can take many seconds, and a slow machine must only make
the tests slower, never red.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

# Bounds on waits for a condition, not expectations of speed: a loaded 2-core machine took
# 9-13 s to start a server; these only turn a hang into a failure that says what was seen.
STARTUP_TIMEOUT = 120.0
SHUTDOWN_TIMEOUT = 120.0
POLL_INTERVAL = 0.1


def jbts_executable() -> str:
    beside_python = Path(sys.executable).parent / "jbts"
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("jbts")
    assert found is not None, "the `jbts` console script is not installed"
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(**extra: str) -> dict[str, str]:
    """This process's environment without any database or auth setting, plus `extra`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("MONGODB_URI", "MONGODB_DB", "JBTS_DATA_DIR", "JBTS_AUTH")
    }
    return {**env, **extra}


class Server:
    """A running `jbts serve`, with what it printed on stdout and stderr."""

    def __init__(self, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stdout: list[str] = []
        self.stderr_path = log_dir / f"serve-{self.port}.stderr"
        with self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen(  # noqa: S603 - our own console script, fixed args
                [jbts_executable(), "serve", "--port", str(self.port), *args],
                stdout=subprocess.PIPE,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                text=True,
                env=env,
            )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._stdout.append(line.rstrip("\n"))
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def output(self) -> list[str]:
        """The lines printed on stdout so far (all of them once `stop` has returned)."""
        return list(self._stdout)

    def seen(self) -> str:
        """Everything the server printed so far, for failure messages."""
        stderr = self.stderr_path.read_text(errors="replace").strip()
        return f"exit code {self.process.poll()}; stdout: {self._stdout}; stderr:\n{stderr}"

    def startup_line(self) -> str:
        """The first line starting with "Using ", waiting at most STARTUP_TIMEOUT seconds."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"jbts serve exited before its start-up line: {self.seen()}")
            if line.startswith("Using "):
                return line
        pytest.fail(f"no start-up line within {STARTUP_TIMEOUT} s: {self.seen()}")

    def get_when_up(self, path: str, status: int) -> httpx.Response:
        """GET `path` until it answers `status`, for at most STARTUP_TIMEOUT seconds."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last: httpx.Response | str = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"jbts serve exited while waiting for GET {path}: {self.seen()}")
            try:
                response = httpx.get(f"{self.base_url}{path}", timeout=STARTUP_TIMEOUT)
            except httpx.TransportError as exc:
                last = repr(exc)
            else:
                if response.status_code == status:
                    return response
                last = f"{response.status_code} {response.text}"
            time.sleep(POLL_INTERVAL)  # between polls of a condition, not instead of one
        pytest.fail(
            f"GET {path} did not answer {status} within {STARTUP_TIMEOUT} s (last: {last}); "
            f"{self.seen()}"
        )

    def terminate(self) -> int:
        """SIGTERM, as a process manager stops it; its exit code once it has exited."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"jbts serve still running {SHUTDOWN_TIMEOUT} s after SIGTERM: {self.seen()}"
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=SHUTDOWN_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=SHUTDOWN_TIMEOUT)
        self._reader.join(timeout=SHUTDOWN_TIMEOUT)
        if self.process.stdout is not None:
            self.process.stdout.close()
