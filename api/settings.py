"""Service settings, read once from the environment."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service reads from its environment.

    `mongodb_uri` unset means "no external database": the CLI then starts the embedded engine and
    passes its URI in explicitly, so the app itself only ever sees a URI.
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    mongodb_uri: str | None = Field(default=None, description="MongoDB connection string.")
    mongodb_db: str = Field(
        default="jbtestsuite", min_length=1, max_length=63, pattern=r"^[A-Za-z0-9_-]+$"
    )
    data_dir: Path | None = Field(
        default=None,
        validation_alias="JBTS_DATA_DIR",
        description="Embedded engine only: keep data in an SQLite file in this directory.",
    )
    server_selection_timeout_ms: int = Field(
        default=5000, ge=100, validation_alias="JBTS_SERVER_SELECTION_TIMEOUT_MS"
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
