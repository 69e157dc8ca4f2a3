"""Which database commands a request sent, and how long they took: PyMongo command monitoring.

The benchmark sends one request at a time, so a command belongs to the request whose window was
open when the command started. Commands sent while no window is open (the benchmark's own
housekeeping on the same client, the client's `endSessions` at close) are counted apart, in
`outside`, so nothing the client sent goes unreported.
"""

from __future__ import annotations

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
    """One command (`find test_cases`) and its duration as the driver measured it."""

    label: str
    micros: int = 0


@dataclass(slots=True)
class Window:
    """The commands started while one request ran."""

    commands: list[Command]

    @property
    def round_trips(self) -> int:
        return len(self.commands)

    @property
    def database_ms(self) -> float:
        return sum(command.micros for command in self.commands) / 1000


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
        command = Command(label=_label(event))
        if self._window is None:
            self.outside[command.label] += 1
            return
        self._window.commands.append(command)
        self._pending[(event.connection_id, event.request_id)] = command

    def _finished(self, event: CommandSucceededEvent | CommandFailedEvent) -> None:
        command = self._pending.pop((event.connection_id, event.request_id), None)
        if command is not None:
            command.micros = event.duration_micros

    def succeeded(self, event: CommandSucceededEvent) -> None:
        self._finished(event)

    def failed(self, event: CommandFailedEvent) -> None:
        self._finished(event)
