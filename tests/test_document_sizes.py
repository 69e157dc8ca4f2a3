"""Every document a client can write stays far below MongoDB's 16 MiB, whatever it sends.

Each test builds the largest document of one kind that the API's bounds allow (every string at the
`maxLength` the API's own schema documents, in 4-byte characters; every list at its `maxItems`, or
as full as its byte budget lets it be), encodes it as MongoDB stores it and checks its size. A test
of the bounds, not of a database: widen a bound and the document grows here too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bson
import httpx
import pytest
from beanie import Document, PydanticObjectId, init_beanie
from pydantic import BaseModel
from pymongo import AsyncMongoClient

from api.configurations.schemas import BrowserCreate, EnvironmentCreate
from api.executions.schemas import (
    MAX_STEP_RESULTS,
    ErrorInput,
    ExecutionUpdate,
    StepResultInput,
)
from api.limits import MAX_LIST_BYTES, MONGODB_MAX_DOCUMENT_BYTES, list_size
from api.suites.schemas import MAX_CASES_PER_SUITE, SuiteCreate
from api.templates.schemas import ParameterInput, TemplateCreate, TemplateStepInput
from api.test_defs.schemas import StepInput, TestCaseCreate
from documents import ALL_DOCUMENTS
from documents.configurations import (
    BrowserConfiguration,
    BrowserName,
    EnvironmentVariable,
    TestEnvironment,
    Viewport,
)
from documents.executions import (
    CaseSnapshot,
    ExecutionError,
    ExecutionStatus,
    StepStatus,
    TestExecution,
    TestStepExecution,
)
from documents.test_defs import (
    StepAction,
    TemplateParameter,
    TemplateStep,
    TestCase,
    TestStep,
    TestSuite,
    TestTemplate,
)
from tests.api.helpers import assert_invalid

WIDE = "\U0001d11e"  # 𝄞: 4 bytes in UTF-8, as BSON stores strings; no character takes more
HEADROOM = 6 * 1024 * 1024
"""How far below MongoDB's limit the largest document of every kind stays, at least."""


def bound(model: type[BaseModel], *path: str) -> int:
    """The `maxLength` or `maxItems` the API's JSON schema gives at `path` ("[]": the items)."""
    schema = model.model_json_schema()
    node: dict[str, Any] = schema
    for part in path:
        node = node["items"] if part == "[]" else node["properties"][part]
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        if "anyOf" in node:  # optional: the option that is not null
            node = next(option for option in node["anyOf"] if option.get("type") != "null")
    limit = node.get("maxLength", node.get("maxItems"))
    assert isinstance(limit, int), f"{model.__name__}.{'.'.join(path)} has no bound"
    return limit


def wide(model: type[BaseModel], *path: str) -> str:
    """The longest string the API takes at `path`, in 4-byte characters."""
    return WIDE * bound(model, *path)


def filled(field: str, make: Callable[[int], dict[str, Any]], most: int) -> list[dict[str, Any]]:
    """Items from `make(index)`, as many as fit in `MAX_LIST_BYTES` (and at most `most`)."""
    items: list[dict[str, Any]] = []
    while len(items) < most and list_size(field, [*items, make(len(items))]) <= MAX_LIST_BYTES:
        items.append(make(len(items)))
    return items


def stored_size(document: Document) -> int:
    """The document's size as MongoDB stores it."""
    document.id = PydanticObjectId()
    return len(bson.encode(document.model_dump(by_alias=True, exclude={"revision_id"})))


def assert_far_below_the_limit(size: int) -> None:
    assert size <= MONGODB_MAX_DOCUMENT_BYTES - HEADROOM, f"{size:,} bytes"


def widest_step(model: type[StepInput]) -> dict[str, Any]:
    return {
        "action": StepAction.EXECUTE_SCRIPT,
        **{name: wide(model, name) for name in ("selector", "value", "description", "expected")},
    }


