"""`jbts serve`'s server limits: the uvicorn settings, and the log-burst filter on real records.

The server itself, with these limits against real sockets, is tested in
tests/scripts/test_serve_limits.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from api.server import (
    HEADER_TIMEOUT_MESSAGE,
    BoundedH11Protocol,
    BurstFilter,
    bounded_h11,
    install_burst_filter,
    raise_open_file_limit,
    remove_burst_filter,
    server_config,
)
from api.settings import Settings

BOUND = 60.0  # seconds: generous, only reached when something is wrong

INVALID = "Invalid HTTP request received."
ACCEPT_ERROR = (
    "socket.accept() out of system resource\n"
    "socket: <asyncio.TransportSocket fd=6, family=2, type=1, proto=6, laddr=('127.0.0.1', 8000)>"
)


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def lines(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@pytest.fixture
def handler() -> Collected:
    return Collected()


@pytest.fixture
def logger(handler: Collected) -> Iterator[logging.Logger]:
    """A real logger with the burst filter (10 s window) and a handler keeping what passed."""
    logger = logging.getLogger(f"tests.burst.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    logger.addFilter(BurstFilter(window_s=10))
    yield logger
    logger.removeHandler(handler)


def log(
    logger: logging.Logger,
    message: str,
    *args: object,
    at: float,
    level: int = logging.WARNING,
    exc_info: bool = False,
) -> None:
    """Log a record as if it had been created at `at` (seconds since the epoch)."""
    info = None
    if exc_info:
        try:
            raise OSError(24, "Too many open files")
        except OSError as exc:
            info = (type(exc), exc, exc.__traceback__)
    record = logger.makeRecord(logger.name, level, __file__, 1, message, args, info)
    record.created = at
    logger.handle(record)


T0 = 1_700_000_000.0


class TestBurstFilter:
    def test_a_burst_of_the_same_message_is_one_line(
        self, logger: logging.Logger, handler: Collected
    ) -> None:
        for i in range(1000):
            log(logger, INVALID, at=T0 + i * 0.001)

        assert handler.lines == [INVALID]

    def test_the_next_one_after_the_window_says_how_many_were_dropped(
        self, logger: logging.Logger, handler: Collected
    ) -> None:
        for i in range(1000):
            log(logger, INVALID, at=T0 + i * 0.001)
        log(logger, INVALID, at=T0 + 10)
        log(logger, INVALID, at=T0 + 10.5)

        first, second = handler.lines
        assert first == INVALID
        assert second.startswith(f"{INVALID} [and 999 more like this since ")
        assert second.endswith("]")

    def test_a_flood_is_one_line_per_window(
        self, logger: logging.Logger, handler: Collected
    ) -> None:
        step = 1 / 128  # exact in binary, so each 10 s window holds exactly 1280 records
        for i in range(60 * 128):
            log(logger, INVALID, at=T0 + i * step)

        assert len(handler.lines) == 6
        assert all("[and 1279 more like this since " in line for line in handler.lines[1:])

    def test_a_message_that_comes_back_after_a_quiet_window_is_logged_as_is(
        self, logger: logging.Logger, handler: Collected
    ) -> None:
        log(logger, INVALID, at=T0)
        log(logger, INVALID, at=T0 + 60)

        assert handler.lines == [INVALID, INVALID]

    def test_each_noisy_message_has_its_own_burst(
        self, logger: logging.Logger, handler: Collected
    ) -> None:
        for i in range(100):
            log(logger, INVALID, at=T0 + i * 0.01)
            log(logger, "Exceeded concurrency limit.", at=T0 + i * 0.01)
            log(logger, HEADER_TIMEOUT_MESSAGE, "10", at=T0 + i * 0.01)

        assert handler.lines == [
            INVALID,
            "Exceeded concurrency limit.",
            HEADER_TIMEOUT_MESSAGE % "10",
        ]

    def test_other_messages_are_never_held_back(
        self, logger: logging.Logger, handler: Collected
    ) -> None:
        for i in range(50):
            log(logger, "GET /health/live %d", i, at=T0, level=logging.INFO)

        assert handler.lines == [f"GET /health/live {i}" for i in range(50)]

    def test_asyncio_accept_errors_collapse_and_keep_their_details(
        self, logger: logging.Logger, handler: Collected
    ) -> None:
        for i in range(500):
            log(logger, ACCEPT_ERROR, at=T0 + i * 0.001, level=logging.ERROR, exc_info=True)
        log(logger, ACCEPT_ERROR, at=T0 + 11, level=logging.ERROR, exc_info=True)

        first, second = handler.records
        assert first.getMessage() == ACCEPT_ERROR
        assert first.exc_info is not None
        head, details = second.getMessage().split("\n", 1)
        assert head.startswith(
            "socket.accept() out of system resource [and 499 more like this since "
        )
        assert details == ACCEPT_ERROR.split("\n", 1)[1]
        assert second.levelno == logging.ERROR
        assert (
            logging.Formatter().format(second).endswith("OSError: [Errno 24] Too many open files")
        )


class TestInstalledFilter:
    @pytest.fixture
    def installed(self) -> Iterator[BurstFilter]:
        burst_filter = install_burst_filter()
        yield burst_filter
        remove_burst_filter(burst_filter)

    @pytest.mark.parametrize("name", ["uvicorn.error", "asyncio"])
    def test_collapses_uvicorn_and_asyncio_messages(
        self, installed: BurstFilter, handler: Collected, name: str
    ) -> None:
        noisy = logging.getLogger(name)
        noisy.addHandler(handler)
        try:
            for _ in range(200):
                noisy.warning(INVALID)
                noisy.error("socket.accept() out of system resource\nsocket: <...>")
        finally:
            noisy.removeHandler(handler)

        assert [line.split("\n")[0] for line in handler.lines] == [
            INVALID,
            "socket.accept() out of system resource",
        ]


@pytest.fixture
def uvicorn_logging() -> Iterator[None]:
    """uvicorn's `Config` configures its loggers; leave them as they were for other tests."""
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {
        name: (list(lg.handlers), lg.level, lg.propagate)
        for name, lg in ((name, logging.getLogger(name)) for name in names)
    }
    yield
    for name, (handlers, level, propagate) in saved.items():
        restored = logging.getLogger(name)
        restored.handlers[:] = handlers
        restored.setLevel(level)
        restored.propagate = propagate


