"""SIGTERM stops the CLI the way Ctrl-C does: by unwinding, so every `with` block closes."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def unwind_on_sigterm(*, exit_code: int = 0) -> Iterator[None]:
    """Turn SIGTERM into `SystemExit(exit_code)` raised in the main thread while the block runs.

    Python's default for SIGTERM ends the process on the spot, skipping `finally` blocks: the
    embedded engine would never close its SQLite file (committed data left only in the -wal
    file). uvicorn handles SIGTERM itself while serving and, after its graceful shutdown, raises
    the signal again with the handler it found, which is this one, so `jbts serve` unwinds
    through the engine's stop and exits 0, as after any requested, completed shutdown. Work that
    a stop leaves unfinished (`jbts bench`) exits non-zero instead.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(exit_code)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
