"""`jbts serve`: the API, on MongoDB or on the embedded engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from scripts.common import (
    DataDirOption,
    console,
    fail,
    load_settings,
    open_database,
    run,
    use_target,
)
from scripts.ports import PortError, check_can_listen
from scripts.signals import unwind_on_sigterm

if TYPE_CHECKING:
    from scripts.target import Target

# uvicorn, the API and the migration runner are imported inside the command: see common.py.


async def _prepare(target: Target, *, migrate: bool) -> None:
    """Fail fast on an unreachable database; bring the embedded engine's schema up to date."""
    from api.database import migrations

    async with open_database(target) as db:
        await db.client.admin.command("ping")
        if migrate:
            await migrations.up(db)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    data_dir: DataDirOption = None,
) -> None:
    """Serve the API. Without MONGODB_URI, on the embedded engine (in memory, or --data-dir)."""
    settings = load_settings()
    try:
        check_can_listen(host, port)
    except PortError as exc:
        fail(str(exc))
    from api.main import create_app
    from api.server import serve as serve_app

    # SIGTERM unwinds through `use_target`, so the embedded engine closes its SQLite file.
    with (
        unwind_on_sigterm(),
        use_target(data_dir=data_dir, allow_memory=True, create=True) as target,
    ):
        # The embedded engine is ours to manage; on MongoDB migrations are an explicit step.
        run(_prepare(target, migrate=not settings.mongodb_uri))
        app = create_app(settings.model_copy(update={"mongodb_uri": target.uri}))
        console.print(
            f"Using {target.description}; API docs at http://{host}:{port}/docs",
            highlight=False,
            soft_wrap=True,
        )
        serve_app(app, settings=settings, host=host, port=port)