class TestServerConfig:
    @pytest.mark.usefixtures("uvicorn_logging")
    def test_every_limit_comes_from_the_settings(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in {
            "JBTS_LIMIT_CONCURRENCY": "50",
            "JBTS_BACKLOG": "128",
            "JBTS_KEEP_ALIVE_TIMEOUT_S": "7",
            "JBTS_HEADER_TIMEOUT_S": "3",
            "JBTS_MAX_HEADER_BYTES": "8192",
            "JBTS_GRACEFUL_SHUTDOWN_TIMEOUT_S": "9",
        }.items():
            monkeypatch.setenv(name, value)

        config = server_config(FastAPI(), settings=Settings(), host="127.0.0.1", port=8123)

        assert (config.host, config.port) == ("127.0.0.1", 8123)
        assert config.limit_concurrency == 50
        assert config.backlog == 128
        assert config.timeout_keep_alive == 7
        assert config.h11_max_incomplete_event_size == 8192
        assert config.timeout_graceful_shutdown == 9
        assert isinstance(config.http, type)
        assert issubclass(config.http, BoundedH11Protocol)
        assert config.http.header_timeout_s == 3

    def test_defaults(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in (
            "JBTS_LIMIT_CONCURRENCY",
            "JBTS_BACKLOG",
            "JBTS_KEEP_ALIVE_TIMEOUT_S",
            "JBTS_HEADER_TIMEOUT_S",
            "JBTS_MAX_HEADER_BYTES",
            "JBTS_GRACEFUL_SHUTDOWN_TIMEOUT_S",
        ):
            monkeypatch.delenv(name, raising=False)

        settings = Settings()

        assert settings.limit_concurrency == 1000
        assert settings.backlog == 2048
        assert settings.keep_alive_timeout_s == 5
        assert settings.header_timeout_s == 10
        assert settings.max_header_bytes == 16 * 1024
        assert settings.graceful_shutdown_timeout_s == 5

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("JBTS_LIMIT_CONCURRENCY", "0"),
            ("JBTS_BACKLOG", "0"),
            ("JBTS_KEEP_ALIVE_TIMEOUT_S", "0"),
            ("JBTS_HEADER_TIMEOUT_S", "0"),
            ("JBTS_HEADER_TIMEOUT_S", "3600"),
            ("JBTS_MAX_HEADER_BYTES", "100"),
            ("JBTS_GRACEFUL_SHUTDOWN_TIMEOUT_S", "-1"),
        ],
    )
    def test_an_unusable_value_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, name: str, value: str
    ) -> None:
        monkeypatch.setenv(name, value)

        with pytest.raises(ValueError, match=name):
            Settings()


