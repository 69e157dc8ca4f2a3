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
        default=2000,
        ge=100,
        le=120_000,
        validation_alias="JBTS_SERVER_SELECTION_TIMEOUT_MS",
        description="How long a request waits for an unavailable database before its 503.",
    )
    connect_timeout_ms: int = Field(
        default=120_000,
        ge=1000,
        le=600_000,
        validation_alias="JBTS_CONNECT_TIMEOUT_MS",
        description="Connection and heartbeat timeout: how long a busy database may take to "
        "answer before the driver declares it down (and interrupts operations in flight).",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
