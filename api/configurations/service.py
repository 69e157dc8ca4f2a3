"""Browser configurations and test environments: every query they need."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from beanie import PydanticObjectId

from api.configurations.params import BrowserListParams, EnvironmentListParams
from api.configurations.schemas import (
    BrowserCreate,
    BrowserUpdate,
    EnvironmentCreate,
    EnvironmentUpdate,
    VariableInput,
)
from api.errors import Conflict, InvalidInput
from api.query import RawPage, find_page
from api.query.crud import (
    DuplicateKey,
    delete_or_404,
    ensure_exists,
    get_or_404,
    insert,
    update_fields,
)
from documents.base import utcnow
from documents.configurations import BrowserConfiguration, EnvironmentVariable, TestEnvironment

BROWSER = "browser configuration"
MAX_PROMOTION_ATTEMPTS = 5
ENVIRONMENT = "test environment"


async def check_references(
    *,
    browser_configuration_id: PydanticObjectId | None,
    environment_id: PydanticObjectId | None,
    at: str = "body",
) -> None:
    """The configuration and environment a request names must exist (422 at the field if not)."""
    await ensure_exists(
        BrowserConfiguration,
        browser_configuration_id,
        location=f"{at}.browser_configuration_id",
        label=BROWSER,
    )
    await ensure_exists(
        TestEnvironment, environment_id, location=f"{at}.environment_id", label=ENVIRONMENT
    )


# -- browser configurations ------------------------------------------------------------------


async def _ensure_name_free(name: str, *, except_id: PydanticObjectId | None = None) -> None:
    query: dict[str, object] = {"name": name}
    if except_id is not None:
        query["_id"] = {"$ne": except_id}
    if await BrowserConfiguration.get_pymongo_collection().find_one(query, {"_id": 1}):
        raise Conflict(f"a {BROWSER} with name {name!r} already exists")


async def _demote_defaults(*, except_id: PydanticObjectId | None) -> None:
    """Unset `is_default` everywhere else, so the configuration being written can take it."""
    query: dict[str, object] = {"is_default": True}
    if except_id is not None:
        query["_id"] = {"$ne": except_id}
    await BrowserConfiguration.get_pymongo_collection().update_many(
        query, {"$set": {"is_default": False, "updated_at": utcnow()}}
    )


async def _promote(
    write: Callable[[], Awaitable[BrowserConfiguration]], *, except_id: PydanticObjectId | None
) -> BrowserConfiguration:
    """Demote the current default, then `write` the new one.

    The partial unique index on `is_default: true` guarantees at most one default. When another
    client promotes a configuration between the two writes, the index refuses this one and the
    promotion runs again, so concurrent promotions all succeed and the last one wins.
    """
    for _ in range(MAX_PROMOTION_ATTEMPTS):
        await _demote_defaults(except_id=except_id)
        try:
            return await write()
        except DuplicateKey as exc:
            if "is_default" not in exc.keys:
                raise
    raise Conflict(f"other {BROWSER}s kept becoming the default meanwhile: retry")


async def create_browser(*, data: BrowserCreate) -> BrowserConfiguration:
    """Insert; a new default demotes the old one.

    The name is checked first, so a duplicate name never demotes the current default for nothing.
    """
    if not data.is_default:
        return await insert(BrowserConfiguration(**data.model_dump()), label=BROWSER)
    await _ensure_name_free(data.name)

    async def write() -> BrowserConfiguration:
        # A new document each attempt: a refused insert has already given the last one an id.
        return await insert(BrowserConfiguration(**data.model_dump()), label=BROWSER)

    return await _promote(write, except_id=None)


async def get_browser(*, id: PydanticObjectId) -> BrowserConfiguration:
    return await get_or_404(BrowserConfiguration, id, label=BROWSER)


async def list_browsers(*, params: BrowserListParams) -> RawPage:
    return await find_page(BrowserConfiguration, params)


async def update_browser(*, id: PydanticObjectId, data: BrowserUpdate) -> BrowserConfiguration:
    changes = data.changes()
    if not changes.get("is_default"):
        return await update_fields(BrowserConfiguration, id, changes, label=BROWSER)
    await get_browser(id=id)
    if "name" in changes:
        await _ensure_name_free(changes["name"], except_id=id)

    async def write() -> BrowserConfiguration:
        return await update_fields(BrowserConfiguration, id, changes, label=BROWSER)

    return await _promote(write, except_id=id)


async def delete_browser(*, id: PydanticObjectId) -> None:
    await delete_or_404(BrowserConfiguration, id, label=BROWSER)


# -- test environments -----------------------------------------------------------------------


def _stored_variables(
    sent: list[VariableInput], existing: list[EnvironmentVariable]
) -> list[EnvironmentVariable]:
    """The variables to store: a secret sent without a value keeps the value it had."""
    kept = {variable.name: variable for variable in existing if variable.secret}
    stored: list[EnvironmentVariable] = []
    for index, variable in enumerate(sent):
        value = variable.value
        if value is None:
            previous = kept.get(variable.name)
            if not variable.secret or previous is None:
                raise InvalidInput.at(
                    f"body.variables.{index}.value",
                    f"variable {variable.name} needs a value (only an existing secret may "
                    "omit it to keep its value)",
                )
            value = previous.value
        stored.append(EnvironmentVariable(name=variable.name, value=value, secret=variable.secret))
    return stored


async def create_environment(*, data: EnvironmentCreate) -> TestEnvironment:
    variables = _stored_variables(data.variables, [])
    environment = TestEnvironment(**data.model_dump(exclude={"variables"}), variables=variables)
    return await insert(environment, label=ENVIRONMENT)


async def get_environment(*, id: PydanticObjectId) -> TestEnvironment:
    return await get_or_404(TestEnvironment, id, label=ENVIRONMENT)


async def list_environments(*, params: EnvironmentListParams) -> RawPage:
    return await find_page(TestEnvironment, params)


async def update_environment(*, id: PydanticObjectId, data: EnvironmentUpdate) -> TestEnvironment:
    changes = data.changes()
    if data.variables is not None:
        current = await get_environment(id=id)
        changes["variables"] = [
            variable.model_dump()
            for variable in _stored_variables(data.variables, current.variables)
        ]
    return await update_fields(TestEnvironment, id, changes, label=ENVIRONMENT)


async def delete_environment(*, id: PydanticObjectId) -> None:
    await delete_or_404(TestEnvironment, id, label=ENVIRONMENT)
