"""Browser configurations and test environments."""

from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from documents.base import VersionedDocument, sort_indexes


class BrowserName(StrEnum):
    CHROMIUM = "chromium"
    CHROME = "chrome"
    FIREFOX = "firefox"
    WEBKIT = "webkit"
    EDGE = "edge"


class Viewport(BaseModel):
    width: int = Field(default=1280, ge=1, le=16384)
    height: int = Field(default=720, ge=1, le=16384)


class BrowserSettings(BaseModel):
    """How to launch a browser: what a configuration stores and what a run snapshots."""

    name: str
    browser: BrowserName
    version: str | None = None
    headless: bool = True
    viewport: Viewport = Field(default_factory=Viewport)
    device_scale_factor: float = 1.0
    user_agent: str | None = None
    locale: str = "en-US"
    timezone: str = "UTC"
    args: list[str] = Field(default_factory=list)


class BrowserConfiguration(VersionedDocument, BrowserSettings):
    # `version` is the browser's own version; the change counter (the ETag) is `revision`.
    version_field: ClassVar[str] = "revision"

    is_default: bool = False
    revision: int = Field(default=1, ge=1)

    class Settings:
        name = "browser_configurations"
        indexes = [
            IndexModel([("name", ASCENDING)], name="name_unique", unique=True),
            # At most one default: the database itself refuses a second one.
            IndexModel(
                [("is_default", ASCENDING)],
                name="single_default",
                unique=True,
                partialFilterExpression={"is_default": True},
            ),
            IndexModel(
                [("browser", ASCENDING), ("created_at", DESCENDING)], name="browser_created"
            ),
            # m0005: every sort of the list.
            *sort_indexes("name", "browser", "created_at", "updated_at"),
        ]


class EnvironmentVariable(BaseModel):
    name: str
    value: str
    secret: bool = False


class TestEnvironment(VersionedDocument):
    __test__ = False  # not a pytest test class

    name: str
    base_url: str
    description: str | None = None
    is_active: bool = True
    variables: list[EnvironmentVariable] = Field(default_factory=list)
    version: int = Field(default=1, ge=1)

    class Settings:
        name = "test_environments"
        indexes = [
            IndexModel([("name", ASCENDING)], name="name_unique", unique=True),
            IndexModel(
                [("is_active", ASCENDING), ("created_at", DESCENDING)], name="active_created"
            ),
            # m0005: every sort of the list.
            *sort_indexes("name", "created_at", "updated_at"),
        ]
