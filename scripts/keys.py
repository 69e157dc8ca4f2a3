"""`jbts keys create|list|revoke`: API keys, from the command line.

A key's secret is printed once, by `create`; the database keeps only its SHA-256
(`api.auth.keys`). `serve` creates a first admin key the same way (`first_admin_key`).
"""

from __future__ import annotations

import getpass
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from scripts.common import (
    CommandError,
    DataDirOption,
    console,
    fail,
    load_settings,
    open_database,
    run,
    use_target,
)

if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any

    from pymongo.asynchronous.database import AsyncDatabase

    from api.auth.keys import CreatedKey
    from documents.keys import ApiKey, Scope
    from scripts.target import Target

# The documents, the key service and the driver are imported inside the functions: see common.py.

app = typer.Typer(
    help="API keys: create one (its secret is shown once), list them, revoke one.",
    no_args_is_help=True,
)

SCOPE_NAMES = (
    "definitions:read",
    "definitions:write",
    "results:read",
    "results:write",
    "config:read",
    "config:write",
    "secrets:read",
    "admin",
)
"""`documents.keys.Scope`'s values, here so that `--help` needs no import of the documents."""
NAME_MAX = 100
_DURATION = re.compile(r"(?P<amount>[0-9]{1,5})(?P<unit>[hdwy])")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
MAX_LIFETIME = timedelta(days=3650)
DURATION_HELP = "a number and a unit: h (hours), d (days), w (weeks) or y (365 days), e.g. 90d"
FIRST_ADMIN_NAME = "admin"


def parse_duration(text: str) -> timedelta:
    """`90d` -> 90 days; anything else is a `ValueError` that says what is expected."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"invalid --expires {text!r}: give {DURATION_HELP}")
    amount, unit = int(match["amount"]), match["unit"]
    duration = amount * (_UNITS[unit] if unit != "y" else timedelta(days=365))
    if not timedelta(0) < duration <= MAX_LIFETIME:
        raise ValueError(f"invalid --expires {text!r}: give a lifetime from 1h to 10y")
    return duration


def parse_scopes(text: str) -> list[Scope]:
    """`results:write,definitions:read` -> scopes; an unknown or missing one is a `ValueError`."""
    from documents.keys import Scope

    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError(f"--scopes is empty: give one or more of {', '.join(SCOPE_NAMES)}")
    for name in names:
        if name not in SCOPE_NAMES:
            raise ValueError(f"unknown scope {name!r}: choose from {', '.join(SCOPE_NAMES)}")
    return [Scope(name) for name in dict.fromkeys(names)]


def check_name(text: str) -> str:
    name = text.strip()
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise ValueError(f"invalid --name: give 1 to {NAME_MAX} printable characters")
    return name


def operator() -> str:
    """Who runs this command, for the key's `created_by`."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "cli:unknown"


async def keys_ready(db: AsyncDatabase[Any], *, migrate: bool) -> None:
    """Bind the documents to `db`, once it has the `api_keys` collection.

    The embedded engine is ours to migrate (as `serve` and `seed` do); MongoDB is migrated by
    the operator, so one without the keys migration is one line saying what to run.
    """
    from api.database import migrations
    from api.database.connection import bind_documents
    from migrations.m0010_api_keys import VERSION as KEYS_VERSION

    if migrate:
        await migrations.up(db)
    elif KEYS_VERSION not in await migrations.applied_versions(db):
        raise CommandError(
            "the database has no API keys collection yet: run `jbts migrate up` first"
        )
    await bind_documents(db)


async def _create(
    target: Target,
    *,
    migrate: bool,
    name: str,
    scopes: list[Scope],
    expires_in: timedelta | None,
) -> CreatedKey:
    from api.auth.keys import create_key
    from api.errors import ProblemError
    from documents.base import utcnow

    async with open_database(target) as db:
        await keys_ready(db, migrate=migrate)
        try:
            return await create_key(
                name=name,
                scopes=scopes,
                created_by=operator(),
                expires_at=utcnow() + expires_in if expires_in is not None else None,
            )
        except ProblemError as exc:
            raise CommandError(exc.detail) from exc


async def _list(target: Target, *, migrate: bool) -> list[ApiKey]:
    from api.auth.keys import list_keys

    async with open_database(target) as db:
        await keys_ready(db, migrate=migrate)
        return await list_keys()


async def _revoke(target: Target, *, migrate: bool, reference: str) -> tuple[ApiKey, bool]:
    """The key, and whether it was already revoked."""
    from api.auth.keys import find_by_name_or_id, revoke_key
    from api.errors import ProblemError

    async with open_database(target) as db:
        await keys_ready(db, migrate=migrate)
        try:
            key = await find_by_name_or_id(reference)
        except ProblemError as exc:
            raise CommandError(exc.detail) from exc
        was_revoked = key.revoked_at is not None
        return await revoke_key(key), was_revoked


