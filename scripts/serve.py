"""`jbts serve`: the API, on MongoDB or on the embedded engine."""

from __future__ import annotations

import ipaddress
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
    from api.auth.keys import CreatedKey
    from api.settings import AuthMode
    from scripts.target import Target

# uvicorn, the API and the migration runner are imported inside the command: see common.py.

FIRST_KEY_BY = "serve:first-start"


class AuthRefused(ValueError):
    """`off` where anyone beyond this machine could reach the API."""


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def resolve_auth(
    configured: AuthMode | None, *, embedded: bool, host: str, insecure: bool
) -> AuthMode:
    """JBTS_AUTH when set; else `off` on the embedded engine bound to loopback (a first try),
    `required` everywhere else. `off` beyond loopback needs `--insecure`."""
    from api.settings import AuthMode

    loopback = is_loopback(host)
    mode = configured or (AuthMode.OFF if embedded and loopback else AuthMode.REQUIRED)
    if mode is AuthMode.OFF and not loopback and not insecure:
        raise AuthRefused(
            f"JBTS_AUTH=off on {host} would let anyone who can reach it read and write: set "
            "JBTS_AUTH=required, listen on 127.0.0.1, or pass --insecure"
        )
    return mode


def auth_line(mode: AuthMode, *, host: str, port: int) -> str:
    from api.settings import AuthMode

    if mode is AuthMode.REQUIRED:
        return "Auth: required (API keys: `Authorization: Bearer <key>` or `X-API-Key: <key>`)"
    return (
        f"Auth: off (no API keys): anyone who can reach {host}:{port} can read and write; "
        "set JBTS_AUTH=required to need keys"
    )


async def _prepare(target: Target, *, migrate: bool, first_key: bool) -> CreatedKey | None:
    """Fail fast on an unreachable database; bring the embedded engine's schema up to date;
    with `first_key`, create an admin key when no usable key exists (and return it)."""
    from api.database import migrations
    from migrations.m0010_api_keys import VERSION as KEYS_VERSION
    from scripts.keys import first_admin_key, keys_ready

    async with open_database(target) as db:
        await db.client.admin.command("ping")
        if migrate:
            await migrations.up(db)
        # On an unmigrated MongoDB there is no keys collection to write to: the API answers
        # 503 until `jbts migrate up`, and the next start creates the key.
        if not first_key or KEYS_VERSION not in await migrations.applied_versions(db):
            return None
        await keys_ready(db, migrate=False)
        return await first_admin_key(created_by=FIRST_KEY_BY)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    data_dir: DataDirOption = None,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="Allow JBTS_AUTH=off on an address other than loopback."),
    ] = False,
) -> None:
    """Serve the API. Without MONGODB_URI, on the embedded engine (in memory, or --data-dir).

    Auth: JBTS_AUTH (required or off). Unset: off on the embedded engine bound to a loopback
    address, required otherwise. On first start with `required` and no usable key, an admin key
    is created and printed once.
    """
    from api.settings import AuthMode

    settings = load_settings()
    try:
        mode = resolve_auth(
            settings.auth, embedded=not settings.mongodb_uri, host=host, insecure=insecure
        )
    except AuthRefused as exc:
        fail(str(exc))
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
        first_key = run(
            _prepare(
                target,
                migrate=not settings.mongodb_uri,
                first_key=mode is AuthMode.REQUIRED,
            )
        )
        app = create_app(settings.model_copy(update={"mongodb_uri": target.uri, "auth": mode}))
        console.print(
            f"Using {target.description}; API docs at http://{host}:{port}/docs",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            auth_line(mode, host=host, port=port), markup=False, highlight=False, soft_wrap=True
        )
        if first_key is not None:
            _announce(first_key)
        serve_app(app, settings=settings, host=host, port=port)


def _announce(created: CreatedKey) -> None:
    """The first admin key, once: the operator's way in (and to `POST /api/v1/keys`)."""
    from scripts.keys import print_secret

    console.print(
        f"No API key existed: created the admin key {created.key.name!r} "
        f"(id {created.key.id}, scope admin). Its secret follows:",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    print_secret(created)
    console.print(
        "Create narrower keys for runners with `jbts keys create` (or POST /api/v1/keys), and "
        f"revoke this one once you have them: `jbts keys revoke {created.key.name}`.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
