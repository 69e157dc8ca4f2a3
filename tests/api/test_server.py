"""`jbts serve`'s server limits: the uvicorn settings, and the log-burst filter on real records.

The server itself, with these limits against real sockets, is tested in
tests/scripts/test_serve_limits.py.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from api.server import (
    HEADER_TIMEOUT_MESSAGE,
    BoundedH11Protocol,
    BurstFilter,
    install_burst_filter,
    remove_burst_filter,
    server_config,
)
from api.settings import Settings

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
        self, installed: BurstFilter, caplog: pytest.LogCaptureFixture, name: str
    ) -> None:
        caplog.set_level(logging.WARNING, logger=name)
        noisy = logging.getLogger(name)

        for _ in range(200):
            noisy.warning(INVALID)
            noisy.error("socket.accept() out of system resource\nsocket: <...>")

        assert [record.getMessage().split("\n")[0] for record in caplog.records] == [
            INVALID,
            "socket.accept() out of system resource",
        ]


class TestServerConfig:
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