async def first_admin_key(*, created_by: str) -> CreatedKey | None:
    """An admin key when no usable key exists (`serve`'s first start), else None.

    Named `admin`, or `admin-2`, `admin-3`... when a revoked or expired key holds the name.
    Documents must be bound (`keys_ready`).
    """
    from api.auth.keys import any_key, create_key
    from api.errors import Conflict
    from documents.keys import Scope

    if await any_key():
        return None
    for n in range(1, 1000):
        name = FIRST_ADMIN_NAME if n == 1 else f"{FIRST_ADMIN_NAME}-{n}"
        try:
            return await create_key(name=name, scopes=[Scope.ADMIN], created_by=created_by)
        except Conflict:
            continue
    raise CommandError("could not name the first admin key: revoke or delete old admin keys")


def print_secret(created: CreatedKey) -> None:
    """The secret, alone on its line (easy to copy or `grep '^jbts_'`), and what to do with it."""
    console.print(created.secret, markup=False, highlight=False, soft_wrap=True)
    console.print(
        "Store it now: it cannot be shown again (only its hash is stored). Send it as "
        "`Authorization: Bearer <key>` or `X-API-Key: <key>`.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _when(moment: datetime | None, *, none: str) -> str:
    if moment is None:
        return none
    return moment.strftime("%Y-%m-%d %H:%M")


def status_of(key: ApiKey, *, now: datetime) -> str:
    from api.auth.keys import usable

    if key.revoked_at is not None:
        return "revoked"
    return "active" if usable(key, now=now) else "expired"


def _migrate_embedded() -> bool:
    # As `serve` and `seed`: the embedded engine is ours to migrate, MongoDB's is not.
    return not load_settings().mongodb_uri


NameOption = Annotated[str, typer.Option("--name", help="A name for the key (unique).")]
ScopesOption = Annotated[
    str,
    typer.Option(
        "--scopes",
        help=f"Comma-separated scopes: {', '.join(SCOPE_NAMES)}. A write scope includes its "
        "read; admin includes every scope.",
    ),
]
ExpiresOption = Annotated[
    str | None,
    typer.Option("--expires", help=f"Lifetime ({DURATION_HELP}). Default: never expires."),
]


@app.command()
def create(
    name: NameOption,
    scopes: ScopesOption,
    expires: ExpiresOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create a key and print it once: only its hash is stored."""
    try:
        checked_name = check_name(name)
        chosen = parse_scopes(scopes)
        expires_in = parse_duration(expires) if expires is not None else None
    except ValueError as exc:
        fail(str(exc))
    settings = load_settings()
    if not settings.mongodb_uri and (data_dir or settings.data_dir) is None:
        fail(
            "without MONGODB_URI or --data-dir the embedded engine keeps data in memory, and "
            "the key would vanish when this command exits: pass --data-dir (the one `jbts "
            "serve` uses) or set MONGODB_URI"
        )
    with use_target(data_dir=data_dir, create=True) as target:
        created = run(
            _create(
                target,
                migrate=_migrate_embedded(),
                name=checked_name,
                scopes=chosen,
                expires_in=expires_in,
            )
        )
    key = created.key
    expires_text = "never" if key.expires_at is None else f"{_when(key.expires_at, none='')} UTC"
    console.print(
        f"Created API key {key.name!r} (id {key.id}) with scopes "
        f"{', '.join(key.scopes)}; expires {expires_text}.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    print_secret(created)


@app.command("list")
def list_(data_dir: DataDirOption = None) -> None:
    """Every key: name, prefix, scopes, dates and status (never a secret or a hash)."""
    from rich.table import Table

    from documents.base import utcnow

    with use_target(data_dir=data_dir) as target:
        keys = run(_list(target, migrate=_migrate_embedded()))
    if not keys:
        console.print(
            "No API keys. Create one with: jbts keys create --name NAME --scopes SCOPES",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return
    now = utcnow()
    table = Table(title="API keys (times in UTC)")
    for column in ("id", "name", "prefix", "scopes", "created", "last used", "expires", "status"):
        table.add_column(column, no_wrap=column in {"id", "prefix", "status"})
    for key in keys:
        table.add_row(
            str(key.id),
            key.name,
            f"{key.prefix}…",
            ", ".join(key.scopes),
            _when(key.created_at, none="-"),
            _when(key.last_used_at, none="never"),
            _when(key.expires_at, none="never"),
            status_of(key, now=now),
        )
    console.print(table)


@app.command()
def revoke(
    key: Annotated[str, typer.Argument(help="The key's name or id.", show_default=False)],
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a key: requests with it are refused from then on."""
    with use_target(data_dir=data_dir) as target:
        revoked, was_revoked = run(_revoke(target, migrate=_migrate_embedded(), reference=key))
    if was_revoked:
        message = (
            f"API key {revoked.name!r} (id {revoked.id}) was already revoked "
            f"({_when(revoked.revoked_at, none='-')} UTC)."
        )
    else:
        message = f"Revoked API key {revoked.name!r} (id {revoked.id}): it is refused from now on."
    console.print(message, markup=False, highlight=False, soft_wrap=True)
