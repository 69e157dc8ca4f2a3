"""Running the operations: latency, database time, service time and round trips per request.

Requests run one at a time, so each request's commands are the ones its app client sent while
it ran (`CommandRecorder.window`). Service time is the request's time minus the summed durations
of those commands: the API's own work (routing, validation, serialisation, the ASGI transport).
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from scripts.bench.operations import BenchError, Goal, Operation
from scripts.bench.recorder import CommandRecorder, Window

type Refresh = Callable[[], Awaitable[object]]
type Advance = Callable[[str], None]


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (`q` in 0-1) of at least one value."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


@dataclass(frozen=True, slots=True)
class Spread:
    """p50, p95 and max of a series, in milliseconds."""

    p50: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(
            p50=round(percentile(values, 0.5), 3),
            p95=round(percentile(values, 0.95), 3),
            max=round(max(values), 3),
        )


@dataclass(frozen=True, slots=True)
class RawResult:
    query: str
    latency_ms: Spread
    round_trips: int


@dataclass(frozen=True, slots=True)
class OperationResult:
    name: str
    route: str
    reps: int
    latency_ms: Spread
    database_ms: Spread
    service_ms: Spread
    round_trips: int  # the most any request took
    commands: dict[str, float]  # command -> how many per request, on average
    raw: RawResult
    ratio: float | None  # latency p50 / raw latency p50
    target: str
    misses: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.misses


@dataclass(slots=True)
class _Series:
    latency: list[float] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)

    def add(self, elapsed_ns: int, window: Window) -> None:
        self.latency.append(elapsed_ns / 1e6)
        self.windows.append(window)


def _problem(call_method: str, url: str, response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    reason = detail or response.reason_phrase or response.text[:160]
    return f"{call_method} {url} answered {response.status_code}: {reason}"


class AppLog(logging.Handler):
    """Keeps the app's warnings and errors for the report (`lines`) and for error messages."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[str]:
        return [f"{record.levelname}: {record.getMessage()}" for record in self.records]

    def last_error(self) -> str | None:
        """The exception of the last unhandled error the app logged, as `Type: message`."""
        for record in reversed(self.records):
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                return f"{type(error).__name__}: {error}"
        return None


class Bench:
    """Runs operations against an app (through `http`) and their raw equivalents.

    `app_commands` listens to the app's database client, `raw_commands` to the client the raw
    equivalents use. `refresh` runs before every request, outside the measured time: it reads
    what the app caches between requests (the write gate's schema version, read at most every
    5 s and shared by all requests), so no measured request happens to pay for that read.
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        app_commands: CommandRecorder,
        raw_commands: CommandRecorder,
        refresh: Refresh,
        log: AppLog,
    ) -> None:
        self.http = http
        self.app_commands = app_commands
        self.raw_commands = raw_commands
        self.log = log
        self._refresh = refresh

    async def _request(self, operation: Operation, rep: int, series: _Series | None) -> None:
        await operation.before(self.http)
        call = operation.call(rep)
        await self._refresh()
        with self.app_commands.window() as window:
            started = time.perf_counter_ns()
            response = await self.http.request(
                call.method,
                call.url,
                json=call.body,
                files=call.files,
                data=call.data,
                headers=dict(call.headers),
            )
            elapsed = time.perf_counter_ns() - started
        if not response.is_success:
            message = _problem(call.method, call.url, response)
            if response.status_code >= 500 and (logged := self.log.last_error()):
                message += f" ({logged})"
            raise BenchError(message)
        operation.answered(response)
        await operation.tidy()
        if series is not None:
            series.add(elapsed, window)

    async def _raw_call(self, operation: Operation, rep: int, series: _Series | None) -> None:
        await operation.prepare_raw(rep)
        with self.raw_commands.window() as window:
            started = time.perf_counter_ns()
            await operation.raw()
            elapsed = time.perf_counter_ns() - started
        await operation.tidy()
        if series is not None:
            series.add(elapsed, window)

    async def run(
        self, operation: Operation, *, reps: int, advance: Advance | None = None
    ) -> OperationResult:
        """One unmeasured warm-up, then `reps` (or the operation's share) measured reps of the
        request and of its raw equivalent, alternating so both see the same conditions.

        `advance` is called with the operation's name after each rep.
        """
        count = operation.reps(reps)
        if operation.share == 1:  # a bulk write is too slow to repeat for a warm-up
            await self._request(operation, -1, None)
            await self._raw_call(operation, -1, None)
        service, raw = _Series(), _Series()
        for rep in range(count):
            await self._request(operation, rep, service)
            await self._raw_call(operation, rep, raw)
            if advance is not None:
                advance(operation.name)
        return _result(operation, service, raw)


def _result(operation: Operation, service: _Series, raw: _Series) -> OperationResult:
    database = [window.database_ms for window in service.windows]
    overhead = [total - db for total, db in zip(service.latency, database, strict=True)]
    trips = max(window.round_trips for window in service.windows)
    counted = Counter(command.label for window in service.windows for command in window.commands)
    latency = Spread.of(service.latency)
    raw_latency = Spread.of(raw.latency)
    service_time = Spread.of(overhead)
    goal: Goal = operation.goal
    return OperationResult(
        name=operation.name,
        route=operation.route,
        reps=len(service.latency),
        latency_ms=latency,
        database_ms=Spread.of(database),
        service_ms=service_time,
        round_trips=trips,
        commands={
            label: round(n / len(service.windows), 2) for label, n in sorted(counted.items())
        },
        raw=RawResult(
            query=operation.raw_query,
            latency_ms=raw_latency,
            round_trips=max(window.round_trips for window in raw.windows),
        ),
        ratio=round(latency.p50 / raw_latency.p50, 2) if raw_latency.p50 > 0 else None,
        target=goal.describe(),
        misses=goal.misses(p95_ms=latency.p95, service_p50_ms=service_time.p50, round_trips=trips),
    )
