"""Test templates and their instantiation into test cases: every query they need.

Every placeholder a template's steps use names one of its parameters: checked on create and on
every update that changes either list, so instantiation never meets an unknown placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from beanie import PydanticObjectId
from pydantic import ValidationError
from pymongo.asynchronous.collection import AsyncCollection

from api.errors import InvalidInput, NotFound, ProblemFieldError
from api.query import RawPage, find_page
from api.query.crud import IfMatch, delete_or_404, get_or_404, insert, update_fields
from api.templates.params import TemplateListParams
from api.templates.placeholders import TEMPLATED_FIELDS, placeholders, substitute
from api.templates.schemas import InstantiateRequest, TemplateCreate, TemplateUpdate
from api.test_defs import service as case_service
from api.test_defs.schemas import StepInput, TestCaseCreate
from documents.test_defs import TemplateParameter, TemplateStep, TestCase, TestTemplate

TEMPLATE = "test template"
_INSTANCE_FIELDS = ("description", "priority", "tags", "owner", "automation_key")


def _collection() -> AsyncCollection[dict[str, Any]]:
    collection: AsyncCollection[dict[str, Any]] = TestTemplate.get_pymongo_collection()
    return collection


def _template_steps(steps: Sequence[StepInput]) -> list[TemplateStep]:
    """Steps as stored: `order` 1..n."""
    return [
        TemplateStep(order=position, **step.model_dump())
        for position, step in enumerate(steps, start=1)
    ]


def _undeclared(
    parameters: Sequence[TemplateParameter], steps: Sequence[TemplateStep]
) -> list[tuple[int, str, list[str]]]:
    """Each step field using placeholders no parameter declares: (step index, field, names)."""
    declared = {parameter.name for parameter in parameters}
    found: list[tuple[int, str, list[str]]] = []
    for index, step in enumerate(steps):
        for field in TEMPLATED_FIELDS:
            unknown = [name for name in placeholders(getattr(step, field)) if name not in declared]
            if unknown:
                found.append((index, field, unknown))
    return found


def _braced(names: Sequence[str]) -> str:
    return ", ".join("{{" + name + "}}" for name in names)


def _check_placeholders(
    parameters: Sequence[TemplateParameter],
    steps: Sequence[TemplateStep],
    *,
    steps_sent: bool,
) -> None:
    """422 for placeholders that name no parameter, at the step field that uses them.

    When the steps were not in the request (an update of the parameters only), the error is on
    `body.parameters`: it is the parameters sent that no longer declare what the steps use.
    """
    errors: list[ProblemFieldError] = []
    for index, field, names in _undeclared(parameters, steps):
        if steps_sent:
            location = f"body.steps.{index}.{field}"
            message = f"unknown placeholder(s) {_braced(names)}: declare a parameter of that name"
        else:
            location = "body.parameters"
            message = f"steps.{index}.{field} uses {_braced(names)}, which no parameter declares"
        errors.append(ProblemFieldError(location=location, message=message))
    if errors:
        raise InvalidInput.listing(errors)


async def create_template(*, data: TemplateCreate) -> TestTemplate:
    parameters = [TemplateParameter(**parameter.model_dump()) for parameter in data.parameters]
    steps = _template_steps(data.steps)
    _check_placeholders(parameters, steps, steps_sent=True)
    template = TestTemplate(
        **data.model_dump(exclude={"parameters", "steps"}), parameters=parameters, steps=steps
    )
    return await insert(template, label=TEMPLATE)


async def get_template(*, id: PydanticObjectId) -> TestTemplate:
    return await get_or_404(TestTemplate, id, label=TEMPLATE)


async def list_templates(*, params: TemplateListParams) -> RawPage:
    return await find_page(TestTemplate, params)


async def update_template(
    *, id: PydanticObjectId, data: TemplateUpdate, if_match: IfMatch
) -> TestTemplate:
    """Change the fields sent, in one atomic update (`version` +1).

    A change of `parameters` or `steps` is checked against the stored other list, and applies
    only while that list is still the one checked: a concurrent change of it is a 409, never a
    template whose steps use a parameter it does not declare.
    """
    changes = data.changes()
    guard: dict[str, Any] = {}
    if data.parameters is not None or data.steps is not None:
        current = await _collection().find_one({"_id": id}, {"parameters": 1, "steps": 1})
        if current is None:
            raise NotFound(f"{TEMPLATE} {id} does not exist")
        if data.parameters is None:
            guard["parameters"] = current["parameters"]
            parameters = [TemplateParameter.model_validate(p) for p in current["parameters"]]
        else:
            parameters = [TemplateParameter(**p.model_dump()) for p in data.parameters]
        if data.steps is None:
            guard["steps"] = current["steps"]
            steps = [TemplateStep.model_validate(step) for step in current["steps"]]
        else:
            steps = _template_steps(data.steps)
            changes["steps"] = [step.model_dump() for step in steps]
        _check_placeholders(parameters, steps, steps_sent=data.steps is not None)
    return await update_fields(
        TestTemplate, id, changes, label=TEMPLATE, if_match=if_match, guard=guard
    )


async def delete_template(*, id: PydanticObjectId, if_match: IfMatch) -> None:
    """Delete a template. Cases made from it stay, and keep its id as `template_id`."""
    await delete_or_404(TestTemplate, id, label=TEMPLATE, if_match=if_match)


# -- instantiation ---------------------------------------------------------------------------


def parameter_values(
    parameters: Sequence[TemplateParameter], given: Mapping[str, str]
) -> dict[str, str]:
    """The value of every declared parameter: the one given, else its default.

    422 naming each given name the template does not declare and each parameter missing a value.
    """
    declared = {parameter.name: parameter for parameter in parameters}
    errors = [
        ProblemFieldError(
            location=f"body.parameters.{name}",
            message=f"unknown parameter {name}; the template declares: "
            + (", ".join(declared) or "none"),
        )
        for name in given
        if name not in declared
    ]
    values: dict[str, str] = {}
    for name, parameter in declared.items():
        value = given.get(name, parameter.default)
        if value is None:
            errors.append(
                ProblemFieldError(
                    location=f"body.parameters.{name}",
                    message=f"parameter {name} needs a value: the template gives it no default",
                )
            )
        else:
            values[name] = value
    if errors:
        raise InvalidInput.listing(errors)
    return values


def _case_data(
    template: TestTemplate, data: InstantiateRequest, values: Mapping[str, str]
) -> TestCaseCreate:
    steps = [
        {
            **step.model_dump(exclude={"order"}),
            **{field: substitute(getattr(step, field), values) for field in TEMPLATED_FIELDS},
        }
        for step in template.steps
    ]
    fields = data.model_dump(include=set(_INSTANCE_FIELDS), exclude_none=True)
    fields.setdefault("description", template.description)
    try:
        return TestCaseCreate.model_validate({"name": data.name, **fields, "steps": steps})
    except ValidationError as exc:
        # The values fit their own limits, but a step they were put into may now be too long.
        errors = [
            ProblemFieldError(
                location="body.parameters",
                message="with these values, "
                + ".".join(str(part) for part in error["loc"])
                + f" is invalid: {error['msg']}",
            )
            for error in exc.errors()
        ]
        raise InvalidInput("; ".join(e.message for e in errors), errors=errors) from None


async def instantiate_template(*, id: PydanticObjectId, data: InstantiateRequest) -> TestCase:
    """A new test case from the template's steps, every placeholder filled in."""
    template = await get_template(id=id)
    values = parameter_values(template.parameters, data.parameters)
    return await case_service.create_case(
        data=_case_data(template, data, values), template_id=template.id
    )