@pytest.fixture(autouse=True)
async def documents_bound(mongo: AsyncMongoClient[Any], db_name: str) -> None:
    """Beanie documents exist only bound to a database (nothing is written to it)."""
    await init_beanie(database=mongo[db_name], document_models=ALL_DOCUMENTS, skip_indexes=True)


class TestLargestDocuments:
    async def test_a_test_case(self) -> None:
        step = widest_step(StepInput)
        steps = filled(
            "steps",
            lambda _: TestStep(**step).model_dump(),
            bound(TestCaseCreate, "steps"),
        )
        case = TestCase(
            name=wide(TestCaseCreate, "name"),
            description=wide(TestCaseCreate, "description"),
            tags=[wide(TestCaseCreate, "tags", "[]")] * bound(TestCaseCreate, "tags"),
            preconditions=wide(TestCaseCreate, "preconditions"),
            expected_result=wide(TestCaseCreate, "expected_result"),
            target_url="https://" + WIDE * (bound(TestCaseCreate, "target_url") - 8),
            owner=wide(TestCaseCreate, "owner"),
            automation_key=wide(TestCaseCreate, "automation_key"),
            template_id=PydanticObjectId(),
            browser_configuration_id=PydanticObjectId(),
            environment_id=PydanticObjectId(),
            version=2**62,
            steps=[TestStep.model_validate(stored) for stored in steps],
        )

        # 65 of the widest steps fit in the budget: far fewer than the 500 allowed by count.
        assert 0 < len(steps) < bound(TestCaseCreate, "steps")
        assert_far_below_the_limit(stored_size(case))

    async def test_a_test_suite(self) -> None:
        suite = TestSuite(
            name=wide(SuiteCreate, "name"),
            description=wide(SuiteCreate, "description"),
            tags=[wide(SuiteCreate, "tags", "[]")] * bound(SuiteCreate, "tags"),
            test_case_ids=[PydanticObjectId() for _ in range(MAX_CASES_PER_SUITE)],
            browser_configuration_id=PydanticObjectId(),
            environment_id=PydanticObjectId(),
            version=2**62,
        )

        assert_far_below_the_limit(stored_size(suite))

    async def test_a_test_template(self) -> None:
        step = widest_step(TemplateStepInput)
        longest_name = bound(ParameterInput, "name")

        def parameter(index: int) -> dict[str, Any]:
            return {
                "name": f"p{index:03}".ljust(longest_name, "_"),  # an identifier, unique
                "description": wide(ParameterInput, "description"),
                "default": wide(ParameterInput, "default"),
            }

        template = TestTemplate(
            name=wide(TemplateCreate, "name"),
            description=wide(TemplateCreate, "description"),
            category=wide(TemplateCreate, "category"),
            parameters=[
                TemplateParameter.model_validate(p)
                for p in filled("parameters", parameter, bound(TemplateCreate, "parameters"))
            ],
            steps=[
                TemplateStep.model_validate(s)
                for s in filled(
                    "steps",
                    lambda _: TemplateStep(**step).model_dump(),
                    bound(TemplateCreate, "steps"),
                )
            ],
            version=2**62,
        )

        assert_far_below_the_limit(stored_size(template))

    async def test_a_browser_configuration(self) -> None:
        browser = BrowserConfiguration(
            name=wide(BrowserCreate, "name"),
            browser=BrowserName.CHROMIUM,
            version=wide(BrowserCreate, "version"),
            viewport=Viewport(width=16384, height=16384),
            device_scale_factor=10.0,
            user_agent=wide(BrowserCreate, "user_agent"),
            locale="a" * bound(BrowserCreate, "locale"),  # ASCII letters, by its pattern
            timezone=wide(BrowserCreate, "timezone"),
            args=[wide(BrowserCreate, "args", "[]")] * bound(BrowserCreate, "args"),
            is_default=True,
            revision=2**62,
        )

        assert_far_below_the_limit(stored_size(browser))

    async def test_a_test_environment(self) -> None:
        longest_name = bound(EnvironmentCreate, "variables", "[]", "name")

        def variable(index: int) -> dict[str, Any]:
            return {
                "name": f"V{index:03}".ljust(longest_name, "_"),
                "value": wide(EnvironmentCreate, "variables", "[]", "value"),
                "secret": True,
            }

        environment = TestEnvironment(
            name=wide(EnvironmentCreate, "name"),
            # A URL's non-ASCII characters are stored percent-encoded: 12 bytes for a 4-byte one.
            base_url="https://x/" + "%F0%9D%84%9E" * bound(EnvironmentCreate, "base_url"),
            description=wide(EnvironmentCreate, "description"),
            variables=[
                EnvironmentVariable.model_validate(v)
                for v in filled("variables", variable, bound(EnvironmentCreate, "variables"))
            ],
            version=2**62,
        )

        assert_far_below_the_limit(stored_size(environment))

    async def test_the_bounds_alone_would_not_do(self) -> None:
        """Why steps and variables also have a byte budget: by their counts and lengths alone,
        a case could reach 32 MB and an environment 20 MB."""
        steps = [TestStep(**widest_step(StepInput)).model_dump()] * bound(TestCaseCreate, "steps")
        variables = [
            {"name": "V", "value": wide(EnvironmentCreate, "variables", "[]", "value")}
        ] * bound(EnvironmentCreate, "variables")

        assert list_size("steps", steps) > MONGODB_MAX_DOCUMENT_BYTES
        assert list_size("variables", variables) > MONGODB_MAX_DOCUMENT_BYTES

    async def test_an_execution(self) -> None:
        """The largest case's snapshot beside step results as full as their budget lets them be,
        and the widest error."""
        step = widest_step(StepInput)
        snapshot_steps = filled(
            "steps", lambda _: TestStep(**step).model_dump(), bound(TestCaseCreate, "steps")
        )
        widest_error = {
            "message": wide(ErrorInput, "message"),
            "type": wide(ErrorInput, "type"),
            "stack": wide(ErrorInput, "stack"),
            "signature": wide(ErrorInput, "signature"),
        }

        def result(index: int) -> dict[str, Any]:
            return TestStepExecution(
                step_id=f"s{index:03}".ljust(bound(StepResultInput, "step_id"), "_"),
                order=index,
                action=StepAction.EXECUTE_SCRIPT,
                status=StepStatus.FAILED,
                error=ExecutionError(**widest_error),
                actual_value=wide(StepResultInput, "actual_value"),
                screenshot_ids=[PydanticObjectId()] * bound(StepResultInput, "screenshot_ids"),
            ).model_dump()

        results = filled("steps", result, MAX_STEP_RESULTS)
        execution = TestExecution(
            run_id=PydanticObjectId(),
            test_case_id=PydanticObjectId(),
            test_case=CaseSnapshot(
                version=2**62,
                name=wide(TestCaseCreate, "name"),
                automation_key=wide(TestCaseCreate, "automation_key"),
                tags=[wide(TestCaseCreate, "tags", "[]")] * bound(TestCaseCreate, "tags"),
                steps=[TestStep.model_validate(stored) for stored in snapshot_steps],
            ),
            status=ExecutionStatus.FAILED,
            error=ExecutionError(**widest_error),
            worker=wide(ExecutionUpdate, "worker"),
            steps=[TestStepExecution.model_validate(stored) for stored in results],
        )

        assert 0 < len(results) < MAX_STEP_RESULTS
        assert_far_below_the_limit(stored_size(execution))


