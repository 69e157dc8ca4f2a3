"""Request and response bodies of browser configurations and test environments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, ClassVar, Self

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    model_validator,
)

from api.errors import Problem
from api.limits import MAX_LIST_BYTES, mebibytes
from api.schemas import (
    Flag,
    InputModel,
    JsonInteger,
    Name,
    Number,
    ObjectIdStr,
    ReadModel,
    UpdateModel,
)
from documents.configurations import BrowserName, TestEnvironment, Viewport

Locale = Annotated[
    str, Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35, examples=["en-US"])
]
Timezone = Annotated[str, Field(min_length=1, max_length=64, examples=["Europe/Berlin"])]
ScaleFactor = Annotated[Number, Field(gt=0, le=10, examples=[1.0])]
Pixels = Annotated[int, Field(ge=1, le=16384), JsonInteger]
BrowserArgs = Annotated[list[Annotated[str, Field(max_length=500)]], Field(max_length=100)]
_HTTP_URL: TypeAdapter[AnyHttpUrl] = TypeAdapter(AnyHttpUrl)


def _http_url(value: str) -> str:
    return str(_HTTP_URL.validate_python(value))


BaseUrl = Annotated[
    str,
    Field(max_length=2000, examples=["https://staging.example.com/"]),
    AfterValidator(_http_url),
]
VariableName = Annotated[
    str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128, examples=["API_TOKEN"])
]


BROWSER_VERSION = (
    "The browser's own version, e.g. `126`. Not a change counter: that is `revision`, the `ETag`."
)
REVISION = (
    "Grows by one with every change of the configuration (also when another one becomes the "
    'default); the `ETag` is this number in quotes, e.g. `"3"`.'
)
VERSION = 'Grows by one with every change; the `ETag` is this number in quotes, e.g. `"3"`.'
VARIABLES_SIZE = (
    f"At most 500 variables, together at most {mebibytes(MAX_LIST_BYTES)} as stored (a value "
    "counts up to 4 bytes per character)."
)


class ViewportInput(Viewport):
    """A viewport in a request body: an unknown (e.g. misspelt) field is refused, not dropped."""

    model_config = ConfigDict(extra="forbid")

    width: Pixels = 1280
    height: Pixels = 720


class ViewportPatch(UpdateModel):
    """The viewport dimensions to change; the one not sent keeps its value."""

    width: Pixels | None = None
    height: Pixels | None = None


class BrowserCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Chrome desktop 1440",
                    "browser": "chrome",
                    "version": "126",
                    "headless": True,
                    "viewport": {"width": 1440, "height": 900},
                    "locale": "en-US",
                    "timezone": "Europe/Berlin",
                    "args": ["--disable-gpu"],
                    "is_default": True,
                }
            ]
        }
    )

    name: Name
    browser: BrowserName
    version: str | None = Field(
        default=None, max_length=64, examples=["126"], description=BROWSER_VERSION
    )
    headless: Flag = True
    viewport: ViewportInput = Field(default_factory=ViewportInput)
    device_scale_factor: ScaleFactor = 1.0
    user_agent: str | None = Field(default=None, max_length=1000)
    locale: Locale = "en-US"
    timezone: Timezone = "UTC"
    args: BrowserArgs = Field(default_factory=list)
    is_default: Flag = Field(
        default=False,
        description="Make this the default configuration; the previous default stops being one.",
    )


class BrowserUpdate(UpdateModel):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"version", "user_agent"})

    name: Name | None = None
    browser: BrowserName | None = None
    version: str | None = Field(default=None, max_length=64, description=BROWSER_VERSION)
    headless: Flag | None = None
    viewport: ViewportPatch | None = None
    device_scale_factor: ScaleFactor | None = None
    user_agent: str | None = Field(default=None, max_length=1000)
    locale: Locale | None = None
    timezone: Timezone | None = None
    args: BrowserArgs | None = None
    is_default: Flag | None = None


class BrowserRead(ReadModel):
    """A browser configuration."""

    name: str
    browser: BrowserName
    version: str | None = Field(description=BROWSER_VERSION)
    headless: bool
    viewport: Viewport
    device_scale_factor: float
    user_agent: str | None
    locale: str
    timezone: str
    args: list[str]
    is_default: bool
    revision: int = Field(ge=1, description=REVISION)


class VariableInput(InputModel):
    """A variable as a PATCH sends it: a secret sent without `value` keeps the one it has."""

    name: VariableName
    value: str | None = Field(
        default=None,
        max_length=10_000,
        description="Required, except for a secret variable that already exists: sent without a "
        "value, it keeps the value it has.",
    )
    secret: Flag = False


class VariableCreate(VariableInput):
    """A variable of a new environment: every one has its value."""

    value: str = Field(max_length=10_000)


def _unique_names(variables: Sequence[VariableInput]) -> None:
    names = [variable.name for variable in variables]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"variable names must be unique; repeated: {', '.join(duplicates)}")


class EnvironmentCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "staging",
                    "base_url": "https://staging.example.com/",
                    "description": "Nightly deploy of main",
                    "is_active": True,
                    "variables": [
                        {"name": "LOCALE", "value": "en-US"},
                        {"name": "API_TOKEN", "value": "s3cr3t", "secret": True},
                    ],
                }
            ]
        }
    )

    name: Name
    base_url: BaseUrl
    description: str | None = Field(default=None, max_length=5000)
    is_active: Flag = True
    variables: list[VariableCreate] = Field(
        default_factory=list, max_length=500, description=VARIABLES_SIZE
    )

    @model_validator(mode="after")
    def _variables_unique(self) -> Self:
        _unique_names(self.variables)
        return self


class EnvironmentUpdate(UpdateModel):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"description"})

    name: Name | None = None
    base_url: BaseUrl | None = None
    description: str | None = Field(default=None, max_length=5000)
    is_active: Flag | None = None
    variables: list[VariableInput] | None = Field(
        default=None,
        max_length=500,
        description="Replaces the whole list. A secret sent without `value` keeps its value. "
        + VARIABLES_SIZE,
    )

    @model_validator(mode="after")
    def _variables_unique(self) -> Self:
        if self.variables:
            _unique_names(self.variables)
        return self


class VariableRead(BaseModel):
    name: str
    value: str | None = Field(description="Always null for a secret variable.")
    secret: bool

    @model_validator(mode="after")
    def _mask_secret(self) -> Self:
        # The one place a stored variable becomes API output: a secret never leaves in clear.
        if self.secret:
            self.value = None
        return self


class EnvironmentRead(ReadModel):
    """A test environment. Secret variable values are returned only to `?reveal=secrets` with
    the scope `secrets:read` (or `admin`)."""

    name: str
    base_url: str
    description: str | None
    is_active: bool
    variables: list[VariableRead]
    version: int = Field(ge=1, description=VERSION)


def revealed(environment: TestEnvironment) -> dict[str, object]:
    """The environment's body with its secret values in clear (`?reveal=secrets`: the one
    exception to `VariableRead`'s masking, for a key with `secrets:read`)."""
    body = EnvironmentRead.of(environment).model_dump(mode="json")
    body["variables"] = [
        {"name": variable.name, "value": variable.value, "secret": variable.secret}
        for variable in environment.variables
    ]
    return body


class ReferenceItem(BaseModel):
    id: ObjectIdStr
    name: str


class References(BaseModel):
    """The resources of one kind that still reference what was to be deleted."""

    kind: str = Field(
        description="`test_case`, `test_suite` or `test_run`.", examples=["test_case"]
    )
    count: int = Field(ge=1, description="How many of that kind reference it.")
    items: list[ReferenceItem] = Field(description="A few of them (at most 5), oldest first.")


class ReferencedProblem(Problem):
    """409 for a delete that would leave references dangling: who still references it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/conflict",
                    "title": "Conflict",
                    "status": 409,
                    "detail": "browser configuration 6650f1c2a7b4e3d2c1b0a998 is still "
                    "referenced by 7 test cases: change those, or delete with ?force=true to "
                    "clear their references too",
                    "references": [
                        {
                            "kind": "test_case",
                            "count": 7,
                            "items": [{"id": "6650f1c2a7b4e3d2c1b0a999", "name": "Log in"}],
                        }
                    ],
                }
            ]
        }
    )

    references: list[References]
