"""Test suites and their membership: every query they need.

A suite owns the many-to-many with test cases: its ordered `test_case_ids`. Membership changes
are single atomic updates of that array, so concurrent adds and removes never lose each other;
each is a change of the suite (version +1), and one that would change nothing writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from beanie import PydanticObjectId

from api.configurations import service as configuration_service
from api.database.capabilities import Capabilities
from api.errors import Conflict, InvalidInput, NotFound, ProblemFieldError
from api.query import RawPage, find_page
from api.query.crud import (
    IfMatch,
    check_if_match,
    conditional_update,
    delete_or_404,
    get_or_404,
    insert,
    update_fields,
)
from api.query.listing import find_members_page
from api.suites.params import SuiteListParams, SuiteTestListParams
from api.suites.schemas import MAX_CASES_PER_SUITE, SuiteCreate, SuiteUpdate
from documents.test_defs import TestCase, TestSuite

SUITE = "test suite"
_MEMBERSHIP_ATTEMPTS = 3


async def _ensure_references_exist(values: Mapping[str, Any]) -> None:
    await configuration_service.check_references(
        browser_configuration_id=values.get("browser_configuration_id"),
        environment_id=values.get("environment_id"),
    )


async def _ensure_cases_exist(ids: Sequence[PydanticObjectId]) -> None:
    """422 listing every id that is not a test case (one `$in` query)."""
    cursor = TestCase.get_pymongo_collection().find({"_id": {"$in": list(ids)}}, {"_id": 1})
    found = {doc["_id"] async for doc in cursor}
    missing = [(index, id) for index, id in enumerate(ids) if id not in found]
    if missing:
        raise InvalidInput(
            f"test cases do not exist: {', '.join(str(id) for _, id in missing)}",
            errors=[
                ProblemFieldError(
                    location=f"body.test_case_ids.{index}", message=f"test case {id} does not exist"
                )
                for index, id in missing
            ],
        )


async def create_suite(*, data: SuiteCreate) -> TestSuite:
    await _ensure_references_exist(data.model_dump())
    if data.test_case_ids:
        await _ensure_cases_exist(data.test_case_ids)
    return await insert(TestSuite(**data.model_dump()), label=SUITE)


async def get_suite(*, id: PydanticObjectId) -> TestSuite:
    return await get_or_404(TestSuite, id, label=SUITE)


async def list_suites(*, params: SuiteListParams, capabilities: Capabilities) -> RawPage:
    return await find_page(TestSuite, params, capabilities=capabilities)


async def update_suite(*, id: PydanticObjectId, data: SuiteUpdate, if_match: IfMatch) -> TestSuite:
    changes = data.changes()
    await _ensure_references_exist(changes)
    return await update_fields(TestSuite, id, changes, label=SUITE, if_match=if_match)


async def delete_suite(*, id: PydanticObjectId, if_match: IfMatch) -> None:
    """Delete the suite only: its test cases stay, as they may belong to other suites."""
    await delete_or_404(TestSuite, id, label=SUITE, if_match=if_match)


async def list_suite_tests(*, id: PydanticObjectId, params: SuiteTestListParams) -> RawPage:
    """The suite's test cases in suite order, one page of them (its cost is the page's)."""
    page = await find_members_page(
        TestSuite, id, TestCase, field="test_case_ids", params=params, order=params.order
    )
    if page is None:
        raise NotFound(f"{SUITE} {id} does not exist")
    return page


async def _update_members(
    id: PydanticObjectId,
    update: dict[str, Any],
    *,
    if_match: IfMatch,
    changes_something: dict[str, Any],
) -> TestSuite:
    """Apply a membership update only where `changes_something` holds; else return the suite."""
    updated = await conditional_update(
        TestSuite, id, update, label=SUITE, if_match=if_match, guard=changes_something
    )
    return updated or await get_suite(id=id)


async def add_tests(
    *, id: PydanticObjectId, test_case_ids: Sequence[PydanticObjectId], if_match: IfMatch
) -> TestSuite:
    """Append the cases not yet in the suite, in the order given; all must exist.

    A suite holds at most `MAX_CASES_PER_SUITE` cases (422 naming the limit, nothing written).
    While there is room for every id sent, the add is one atomic `$addToSet` whose filter keeps
    that room, as concurrent as any other; near the limit, it adds exactly the ids the suite
    lacks, to the suite as read (its version), reading again if it changed meanwhile (409 after
    a few tries).
    """
    suite = await get_suite(id=id)
    await _ensure_cases_exist(test_case_ids)
    ids = list(test_case_ids)
    for _ in range(_MEMBERSHIP_ATTEMPTS):
        check_if_match(suite, if_match, label=SUITE)
        held = set(suite.test_case_ids)
        new = [case_id for case_id in ids if case_id not in held]
        if not new:
            return suite
        if len(held) + len(new) > MAX_CASES_PER_SUITE:
            raise InvalidInput.at(
                "body.test_case_ids",
                f"{SUITE} {id} holds {len(held):,} test cases; adding {len(new):,} would make "
                f"{len(held) + len(new):,}, more than the {MAX_CASES_PER_SUITE:,} a suite may hold",
            )
        guard: dict[str, Any]
        if len(held) + len(ids) <= MAX_CASES_PER_SUITE:
            # Room for every id whatever is added meanwhile: one atomic add, kept by its filter.
            adding = ids
            guard = {
                "$or": [{"test_case_ids": {"$ne": case_id}} for case_id in ids],  # a change
                f"test_case_ids.{MAX_CASES_PER_SUITE - len(ids)}": {"$exists": False},
            }
        else:
            # Near the limit: exactly the ids it lacks, to the suite as it was read (at a version
            # If-Match accepts: checked above).
            adding, guard = new, {"version": suite.version}
        updated = await conditional_update(
            TestSuite,
            id,
            {"$addToSet": {"test_case_ids": {"$each": adding}}},
            label=SUITE,
            if_match=if_match,
            guard=guard,
        )
        if updated is not None:
            return updated
        suite = await get_suite(id=id)  # it changed since it was read: look again
    raise Conflict(f"{SUITE} {id} kept changing while these test cases were being added: retry")


async def remove_tests(
    *, id: PydanticObjectId, test_case_ids: Sequence[PydanticObjectId], if_match: IfMatch
) -> TestSuite:
    """Remove the cases from the suite; ids it does not hold are ignored."""
    ids = list(test_case_ids)
    return await _update_members(
        id,
        {"$pull": {"test_case_ids": {"$in": ids}}},
        if_match=if_match,
        changes_something={"test_case_ids": {"$in": ids}},
    )