EXECUTIONS = "/api/v1/executions"


async def an_execution(client: httpx.AsyncClient, steps: int) -> dict[str, Any]:
    """The queued execution of a case with this many steps, in a run of its own."""
    body = [{"action": "click", "selector": f"#b{n}"} for n in range(steps)]
    case = await client.post("/api/v1/tests", json={"name": "long", "steps": body})
    assert case.status_code == 201, case.text
    run = await client.post(
        f"{EXECUTIONS}/runs", json={"name": "big", "test_case_ids": [case.json()["id"]]}
    )
    assert run.status_code == 201, run.text
    listed = await client.get(EXECUTIONS, params={"run_id": run.json()["id"]})
    (execution,) = listed.json()["items"]
    found: dict[str, Any] = execution
    return found


def widest_result() -> dict[str, Any]:
    """A step result with its strings at their `maxLength`s in 4-byte characters (~280 KB)."""
    return {
        "status": "failed",
        "error": {"message": wide(ErrorInput, "message"), "stack": wide(ErrorInput, "stack")},
        "actual_value": wide(StepResultInput, "actual_value"),
    }


class TestExecutionStepResults:
    """Step results reported over several requests, each under the body limit, could add up past
    16 MiB (the embedded engine would store it; MongoDB would refuse the update): their total is
    bounded, checked before each write."""

    async def test_results_adding_up_past_16_mib_are_refused_and_change_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        per_request, requests = 13, 5
        execution = await an_execution(client, per_request * requests)
        url = f"{EXECUTIONS}/{execution['id']}"
        step_ids = [step["step_id"] for step in execution["steps"]]
        widest = widest_result()
        bodies = [
            {"steps": [{"step_id": id, **widest} for id in step_ids[n::requests]]}
            for n in range(requests)
        ]
        sizes = [len(httpx.Request("POST", url, json=body).content) for body in bodies]
        assert sum(sizes) > MONGODB_MAX_DOCUMENT_BYTES  # together: past MongoDB's limit
        assert max(sizes) < 5 * 1024 * 1024  # each: within the default body limit
        assert MAX_LIST_BYTES * 0.8 < sizes[0] < MAX_LIST_BYTES  # the first fits the budget

        first = await client.post(f"{url}/steps", json=bodies[0])
        assert first.status_code == 200, first.text[:500]
        for body in bodies[1:]:
            before = (await client.get(url)).json()
            response = await client.post(f"{url}/steps", json=body)
            problem = assert_invalid(response, "body.steps")
            assert f"{MAX_LIST_BYTES:,}" in problem["detail"]
            assert (await client.get(url)).json() == before  # nothing written

        # The budget is on the total: smaller results still replace and add.
        small = {"status": "passed"}
        again = await client.post(
            f"{url}/steps", json={"steps": [{"step_id": id, **small} for id in step_ids]}
        )
        assert again.status_code == 200, again.text[:500]
        assert {step["status"] for step in again.json()["steps"]} == {"passed"}

    async def test_a_bulk_report_over_the_budget_fails_alone_and_writes_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        execution = await an_execution(client, 16)  # 16 of the widest: past 4 MiB
        widest = widest_result()
        result = {
            "run_id": execution["run_id"],
            "test_case_id": execution["test_case_id"],
            "status": "failed",
            "error": {"message": "boom"},
            "steps": [{"step_id": step["step_id"], **widest} for step in execution["steps"]],
        }
        for attempt, what in [(1, "an update"), (2, "a new execution")]:
            response = await client.post(
                f"{EXECUTIONS}/bulk", json={"results": [{**result, "attempt": attempt}]}
            )
            assert response.status_code == 200, response.text[:500]
            (outcome,) = response.json()["results"]
            assert outcome["status"] == "failed", what
            assert outcome["error"]["status"] == 422, what
            assert [e["location"] for e in outcome["error"]["errors"]] == ["body.results.0.steps"]
            assert f"{MAX_LIST_BYTES:,}" in outcome["error"]["detail"]
        listed = await client.get(EXECUTIONS, params={"run_id": execution["run_id"]})
        assert listed.json()["items"] == [execution]  # no second attempt, the first unchanged
