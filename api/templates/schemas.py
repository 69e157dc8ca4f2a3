"""Request and response bodies of test templates and their instantiation."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.limits import MAX_LIST_BYTES, check_list_size, mebibytes
from api.schemas import InputModel, Name, ReadModel, UpdateModel
from api.templates.placeholders import PARAMETER_NAME
from api.test_defs.schemas import (
    MAX_STEPS,
    STEPS_SIZE,
    AutomationKey,
    StepDefinitionRead,
    StepInput,
    Tags,
    Text,
    steps_fit,
)
from documents.test_defs import Priority, TemplateParameter, TemplateStep

MAX_PARAMETERS = 100

ParameterName = Annotated[
    str,
    Field(
        pattern=f"^{PARAMETER_NAME}$",
        max_length=128,
        description="Referred to in steps as `{{name}}`.",
        examples=["url"],
    ),
]
ParameterValue = Annotated[str, Field(max_length=10_000)]
Category = Annotated[str, Field(min_length=1, max_length=100, examples=["authentication"])]
Owner = Annotated[str, Field(min_length=1, max_length=200)]


class ParameterInput(InputModel):
    name: ParameterName
    description: str | None = Field(default=None, max_length=2000)
    default: ParameterValue | None = Field(
        default=None,
        description="Used when an instantiation gives no value; without one, a value is required.",
    )


def _unique_names(parameters: list[ParameterInput]) -> list[ParameterInput]:
    names = [parameter.name for parameter in parameters]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"parameter names must be unique; repeated: {', '.join(repeated)}")
    return parameters


class TemplateStepInput(StepInput):
    """A template step: the fields of a test case step.

    `selector`, `value`, `description` and `expected` may hold `{{name}}` placeholders, each
    naming one of the template's parameters.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action": "type",
                    "selector": "#username",
                    "value": "{{ username }}",
                    "description": "Enter the user name",
                }
            ]
        }
    )


def _parameters_fit(parameters: list[ParameterInput]) -> list[ParameterInput]:
    """The parameters as stored take at most `MAX_LIST_BYTES` (100 of the longest: 4.8 MB)."""
    stored = [TemplateParameter(**parameter.model_dump()).model_dump() for parameter in parameters]
    check_list_size("the parameters", "parameters", stored)
    return parameters


Parameters = Annotated[
    list[ParameterInput],
    Field(
        max_length=MAX_PARAMETERS,
        description=f"At most {MAX_PARAMETERS} parameters, together at most "
        f"{mebibytes(MAX_LIST_BYTES)} as stored.",
    ),
    AfterValidator(_unique_names),
    AfterValidator(_parameters_fit),
]
TemplateSteps = Annotated[
    list[TemplateStepInput],
    Field(max_length=MAX_STEPS, description=STEPS_SIZE),
    steps_fit(TemplateStep),
]


class TemplateCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Login",
                    "description": "A user signs in through the login form",
                    "category": "authentication",
                    "parameters": [
                        {"name": "url", "description": "The login page"},
                        {"name": "username", "default": "alice"},
                    ],
                    "steps": [
                        {"action": "navigate", "value": "{{url}}"},
                        {"action": "type", "selector": "#username", "value": "{{ username }}"},
                        {"action": "click", "selector": "button[type=submit]"},
                        {"action": "assert_text", "selector": "h1", "expected": "Hi {{username}}"},
                    ],
                }
            ]
        }
    )

    name: Name
    description: Text | None = None
    category: Category | None = None
    parameters: Parameters = Field(default_factory=list)
    steps: TemplateSteps = Field(default_factory=list)


class TemplateUpdate(UpdateModel):
    """The fields to change; `parameters` and `steps` each replace the whole list."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset({"description", "category"})

    name: Name | None = None
    description: Text | None = None
    category: Category | None = None
    parameters: Parameters | None = None
    steps: TemplateSteps | None = None


class ParameterRead(BaseModel):
    name: str
    description: str | None
    default: str | None


class TemplateRead(ReadModel):
    """A test template: parameters, and steps that refer to them as `{{name}}`."""

    name: str
    description: str | None
    category: str | None
    parameters: list[ParameterRead]
    steps: list[StepDefinitionRead]
    version: int = Field(
        ge=1, description="Grows by one with every change; the `ETag` is this number in quotes."
    )


class InstantiateRequest(InputModel):
    """The new test case's name, the parameter values, and optional fields of the case."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Login on staging",
                    "parameters": {"url": "https://staging.example.com/login"},
                    "priority": "high",
                    "tags": ["smoke", "login"],
                }
            ]
        }
    )

    name: Name
    parameters: dict[ParameterName, ParameterValue] = Field(
        default_factory=dict,
        max_length=MAX_PARAMETERS,
        description="A value per parameter, as plain text (never evaluated or expanded again). "
        "A parameter left out takes its default; one without a default must be given.",
    )
    description: Text | None = Field(
        default=None, description="The case's description; default: the template's."
    )
    priority: Priority | None = None
    tags: Tags | None = None
    owner: Owner | None = None
    automation_key: AutomationKey | None = None
