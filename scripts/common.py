"""What every command shares: running async work and turning failures into one line.

Building the CLI must stay light: `jbts --help` (and Typer parsing any command line) imports
this module and every command module, so they import the driver, the engine, the settings and
the API only inside the functions that use them. tests/scripts/test_cli.py checks it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from scripts.target import Target, TargetError, database_target

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pymongo.asynchronous.database import AsyncDatabase
    from pymongo.monitoring import CommandListener

    from api.settings import Settings

console = Console()
err_console = Console(stderr=True)


class CommandError(RuntimeError):
    """A failure the operator can act on; its message is the one line the command prints."""


def fail(message: str) -> NoReturn:
    err_console.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def run[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run async work; an expected failure becomes one clear line and exit code 1."""
    from pymongo.errors import PyMongoError

    from api.database.embedded import EmbeddedEngineError
    from api.database.migrations import MigrationError
    from scripts.failures import describe_database_error

    try:
        return asyncio.run(coroutine)
    except (CommandError, TargetError, MigrationError, EmbeddedEngineError) as exc:
        fail(first_line(exc))
    except PyMongoError as exc:  # outside `open_database`, where the target is not known
        fail(describe_database_error(exc, where="the database"))


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def load_settings() -> Settings:
    """The settings; an invalid environment variable is one line and exit code 1."""
    from pydantic import ValidationError

    from api.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        variable = ".".join(str(part) for part in error["loc"]).upper()
        fail(f"invalid {variable}: {error['msg']}")


@contextmanager
def use_target(
    *, data_dir: Path | None, allow_memory: bool = False, create: bool = False
) -> Iterator[Target]:
    """The database a command works on; no database to use is one line and exit code 1.

    Only commands that set a database up (`migrate up`, `serve`) pass `create=True`: any other
    command given a data directory without a database refuses it rather than create one.
    """
    from api.database.embedded import EmbeddedEngineError

    try:
        with database_target(
            load_settings(), data_dir=data_dir, allow_memory=allow_memory, create=create
        ) as target:
            yield target
    except (TargetError, EmbeddedEngineError) as exc:
        fail(first_line(exc))


@asynccontextmanager
async def open_database(
    target: Target, *, command_listeners: Sequence[CommandListener] = ()
) -> AsyncIterator[AsyncDatabase[Any]]:
    """The target's database; any driver failure inside the block becomes a `CommandError`."""
    from pymongo.errors import PyMongoError

    from api.database.connection import open_client
    from scripts.failures import describe_database_error

    try:
        client = open_client(
            target.uri, timeout_ms=target.timeout_ms, command_listeners=command_listeners
        )
    except (PyMongoError, ValueError) as exc:
        # The driver parses the URI here: a bad port, scheme or escaping in MONGODB_URI.
        raise CommandError(f"invalid MONGODB_URI: {first_line(exc)}") from exc
    try:
        yield client[target.db_name]
    except PyMongoError as exc:
        raise CommandError(describe_database_error(exc, where=target.where)) from exc
    finally:
        await client.close()


DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Embedded engine: keep its data in this directory."),
]
