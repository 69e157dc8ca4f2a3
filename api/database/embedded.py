"""The embedded MongoDB-compatible engine (mongoeco's wire server).

It runs on its own event loop in a daemon thread, so the application, uvicorn and pytest all talk
to it exactly as they would to a remote mongod: through PyMongo over a loopback socket. This is the
only place in the project that knows the engine exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

SQLITE_FILENAME = "jbtestsuite.sqlite3"
# How long a stop waits for the engine to finish what it is doing and close its file. A bound on
# a hang, not an expectation: a write in progress on a loaded machine can take many seconds.
STOP_TIMEOUT = 60.0


class EmbeddedEngineError(RuntimeError):
    """The embedded engine could not be started."""


@dataclass(frozen=True, slots=True)
class EmbeddedEngineInfo:
    uri: str
    storage: str  # "memory" or the SQLite file path

    def describe(self) -> str:
        where = "in memory" if self.storage == "memory" else f"in {self.storage}"
        return f"embedded engine (mongoeco) at {self.uri}, data {where}"


class EmbeddedEngine:
    """Start with `with EmbeddedEngine(data_dir=...) as engine: engine.info.uri`."""

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        create: bool = True,
    ) -> None:
        """`create=False`: a `data_dir` without a database is an error, and nothing is created."""
        self._data_dir = data_dir
        self._create = create
        self._host = host
        self._port = port  # 0: any free port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._info: EmbeddedEngineInfo | None = None
        self._error: BaseException | None = None

    @property
    def info(self) -> EmbeddedEngineInfo:
        if self._info is None:
            raise EmbeddedEngineError("the embedded engine is not running")
        return self._info

    def start(self) -> EmbeddedEngineInfo:
        if self._info is not None:
            return self._info
        if self._data_dir is not None:
            self._prepare_data_dir(self._data_dir)
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="mongoeco-engine", daemon=True
        )
        self._thread.start()
        try:
            ready.wait()
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM) while starting: still close the file cleanly.
            self.stop()
            raise
        if self._error is not None:
            raise EmbeddedEngineError(f"embedded engine failed to start: {self._error}")
        return self.info

    def stop(self) -> None:
        started = self._info is not None
        if self._loop is not None and self._stop is not None:
            # The loop is already closed when the engine failed to start or was stopped before.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT)
            if started and self._data_dir is not None:
                _checkpoint(self._data_dir / SQLITE_FILENAME)
        self._info = None
        self._thread = None

    def _prepare_data_dir(self, data_dir: Path) -> None:
        if not self._create:
            if not (data_dir / SQLITE_FILENAME).is_file():
                # A read-only command given a mistyped path must not leave an empty database.
                raise EmbeddedEngineError(
                    f"no database ({SQLITE_FILENAME}) in {data_dir}: check the path, or create "
                    "one there with `jbts migrate up`"
                )
            return
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbeddedEngineError(
                f"cannot use data directory {data_dir}: {exc.strerror}"
            ) from exc

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve(ready))
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
        finally:
            ready.set()
            self._loop.close()

    async def _serve(self, ready: threading.Event) -> None:
        # Imported here, in the engine's thread: mongoeco takes a second or more to import, and
        # the CLI reports errors such as a missing data directory without paying for it.
        from mongoeco.engines import MemoryEngine, SQLiteEngine
        from mongoeco.wire import AsyncMongoEcoProxyServer

        self._stop = asyncio.Event()
        if self._data_dir is None:
            engine: MemoryEngine | SQLiteEngine = MemoryEngine()
            storage = "memory"
        else:
            path = (self._data_dir / SQLITE_FILENAME).resolve()
            engine = SQLiteEngine(str(path))
            storage = str(path)
        server = AsyncMongoEcoProxyServer(engine=engine, host=self._host, port=self._port)
        await server.start()
        try:
            self._info = EmbeddedEngineInfo(uri=server.address.uri, storage=storage)
            ready.set()
            await self._stop.wait()
        finally:
            await server.close()


def _checkpoint(path: Path) -> None:
    """Fold the write-ahead log into the database file, so that file alone is the database.

    mongoeco's SQLite engine runs in WAL mode: until a checkpoint, committed writes may live only
    in `<file>-wal`, and a copy of the `.sqlite3` file would miss them. The engine checkpoints when
    it closes its connection on a clean stop; doing it here as well makes the directory complete
    even when the engine did not get that far. Closing the last connection removes the -wal and
    -shm files.
    """
    if not path.is_file():
        return
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=STOP_TIMEOUT)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise EmbeddedEngineError(f"cannot checkpoint {path}: {exc}") from exc
