"""`jbts serve`'s HTTP server: uvicorn with every limit chosen deliberately, from the settings.

What a careful operator needs and stock uvicorn (0.54) does not give:

- A deadline for request headers (`JBTS_HEADER_TIMEOUT_S`). Uvicorn has none: a connection that
  sends nothing, or half a request head, is kept open forever (its keep-alive timer only starts
  after a response), so enough of them exhaust the process's file descriptors (slowloris).
  `BoundedH11Protocol` closes a connection whose request head is not complete within the
  deadline, counted from the connection (or, on a kept-alive connection, from the first byte of
  the next request).
- A concurrency limit that counts requests in progress only. Uvicorn's `limit_concurrency` also
  counts open connections, so idle and half-open ones would turn every request, `/health/live`
  included, into a 503. Here a request over the limit is a 503 problem with `Retry-After`.
- The open-files soft limit raised to the hard limit, so the header deadline, not a low default
  soft limit, decides how many half-open connections the process survives.
- `BurstFilter`: one log line per burst of the same noisy message (refused connections, accept
  errors), with a count, instead of one line per connection.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from api.errors import DATABASE_UNAVAILABLE_LOG, ServiceUnavailable, problem_response
from api.settings import Settings

HEADER_TIMEOUT_MESSAGE = "Closed a connection that sent no complete request headers within %s s."
CONCURRENCY_MESSAGE = "Exceeded concurrency limit."
# The messages a flood of bad or slow clients repeats once per connection (uvicorn's, ours and
# asyncio's when the process runs out of file descriptors), matched at the start of the message.
NOISY_MESSAGES = (
    "Invalid HTTP request received.",
    CONCURRENCY_MESSAGE,
    HEADER_TIMEOUT_MESSAGE.split(" within ", 1)[0],
    "socket.accept() out of system resource",
    DATABASE_UNAVAILABLE_LOG,  # every request during a database outage
)
NOISY_LOGGERS = ("uvicorn.error", "asyncio", "api.errors")
BURST_WINDOW_S = 10.0


def serve(app: ASGIApp, *, settings: Settings, host: str, port: int) -> None:
    """Run `app` until stopped (exit code 3 when it cannot start, like `uvicorn.run`)."""
    raise_open_file_limit()
    config = server_config(app, settings=settings, host=host, port=port)
    install_burst_filter()  # after uvicorn configured its loggers
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def server_config(app: ASGIApp, *, settings: Settings, host: str, port: int) -> Config:
    return Config(
        app,
        host=host,
        port=port,
        log_level="info",
        http=bounded_h11(header_timeout_s=settings.header_timeout_s),
        limit_concurrency=settings.limit_concurrency,
        backlog=settings.backlog,
        timeout_keep_alive=settings.keep_alive_timeout_s,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_graceful_shutdown=settings.graceful_shutdown_timeout_s,
    )


def raise_open_file_limit() -> int:
    """Raise the soft limit on open files to the hard limit; returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft  # e.g. macOS refuses an unlimited soft limit: keep what we have
    return hard


def bounded_h11(*, header_timeout_s: float) -> type[BoundedH11Protocol]:
    """The protocol class uvicorn instantiates per connection, with this header deadline."""
    return type("BoundedH11Protocol", (BoundedH11Protocol,), {"header_timeout_s": header_timeout_s})


class BoundedH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol with a request-header deadline and a requests-only concurrency cap."""

    header_timeout_s: float = 10.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._header_deadline: asyncio.TimerHandle | None = None
        if self.limit_concurrency is not None:
            self.app = _RequestLimit(
                self.app, tasks=self.tasks, limit=self.limit_concurrency, logger=self.logger
            )
            self.limit_concurrency = None  # uvicorn's own check counts idle connections too

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        if self._header_deadline is None and self.conn.their_state is h11.IDLE:
            self._arm_header_deadline()  # the first bytes of a further request on this connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_deadline()  # the request head is complete (or was refused)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_overdue)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_overdue(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.warning(HEADER_TIMEOUT_MESSAGE, f"{self.header_timeout_s:g}")
            self.transport.close()


type _ASGI = Callable[[Any, Any, Any], Awaitable[None]]


class _RequestLimit:
    """A 503 problem for a request that arrives while `limit` requests are in progress."""

    def __init__(self, app: _ASGI, *, tasks: set[Any], limit: int, logger: logging.Logger) -> None:
        self.app = app
        self.tasks = tasks
        self.limit = limit
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # This request's own task is already in `tasks`.
        if len(self.tasks) <= self.limit:
            await self.app(scope, receive, send)
            return
        self.logger.warning(CONCURRENCY_MESSAGE)
        problem = ServiceUnavailable(
            "the server is handling as many requests as it is configured for; retry shortly"
        ).to_problem(scope["path"])
        # Closing sheds the connection too: an overloaded server should hold fewer of them.
        response = problem_response(problem, headers={"Retry-After": "1", "Connection": "close"})
        await response(scope, receive, send)


@dataclass
class _Burst:
    started: float
    dropped: int = 0


class BurstFilter(logging.Filter):
    """One line per burst of the same noisy message instead of one per occurrence.

    The first occurrence is logged; the same message again within `window_s` seconds of it is
    counted and dropped; the first one after the window is logged with how many were dropped
    ("... [and 1234 more like this since 12:00:01]") and starts the next window. A flood thus
    costs one line per window, and a quiet log stays exactly as it was. Time is the records' own
    `created`, so the filter needs no clock or timer.
    """

    def __init__(
        self, *, messages: tuple[str, ...] = NOISY_MESSAGES, window_s: float = BURST_WINDOW_S
    ) -> None:
        super().__init__()
        self.messages = messages
        self.window_s = window_s
        self._bursts: dict[str, _Burst] = {}
        self._lock = threading.Lock()  # logging may be called from several threads

    def filter(self, record: logging.LogRecord) -> bool | logging.LogRecord:
        message = record.getMessage()
        kind = next((m for m in self.messages if message.startswith(m)), None)
        if kind is None:
            return True
        with self._lock:
            burst = self._bursts.get(kind)
            if burst is not None and record.created - burst.started < self.window_s:
                burst.dropped += 1
                return False
            self._bursts[kind] = _Burst(started=record.created)
        if burst is None or burst.dropped == 0:
            return True
        since = time.strftime("%H:%M:%S", time.localtime(burst.started))
        first, newline, rest = message.partition("\n")
        summary = logging.makeLogRecord(record.__dict__)
        summary.msg = f"{first} [and {burst.dropped} more like this since {since}]{newline}{rest}"
        summary.args = None
        return summary


def install_burst_filter(window_s: float = BURST_WINDOW_S) -> BurstFilter:
    """Collapse bursts of noisy messages on uvicorn's and asyncio's loggers."""
    burst_filter = BurstFilter(window_s=window_s)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).addFilter(burst_filter)
    return burst_filter


def remove_burst_filter(burst_filter: BurstFilter) -> None:
    for name in NOISY_LOGGERS:
        logging.getLogger(name).removeFilter(burst_filter)
