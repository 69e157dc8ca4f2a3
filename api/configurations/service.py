"""Browser configurations and test environments: every query they need."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from beanie import PydanticObjectId

from api.configurations.params import BrowserListParams, EnvironmentListParams
from api.configurations.schemas import (
    BrowserCreate,
    BrowserUpdate,
    EnvironmentCreate,
    EnvironmentUpdate,
    ReferencedProblem,
    ReferenceItem,
    References,
    VariableInput,
)
from api.errors import Conflict, InvalidInput, NotFound, Problem
from api.limits import MAX_LIST_BYTES, list_size, list_too_large
from api.query import RawPage, find_page
from api.query.crud import (
    DuplicateKey,
    IfMatch,
    KnownIds,
    bump,
    check_if_match,
    conditional_filter,
    delete_or_404,
    ensure_exists,
    get_or_404,
    insert,
    update_fields,
    why_unchanged,
)
from documents.base import VersionedDocument
from documents.configurations import BrowserConfiguration, EnvironmentVariable, TestEnvironment
from documents.executions import TestRun
from documents.test_defs import TestCase, TestSuite

BROWSER = "browser configuration"
ENVIRONMENT = "test environment"

# A promotion is retried only when another one landed meanwhile, and each request lands once:
# with N concurrent promotions none retries more than N times. This bound is far beyond honest
# contention; the random back-off only spares round trips while many collide.
MAX_PROMOTION_ATTEMPTS = 100
PROMOTION_BACKOFF_SECONDS = 0.002
MAX_PROMOTION_BACKOFF_SECONDS = 0.1


async def check_references(
    *,
    browser_configuration_id: PydanticObjectId | None,
    environment_id: PydanticObjectId | None,
    at: str = "body",
    known: KnownIds | None = None,
) -> None:
    """The configuration and environment a request names must exist (422 at the field if not)."""
    await ensure_exists(
        BrowserConfiguration,
        browser_configuration_id,
        location=f"{at}.browser_configuration_id",
        label=BROWSER,
        known=known,
    )
    await ensure_exists(
        TestEnvironment,
        environment_id,
        location=f"{at}.environment_id",
        label=ENVIRONMENT,
        known=known,
    )


# -- browser configurations ------------------------------------------------------------------


async def _ensure_name_free(name: str, *, except_id: PydanticObjectId | None = None) -> None:
    query: dict[str, object] = {"name": name}
    if except_id is not None:
        query["_id"] = {"$ne": except_id}
    if await BrowserConfiguration.get_pymongo_collection().find_one(query, {"_id": 1}):
        raise Conflict(f"a {BROWSER} with name {name!r} already exists")


async def _demote_defaults(*, except_id: PydanticObjectId | None) -> None:
    """Unset `is_default` everywhere else (a change of each: its revision grows)."""
    query: dict[str, object] = {"is_default": True}
    if except_id is not None:
        query["_id"] = {"$ne": except_id}
    await BrowserConfiguration.get_pymongo_collection().update_many(
        query, bump(BrowserConfiguration, {"is_default": False})
    )


async def _promote(
    write: Callable[[], Awaitable[BrowserConfiguration]], *, except_id: PydanticObjectId | None
) -> BrowserConfiguration:
    """`write` the new default; while the database holds another one, demote it and write again.

    The partial unique index on `is_default: true` guarantees at most one default. Writing first
    means a write refused for another reason (a taken name, a stale `If-Match`) demotes nothing.
    When another client promotes a configuration between the demotion and the write, the index
    refuses this write and it runs again: every promotion lands, the last one wins.
    """
    for attempt in range(MAX_PROMOTION_ATTEMPTS):
        try:
            return await write()
        except DuplicateKey as exc:
            if "is_default" not in exc.keys:
                raise
        if attempt:
            ceiling = min(PROMOTION_BACKOFF_SECONDS * 2**attempt, MAX_PROMOTION_BACKOFF_SECONDS)
            await asyncio.sleep(random.uniform(0, ceiling))  # noqa: S311 (jitter, not a secret)
        await _demote_defaults(except_id=except_id)
    raise Conflict(f"other {BROWSER}s kept becoming the default meanwhile: retry")


async def create_browser(*, data: BrowserCreate) -> BrowserConfiguration:
    """Insert; a new default demotes the old one."""
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


async def update_browser(
    *, id: PydanticObjectId, data: BrowserUpdate, if_match: IfMatch
) -> BrowserConfiguration:
    changes = data.changes()

    async def write() -> BrowserConfiguration:
        return await update_fields(
            BrowserConfiguration, id, changes, label=BROWSER, if_match=if_match
        )

    if not changes.get("is_default"):
        return await write()
    if "name" in changes:
        await _ensure_name_free(changes["name"], except_id=id)
    return await _promote(write, except_id=id)


async def delete_browser(*, id: PydanticObjectId, if_match: IfMatch, force: bool) -> None:
    await _delete_referenced(
        BrowserConfiguration,
        id,
        field="browser_configuration_id",
        label=BROWSER,
        if_match=if_match,
        force=force,
    )


# -- references --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Referrer:
    kind: str
    plural: str
    document: type[VersionedDocument]


# What may reference a configuration or an environment, by `browser_configuration_id` or
# `environment_id` (each indexed in each of these collections).
_REFERRERS = (
    _Referrer("test_case", "test cases", TestCase),
    _Referrer("test_suite", "test suites", TestSuite),
    _Referrer("test_run", "test runs", TestRun),
)
SHOWN_REFERENCES = 5


class StillReferenced(Conflict):
    """409: deleting this would leave references dangling; the problem lists a few of them."""

    def __init__(self, detail: str, *, references: Sequence[References]) -> None:
        super().__init__(detail)
        self.references = list(references)

    def to_problem(self, instance: str | None = None) -> Problem:
        problem = super().to_problem(instance)
        return ReferencedProblem(**problem.model_dump(), references=self.references)


async def _references(field: str, id: PydanticObjectId) -> list[References]:
    """Per kind of referrer: how many reference `id`, and the first few of them."""
    found: list[References] = []
    for referrer in _REFERRERS:
        collection = referrer.document.get_pymongo_collection()
        cursor = collection.find({field: id}, {"name": 1}).sort("_id", 1).limit(SHOWN_REFERENCES)
        items = [ReferenceItem(id=doc["_id"], name=doc.get("name", "")) async for doc in cursor]
        if not items:
            continue
        count = len(items)
        if count == SHOWN_REFERENCES:
            count = await collection.count_documents({field: id})
        found.append(References(kind=referrer.kind, count=count, items=items))
    return found


def _describe(references: Sequence[References]) -> str:
    plural = {referrer.kind: referrer.plural for referrer in _REFERRERS}
    parts = [
        f"{item.count} {plural[item.kind] if item.count > 1 else plural[item.kind][:-1]}"
        for item in references
    ]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


async def _delete_referenced(
    document: type[VersionedDocument],
    id: PydanticObjectId,
    *,
    field: str,
    label: str,
    if_match: IfMatch,
    force: bool,
) -> None:
    """Delete a configuration or environment that nothing references, or (`force`) after
    clearing every reference to it.

    The references are cleared first, each referrer in one atomic write that also counts as a
    change of it (version +1): an interruption leaves references cleared and the document still
    there, never a dangling id. Runs keep their snapshot of what they used; only the id goes.
    """
    query = conditional_filter(document, id, if_match)
    if await document.get_pymongo_collection().find_one(query, {"_id": 1}) is None:
        raise await why_unchanged(document, id, if_match, label=label) or NotFound(
            f"{label} {id} does not exist"
        )
    references = await _references(field, id)
    if references and not force:
        raise StillReferenced(
            f"{label} {id} is still referenced by {_describe(references)}: change those, or "
            "delete with ?force=true to clear their references too",
            references=references,
        )
    for referrer in _REFERRERS if references else ():
        await referrer.document.get_pymongo_collection().update_many(
            {field: id}, bump(referrer.document, {field: None})
        )
    await delete_or_404(document, id, label=label, if_match=if_match)


# -- test environments -----------------------------------------------------------------------


def _stored_variables(
    sent: Sequence[VariableInput], existing: list[EnvironmentVariable]
) -> list[EnvironmentVariable]:
    """The variables to store: a secret sent without a value keeps the value it had.

    Together they take at most `MAX_LIST_BYTES` as stored (500 of the longest would take 20 MB).
    """
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
    size = list_size("variables", [variable.model_dump() for variable in stored])
    if size > MAX_LIST_BYTES:
        raise InvalidInput.at("body.variables", list_too_large("the variables", size))
    return stored


async def create_environment(*, data: EnvironmentCreate) -> TestEnvironment:
    variables = _stored_variables(data.variables, [])
    environment = TestEnvironment(**data.model_dump(exclude={"variables"}), variables=variables)
    return await insert(environment, label=ENVIRONMENT)


async def get_environment(*, id: PydanticObjectId) -> TestEnvironment:
    return await get_or_404(TestEnvironment, id, label=ENVIRONMENT)


async def list_environments(*, params: EnvironmentListParams) -> RawPage:
    return await find_page(TestEnvironment, params)


async def update_environment(
    *, id: PydanticObjectId, data: EnvironmentUpdate, if_match: IfMatch
) -> TestEnvironment:
    """Change the fields sent. Variables keep secrets from the version read, and apply only
    while that is still the stored version (409 if another change came first)."""
    changes = data.changes()
    guard: dict[str, object] | None = None
    if data.variables is not None:
        current = await get_environment(id=id)
        check_if_match(current, if_match, label=ENVIRONMENT)
        changes["variables"] = [
            variable.model_dump()
            for variable in _stored_variables(data.variables, current.variables)
        ]
        guard = {"version": current.version}
    return await update_fields(
        TestEnvironment, id, changes, label=ENVIRONMENT, if_match=if_match, guard=guard
    )


async def delete_environment(*, id: PydanticObjectId, if_match: IfMatch, force: bool) -> None:
    await _delete_referenced(
        TestEnvironment,
        id,
        field="environment_id",
        label=ENVIRONMENT,
        if_match=if_match,
        force=force,
    )