class TestOpenFileLimit:
    def test_the_soft_limit_is_raised_to_the_hard_limit(self) -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard // 2), hard))
        try:
            assert raise_open_file_limit() == hard
            assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@dataclass
class Slow:
    """A tiny ASGI app: `/slow` answers once released, anything else at once."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        if scope["path"] == "/slow":
            self.started.set()
            await self.release.wait()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})


@dataclass
class Running:
    app: Slow
    port: int

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """One request on its own connection: status, headers, body."""
        reader, writer = await self.connect()
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
            raw = await asyncio.wait_for(reader.read(), BOUND)
        finally:
            writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        status_line, *lines = head.decode().split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines)
        return int(status_line.split()[1]), headers, body


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    """The protocol in a real uvicorn server in this event loop: 1 s header deadline, 1 request."""
    app = Slow()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        http=bounded_h11(header_timeout_s=1),
        limit_concurrency=1,
        timeout_keep_alive=30,
        lifespan="off",
        log_config=None,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(BOUND):
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes only this flag
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Running(app=app, port=port)
    finally:
        app.release.set()
        server.should_exit = True
        await asyncio.wait_for(task, BOUND)


class TestBoundedH11Protocol:
    async def test_a_connection_that_sends_nothing_is_closed(self, running: Running) -> None:
        reader, writer = await running.connect()

        assert await asyncio.wait_for(reader.read(), BOUND) == b""
        writer.close()

    async def test_a_kept_alive_connection_sending_half_a_request_is_closed(
        self, running: Running
    ) -> None:
        reader, writer = await running.connect()
        writer.write(b"GET /fast HTTP/1.1\r\nHost: t\r\n\r\n")
        first = await asyncio.wait_for(reader.readuntil(b"ok"), BOUND)
        assert first.startswith(b"HTTP/1.1 200 ")

        # Data on the kept-alive connection cancels its keep-alive timer (30 s); the header
        # deadline (1 s) is what closes it.
        writer.write(b"GET /fast HTTP/1.1\r\nHost: t\r\nX-Slow: ")

        assert await asyncio.wait_for(reader.read(), BOUND) == b""
        writer.close()

    async def test_a_request_over_the_concurrency_limit_is_a_503_problem(
        self, running: Running
    ) -> None:
        slow = asyncio.create_task(running.get("/slow"))
        await asyncio.wait_for(running.app.started.wait(), BOUND)

        status, headers, body = await running.get("/fast")

        assert status == 503
        assert headers["content-type"] == "application/problem+json"
        assert headers["retry-after"] == "1"
        assert json.loads(body)["status"] == 503
        running.app.release.set()
        assert (await slow)[0] == 200
        assert (await running.get("/fast"))[0] == 200

    async def test_idle_connections_do_not_count_against_the_limit(self, running: Running) -> None:
        idle = [await running.connect() for _ in range(5)]
        try:
            status, _, body = await running.get("/fast")
        finally:
            for _, writer in idle:
                writer.close()

        assert (status, body) == (200, b"ok")
