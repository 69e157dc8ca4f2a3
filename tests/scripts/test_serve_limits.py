"""`jbts serve` under slow and half-open clients: a real server, real sockets, small limits.

One server (in memory, on the embedded engine) with a 3 s header deadline, a concurrency limit
of 20 and 2 KiB of headers, all set through the environment. Every wait is on a condition, with a
generous bound; none assumes how fast the machine is.
"""

from __future__ import annotations

import resource
import selectors
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.servers import Server, server_env

BOUND = 120.0  # seconds: generous, only ever reached when something is wrong
HALF_OPEN = 200
LIMIT_CONCURRENCY = 20
ENVIRONMENT = {
    "JBTS_HEADER_TIMEOUT_S": "3",
    "JBTS_LIMIT_CONCURRENCY": str(LIMIT_CONCURRENCY),
    "JBTS_MAX_HEADER_BYTES": "2048",
    "JBTS_KEEP_ALIVE_TIMEOUT_S": "5",
    # Requests here must reach the app's body reading, which a missing API key would stop.
    "JBTS_AUTH": "off",
}


class LimitedServer(Server):
    """A `jbts serve` with the small limits above, and the ways these tests talk to it."""

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=BOUND)

    def live(self) -> httpx.Response:
        return httpx.get(f"{self.base_url}/health/live", timeout=BOUND)

    def log_lines(self, containing: str) -> list[str]:
        return [line for line in self.stderr_path.read_text().splitlines() if containing in line]


def wait_until(condition: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + BOUND
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not {condition} within {BOUND} s")
        time.sleep(0.05)


def soft_open_files_below_hard() -> tuple[int, int]:
    """Lower this process's soft open-files limit (inherited by a child) and return the old one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard // 2), hard))
    return soft, hard


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LimitedServer]:
    previous = soft_open_files_below_hard()
    try:
        started = LimitedServer(
            [], server_env(**ENVIRONMENT), tmp_path_factory.mktemp("serve-limits")
        )
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, previous)
    try:
        started.get_when_up("/health/live", 200)
        yield started
    finally:
        started.stop()


def closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def wait_until_all_closed(sockets: list[socket.socket]) -> None:
    """Until the server has closed every socket (EOF or reset), for at most BOUND seconds."""
    open_ = set(sockets)
    deadline = time.monotonic() + BOUND
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        while open_ and (remaining := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(timeout=remaining):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                assert closed_by_peer(ready), "the server answered a half-open connection"
                selector.unregister(ready)
                open_.discard(ready)
    if open_:
        pytest.fail(f"{len(open_)} of {len(sockets)} half-open connections still open")


class TestHalfOpenConnections:
    def test_are_closed_by_the_server_while_health_live_keeps_answering(
        self, server: LimitedServer
    ) -> None:
        sockets = [server.connect() for _ in range(HALF_OPEN)]
        try:
            # Half send nothing at all, half the start of a request head that never ends.
            for sock in sockets[::2]:
                sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")

            # Far more connections than the concurrency limit are open: liveness still answers.
            for _ in range(3):
                response = server.live()
                assert response.status_code == 200, response.text
                assert response.json() == {"status": "ok"}

            wait_until_all_closed(sockets)
        finally:
            for sock in sockets:
                sock.close()

        assert server.live().status_code == 200
        # One log line for the burst, not one per connection.
        closed = server.log_lines("Closed a connection that sent no complete request headers")
        assert 1 <= len(closed) < 10, closed


class TestConcurrencyLimit:
    def test_counts_requests_in_progress_and_answers_503_above_it(
        self, server: LimitedServer
    ) -> None:
        # Requests whose body never comes: each has been handed to the app once the server
        # answers its `Expect: 100-continue` (the app asked for the body), and stays in progress.
        head = (
            b"POST /api/v1/configurations/browsers HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        in_progress = [server.connect() for _ in range(LIMIT_CONCURRENCY)]
        try:
            for sock in in_progress:
                sock.sendall(head)
            for sock in in_progress:
                assert sock.recv(4096).startswith(b"HTTP/1.1 100 ")

            refused = server.live()

            assert refused.status_code == 503
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["status"] == 503
        finally:
            for sock in in_progress:
                sock.close()

        wait_until("answering again", lambda: server.live().status_code == 200)
        assert server.log_lines("Exceeded concurrency limit.")


class TestHeaderSize:
    def test_an_unfinished_request_head_over_the_limit_is_refused(
        self, server: LimitedServer
    ) -> None:
        with server.connect() as sock:
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"x" * 4096)

            answer = read_until_closed(sock)

        assert answer.startswith(b"HTTP/1.1 400 "), answer

    def test_headers_under_the_limit_are_served(self, server: LimitedServer) -> None:
        response = httpx.get(
            f"{server.base_url}/health/live", headers={"X-Big": "x" * 1024}, timeout=BOUND
        )

        assert response.status_code == 200


class TestOpenFiles:
    def test_the_soft_limit_is_raised_to_the_hard_limit(self, server: LimitedServer) -> None:
        soft, hard = resource.prlimit(server.process.pid, resource.RLIMIT_NOFILE)

        assert soft == hard
