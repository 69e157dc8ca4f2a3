"""Which database commands a request sent, and how long they took: PyMongo command monitoring.

The benchmark sends one request at a time, so a command belongs to the request whose window was
open when the command started. A request's time in the database is the time during which at
least one of its commands was in flight (commands sent concurrently overlap: their durations are
not added). Commands sent while no window is open (the benchmark's own
housekeeping on the same client, the client's `endSessions` at close) are counted apart, in
`outside`, so nothing the client sent goes unreported.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)


@dataclass(slots=True)
class Command:
    """One command (`find test_cases`): its duration as the driver measured it, and when it was
    sent and answered (`perf_counter_ns`)."""

    label: str
    micros: int = 0
    sent_ns: int = 0
    answered_ns: int | None = None


@dataclass(slots=True)
class Window:
    """The commands started while one request ran."""

    commands: list[Command]

    @property
    def round_trips(self) -> int:
        return len(self.commands)

    @property
    def database_ms(self) -> float:
        """How long at least one command was in flight (the union of their intervals)."""
        spans = sorted(
            (command.sent_ns, command.answered_ns or command.sent_ns + command.micros * 1000)
            for command in self.commands
        )
        total = 0
        start, end = None, 0
        for sent, answered in spans:
            if start is None or sent > end:
                if start is not None:
                    total += end - start
                start, end = sent, answered
            else:
                end = max(end, answered)
        if start is not None:
            total += end - start
        return total / 1_000_000


def _label(event: CommandStartedEvent) -> str:
    """`<command> <collection>` (`find test_cases`), or the command alone (`ping`)."""
    name = event.command_name
    target = event.command.get("collection") if name == "getMore" else event.command.get(name)
    return f"{name} {target}" if isinstance(target, str) else name


class CommandRecorder(CommandListener):
    """Give it to a client (`command_listeners=[recorder]`); measure in `with recorder.window()`."""

    def __init__(self) -> None:
        self._window: Window | None = None
        self._pending: dict[tuple[object, int], Command] = {}
        self.outside: Counter[str] = Counter()

    @contextmanager
    def window(self) -> Iterator[Window]:
        window = Window(commands=[])
        self._window = window
        try:
            yield window
        finally:
            self._window = None

    def started(self, event: CommandStartedEvent) -> None:
        command = Command(label=_label(event), sent_ns=time.perf_counter_ns())
        if self._window is None:
            self.outside[command.label] += 1
            return
        self._window.commands.append(command)
        self._pending[(event.connection_id, event.request_id)] = command

    def _finished(self, event: CommandSucceededEvent | CommandFailedEvent) -> None:
        command = self._pending.pop((event.connection_id, event.request_id), None)
        if command is not None:
            command.micros = event.duration_micros
            command.answered_ns = time.perf_counter_ns()

    def succeeded(self, event: CommandSucceededEvent) -> None:
        self._finished(event)

    def failed(self, event: CommandFailedEvent) -> None:
        self._finished(event)
