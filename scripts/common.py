"""What every command shares: running async work and turning failures into one line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from rich.console import Console

from api.database.connection import open_client
from api.database.embedded import EmbeddedEngineError
from api.database.migrations import MigrationError
from api.settings import Settings, get_settings
from scripts.target import Target, TargetError, database_target

console = Console()
err_console = Console(stderr=True)

EXPECTED_ERRORS = (TargetError, MigrationError, EmbeddedEngineError, PyMongoError)


def fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def run[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run async work; an expected failure becomes one clear line and exit code 1."""
    try:
        return asyncio.run(coroutine)
    except EXPECTED_ERRORS as exc:
        fail(_first_line(exc))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def load_settings() -> Settings:
    """The settings; an invalid environment variable is one line and exit code 1."""
    try:
        return get_settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        variable = ".".join(str(part) for part in error["loc"]).upper()
        fail(f"invalid {variable}: {error['msg']}")


@contextmanager
def use_target(*, data_dir: Path | None, allow_memory: bool = False) -> Iterator[Target]:
    """The database a command works on; no database to use is one line and exit code 1."""
    try:
        with database_target(load_settings(), data_dir=data_dir, allow_memory=allow_memory) as t:
            yield t
    except (TargetError, EmbeddedEngineError) as exc:
        fail(_first_line(exc))


@asynccontextmanager
async def open_database(target: Target) -> AsyncIterator[AsyncDatabase[Any]]:
    client = open_client(target.uri, timeout_ms=target.timeout_ms)
    try:
        yield client[target.db_name]
    finally:
        await client.close()


DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Embedded engine: keep its data in this directory."),
]
